"""`python -m simulator`: run the stand-in LINE platform on SIM_PORT.

LINE Login (`simulator/login.py`) serves the channel named by LINE_LOGIN_CHANNEL_ID and
LINE_LOGIN_CHANNEL_SECRET (the console's own variables; `make run` sets development values),
with the callback URLs in SIM_LOGIN_REDIRECT_URIS (comma-separated; by default the console's
callback on the web app: http://127.0.0.1:$PORT/console/auth/line/callback and its localhost
twin). More channels: POST /_sim/login.

Faults can be set at start with SIM_FAULTS='{"error_rate": 0.05, ...}' and the reply tokens'
life with SIM_REPLY_TOKEN_TTL_S (seconds, LINE's minute by default), or later through
POST /_sim/config.

Served by gunicorn (already the web's server): one process, since the simulator's memory is its
state, with threads and HTTP keep-alive as LINE's servers keep connections open. Werkzeug's
development server closes every connection, and profiled at 100 questions/s a new connection
per LINE call was a tenth of the worker's time.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.config import Settings
from simulator.app import create_sim_app
from simulator.login import channels_from_env
from simulator.state import Faults, SimState


def build_state(settings: Settings) -> SimState:
    state = SimState(
        channel_secret=settings.channel_secret,
        access_token=settings.channel_access_token,
        webhook_url=os.environ.get("SIM_WEBHOOK_URL")
        or f"http://127.0.0.1:{settings.port}/callback",
    )
    ttl = os.environ.get("SIM_REPLY_TOKEN_TTL_S")
    if ttl:
        state.reply_token_ttl_s = float(ttl)
    faults = os.environ.get("SIM_FAULTS")
    if faults:
        state.set_faults(Faults.from_dict(json.loads(faults)))
    for channel in channels_from_env(os.environ, settings.public_base_url):
        state.login.add_channel(channel)
    return state


class _Server(BaseApplication):
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    settings = Settings.from_env()
    settings.require_line_credentials()
    app = create_sim_app(build_state(settings))
    url = f"http://127.0.0.1:{settings.sim_port}/"
    _Server(
        app,
        {
            "bind": f"127.0.0.1:{settings.sim_port}",
            "workers": 1,  # the state is this process's memory
            "worker_class": "gthread",
            "threads": int(os.environ.get("SIM_THREADS", "32")),
            "keepalive": 75,
            "timeout": 120,  # a webhook to a slow bot holds a thread that long at most
            "graceful_timeout": 5,
            "control_socket_disable": True,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            # Said once the port is open: whoever reads it may connect at once.
            "when_ready": lambda server: print(f"LINE simulator on {url}", flush=True),
        },
    ).run()


if __name__ == "__main__":
    main()
