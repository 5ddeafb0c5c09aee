"""The ceiling for bench/webhook_bench.py: a Flask endpoint that only reads the body."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/callback")
def callback() -> tuple[str, int]:
    request.get_data()
    return "OK", 200
