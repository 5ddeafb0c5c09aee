"""`python -m simulator`: run the stand-in LINE platform on SIM_PORT.

Faults can be set at start with SIM_FAULTS='{"error_rate": 0.05, ...}' and the reply tokens'
life with SIM_REPLY_TOKEN_TTL_S (seconds, LINE's minute by default), or later through
POST /_sim/config.
"""

from __future__ import annotations

import json
import logging
import os

from werkzeug.serving import make_server

from bot.config import Settings
from simulator.app import create_sim_app
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
    return state


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    settings = Settings.from_env()
    settings.require_line_credentials()
    app = create_sim_app(build_state(settings))
    server = make_server("127.0.0.1", settings.sim_port, app, threaded=True)
    print(f"LINE simulator on http://127.0.0.1:{settings.sim_port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
