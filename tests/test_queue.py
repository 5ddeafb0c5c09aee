"""The worker path: fast acknowledgement with a slow LINE API, and huey on Redis."""

from __future__ import annotations

import os
import time

import pytest
import requests

from bot import worker
from bot.config import Settings
from bot.inbox import handle_event, store_events
from bot.models import WebhookEvent
from simulator.state import Faults
from tests.conftest import sim_messages, sim_send, text_event

USER = "U" + "d" * 32


@pytest.fixture
def queued():
    """Tasks wait in the queue (as with a real worker) instead of running inline."""
    worker.huey.immediate = False
    worker.huey.flush()
    yield worker.huey
    worker.huey.flush()
    worker.huey.immediate = True


def test_webhook_acknowledges_at_once_while_line_is_slow(runtime, bot, sim, queued):
    sim[0].set_faults(Faults(latency_ms=2500))  # every LINE API call takes 2.5 s
    started = time.perf_counter()
    sim_send(sim[1].url, user=USER, text="สวัสดีครับ")
    acknowledged_in = time.perf_counter() - started
    assert acknowledged_in < 1.0  # LINE's limit is 2 s; nothing here waited for LINE
    assert sim_messages(sim[1].url, USER) == []
    assert len(queued) == 1

    queued.execute(queued.dequeue())  # what the worker does
    assert len(sim_messages(sim[1].url, USER)) == 1


def test_a_failed_enqueue_still_acknowledges_and_the_event_waits_for_the_sweep(
    runtime, bot, sim, monkeypatch
):
    def broken() -> None:
        raise ConnectionError("queue down")

    monkeypatch.setattr(runtime, "signal_inbox", broken)
    sim_send(sim[1].url, user=USER, text="สวัสดี")
    with runtime.sessions() as session:
        (event,) = session.query(WebhookEvent).all()
        assert event.handled_at is None
    assert sim_messages(sim[1].url, USER) == []


def redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url
    except Exception:
        if os.environ.get("TEST_REDIS_URL"):
            raise
        return None


def test_huey_on_redis_carries_an_event_to_its_handler(runtime, sim):
    url = redis_url()
    if url is None:
        pytest.skip("Redis not reachable on 127.0.0.1:6379 (set TEST_REDIS_URL in CI)")
    huey = worker.make_huey(Settings(redis_url=url))
    assert type(huey).__name__ == "RedisHuey"
    huey.flush()

    @huey.task()
    def handle(pk: int) -> None:
        handle_event(runtime, pk)

    event = text_event("E-redis", user=USER)
    event["replyToken"] = sim[0].issue_reply_token(USER)
    with runtime.engine.begin() as conn:
        (pk,) = store_events(conn, [event])
    handle(pk)
    assert len(huey) == 1
    huey.execute(huey.dequeue())
    with runtime.sessions() as session:
        assert session.get(WebhookEvent, pk).handled_at is not None
    huey.flush()


def test_default_queue_is_sqlite_and_needs_no_server(tmp_path):
    huey = worker.make_huey(Settings(huey_sqlite_path=str(tmp_path / "q.db")))
    assert type(huey).__name__ == "SqliteHuey"


def test_sim_stats_are_reachable_over_http(sim):
    assert requests.get(f"{sim[1].url}/_sim/stats", timeout=5).status_code == 200
