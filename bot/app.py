"""The Flask application: webhook, health check and CLI commands on one Runtime."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify

from bot.config import Settings
from bot.db import ping
from bot.runtime import Runtime, install_runtime


def build_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = Runtime.from_settings(settings or Settings.from_env())
    install_runtime(runtime)

    from bot.cli import register_cli
    from bot.media import bp as media_bp
    from bot.webhook import MAX_BODY_BYTES
    from bot.webhook import bp as webhook_bp
    from console import register_console

    app = Flask("bot")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # LINE bodies are far smaller; 413 past this
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["smartbmn"] = runtime
    app.register_blueprint(webhook_bp)
    app.register_blueprint(media_bp)
    register_cli(app)
    register_console(app, runtime)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        if ping(runtime.engine):
            return jsonify({"status": "ok", "database": "ok"}), 200
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
        )
    return app
