"""`make run`'s processes for real: gunicorn web, huey worker and simulator on SQLite."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from bot.config import PROJECT_ROOT

USER = "U" + "e" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_devrun_serves_a_thai_greeting_through_the_simulator(tmp_path: Path):
    port, sim_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "HUEY_SQLITE_PATH": str(tmp_path / "huey.db"),
        "PORT": str(port),
        "SIM_PORT": str(sim_port),
        "WEB_CONCURRENCY": "1",
        "DOTENV_PATH": str(tmp_path / "none.env"),
    }
    for name in (
        "QUEUE_IMMEDIATE",
        "LINE_CHANNEL_SECRET",
        "LINE_CHANNEL_ACCESS_TOKEN",
        "LINE_API_BASE",
    ):
        env.pop(name, None)
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "flask"), "--app", "bot", "db", "upgrade"],
        env=env,
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.devrun"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        banner = ""
        while time.monotonic() < deadline and f"127.0.0.1:{sim_port}/" not in banner:
            banner += proc.stdout.readline()
        assert f"http://127.0.0.1:{sim_port}/" in banner, banner

        sim = f"http://127.0.0.1:{sim_port}"
        sent = requests.post(f"{sim}/_sim/send", json={"user": USER, "type": "follow"}, timeout=10)
        assert sent.json()["webhookStatus"] == 200
        messages: list = []
        while time.monotonic() < deadline and not messages:
            messages = requests.get(f"{sim}/_sim/messages", params={"user": USER}, timeout=5).json()
            time.sleep(0.2)
        assert messages and "สวัสดี" in messages[0]["text"]
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
