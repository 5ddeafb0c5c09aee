"""Fixtures: a fresh database per test, the LINE simulator and the bot on real local sockets.

Set TEST_DATABASE_URL (postgresql://…) to run everything on PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import os

# Before anything imports bot.worker: tasks run inline unless a test asks for the queue.
os.environ["QUEUE_IMMEDIATE"] = "1"
for _name in ("DATABASE_URL", "REDIS_URL", "LINE_API_BASE"):
    os.environ.pop(_name, None)

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text
from werkzeug.serving import BaseWSGIServer, make_server

import bot.models as bot_models  # noqa: F401  (all tables are part of the schema)
import broadcast.models  # noqa: F401
import faq.models  # noqa: F401
import ticketing.models  # noqa: F401
from bot.app import build_app
from bot.config import Settings
from bot.line_client import LineClient
from bot.runtime import Runtime, install_runtime
from common.tables import Base
from simulator.app import create_sim_app
from simulator.signing import sign
from simulator.state import SimState

SECRET = "test-channel-secret"
TOKEN = "test-access-token"
DATA = Path(__file__).resolve().parent / "data"  # fixtures the suite needs, kept in the repo
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")


def shared_file(relative: str) -> Path:
    """A file of the shared project data beside this checkout (../shared), or skip the test.

    Only the checks against the shared source letter and the shared FAQ question set read it: a
    clone on its own runs everything else, and CI, which has ../shared, runs these too.
    """
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"../shared is not beside this checkout: this check reads ../shared/{relative}")
    return path


def pytest_report_header(config: pytest.Config) -> str:
    if PG_URL:
        return f"database: PostgreSQL {PG_URL}"
    return "database: SQLite (set TEST_DATABASE_URL for PostgreSQL)"


class Served:
    """A WSGI app on a real local port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        yield PG_URL
    else:
        yield f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def sim() -> Iterator[tuple[SimState, Served]]:
    state = SimState(channel_secret=SECRET, access_token=TOKEN, webhook_url="http://127.0.0.1:9/")
    served = Served(create_sim_app(state))
    yield state, served
    served.close()


@pytest.fixture
def settings(database_url: str, sim: tuple[SimState, Served]) -> Settings:
    return Settings(
        channel_secret=SECRET,
        channel_access_token=TOKEN,
        line_api_base=sim[1].url,
        database_url=database_url,
        queue_immediate=True,
        line_timeout_s=5.0,
        inbox_coalesce_s=0.0,  # every webhook call signals the (inline) worker
        drain_recheck_s=0.0,
    )


def fast_line_client(settings: Settings, **kwargs: Any) -> LineClient:
    """The real adapter with tiny backoffs, so retry tests take milliseconds."""
    options: dict[str, Any] = {"backoff_base_s": 0.001, "backoff_cap_s": 0.01, **kwargs}
    return LineClient(
        settings.channel_access_token,
        settings.line_api_base,
        timeout_s=settings.line_timeout_s,
        **options,
    )


def reset_schema(engine) -> None:
    """An empty database: on PostgreSQL the whole public schema (alembic's table too)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(conn)


@pytest.fixture(scope="session")
def faq_service():
    """Loaded once: the knowledge base is read-only, and loading it takes most of a second."""
    from faq.service import FaqService

    return FaqService.load()


@pytest.fixture
def runtime(settings: Settings, faq_service) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings)
    rt.__dict__["faq"] = faq_service
    reset_schema(rt.engine)
    Base.metadata.create_all(rt.engine)
    rt.__dict__["line"] = fast_line_client(settings)
    install_runtime(rt)
    yield rt
    install_runtime(None)
    reset_schema(rt.engine)  # leave the shared test database as we found it: empty
    rt.dispose()


@pytest.fixture
def app(runtime: Runtime):
    return build_app(runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def bot(app, sim: tuple[SimState, Served]) -> Iterator[Served]:
    """The bot on a real port, with the simulator posting its webhooks there."""
    served = Served(app)
    sim[0].webhook_url = served.url + "/callback"
    yield served
    served.close()


def signed_post(client, payload: Any, secret: str = SECRET, header: str = "X-Line-Signature"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        "/callback",
        data=body,
        headers={header: sign(secret, body), "Content-Type": "application/json"},
    )


def sim_send(sim_url: str, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{sim_url}/_sim/send", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def befriend(sim_url: str, *users: str) -> None:
    """Make users friends of the bot on the simulator, as LINE knows anyone who added it (a push
    to an account LINE does not know is refused)."""
    response = requests.post(f"{sim_url}/_sim/users", json={"users": list(users)}, timeout=10)
    assert response.status_code == 200, response.text


def sim_messages(sim_url: str, user: str) -> list[dict[str, Any]]:
    return requests.get(f"{sim_url}/_sim/messages", params={"user": user}, timeout=10).json()


def text_event(event_id: str, user: str = "U" + "a" * 32, text_: str = "สวัสดีครับ", **extra: Any):
    import time

    event = {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": "0f3779fba3b349968c5d07db31eab56f",
        "message": {"id": "444573844083572737", "type": "text", "quoteToken": "q", "text": text_},
    }
    event.update(extra)
    return event


def wait_until(condition: Any, seconds: float = 10.0, what: str = "the condition") -> Any:
    """Poll `condition` until it returns something true (returned), failing after `seconds`:
    tests wait for what they need, never for a fixed time."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.02)


def dev_settings(**changes: Any) -> Settings:
    return replace(Settings(), **changes)
