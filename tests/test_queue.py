"""The worker path: fast acknowledgement with a slow LINE API, huey on Redis, drains that
share the work, and what a failing event costs (permanent: an apology; transient: a wait)."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from bot import worker
from bot.config import Settings
from bot.inbox import (
    RETRY_BASE_S,
    SORRY_UNREADABLE,
    SWEEP_GRACE_S,
    handle_event,
    store_events,
    sweep,
)
from bot.models import WebhookEvent, utcnow
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


# -- sharing the work: several drains at once -------------------------------------------------


def test_a_drain_that_sees_several_users_waiting_queues_a_second_drain(runtime, sim, queued):
    for n, user in enumerate((USER, "U" + "e" * 32)):
        event = text_event(f"E-share-{n}", user=user)
        event["replyToken"] = sim[0].issue_reply_token(user)
        with runtime.engine.begin() as conn:
            store_events(conn, [event])
    worker.drain_inbox_task.call_local()  # what a worker thread runs on the webhook's signal
    assert len(queued) >= 1  # another thread or process is asked to join
    queued.execute(queued.dequeue())  # which finds nothing left and asks for nobody
    assert len(queued) == 0


# -- permanent and transient errors ---------------------------------------------------------------


def failing_on(runtime, monkeypatch, text: str, exc: Exception) -> None:
    """The handler raises `exc` on messages saying `text`, as a handler would on a bad value."""
    original = runtime.dispatcher.dispatch

    def dispatch(ctx):
        if ctx.message.get("text") == text:
            raise exc
        return original(ctx)

    monkeypatch.setattr(runtime.dispatcher, "dispatch", dispatch)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("invalid literal for int() with base 10: '²'"),
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ],
    ids=["value", "overflow", "unicode"],
)
def test_an_error_that_can_never_succeed_is_set_aside_at_once_with_a_polite_answer(
    runtime, bot, sim, monkeypatch, caplog, exc
):
    failing_on(runtime, monkeypatch, "ขอดูเรื่อง 123456789012345678901234", exc)
    caplog.set_level(logging.INFO)
    sim_send(sim[1].url, user=USER, text="ขอดูเรื่อง 123456789012345678901234")

    assert [m["text"] for m in sim_messages(sim[1].url, USER)] == [SORRY_UNREADABLE]
    with runtime.sessions() as session:
        (event,) = session.scalars(select(WebhookEvent)).all()
        assert event.handled_at is not None and event.attempts == 1  # no retries
        assert type(exc).__name__ in event.last_error  # kept for staff, with its traceback
    ours = [r for r in caplog.records if r.name != "werkzeug"]  # not the test's own servers
    failures = [r for r in ours if r.levelno >= logging.WARNING]
    assert len(failures) == 1 and failures[0].exc_info is None  # one line, no traceback
    assert json.loads(failures[0].getMessage())["outcome"] == "set-aside"
    for record in ours:
        assert USER not in record.getMessage() and "1234567890" not in record.getMessage()

    sim_send(sim[1].url, user=USER, text="สวัสดีครับ")  # the user's next message goes on
    assert len(sim_messages(sim[1].url, USER)) == 2


def test_a_bad_value_the_database_refuses_is_permanent(runtime, bot, sim, monkeypatch):
    def store_a_huge_number(ctx):
        ctx.session.execute(
            update(WebhookEvent).where(WebhookEvent.id == -1).values(attempts=10**30)
        )

    monkeypatch.setattr(runtime.dispatcher, "dispatch", store_a_huge_number)
    sim_send(sim[1].url, user=USER, text="สวัสดีครับ")
    assert [m["text"] for m in sim_messages(sim[1].url, USER)] == [SORRY_UNREADABLE]
    with runtime.sessions() as session:
        (event,) = session.scalars(select(WebhookEvent)).all()
        assert event.handled_at is not None and event.attempts == 1


def test_a_transient_error_waits_and_its_users_next_message_waits_behind_it(
    runtime, bot, sim, monkeypatch
):
    failing_on(runtime, monkeypatch, "ข้อความแรก", OperationalError("SELECT 1", {}, Exception()))
    other = "U" + "e" * 32
    sim_send(sim[1].url, user=USER, text="ข้อความแรก")
    sim_send(sim[1].url, user=USER, text="ข้อความที่สอง")
    sim_send(sim[1].url, user=other, text="สวัสดีครับ")

    assert sim_messages(sim[1].url, USER) == []  # order over speed: the second waits
    assert len(sim_messages(sim[1].url, other)) == 1  # nobody else does
    with runtime.sessions() as session:
        first, second, _ = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
        assert (first.handled_at, first.claimed_at, second.handled_at) == (None, None, None)
        assert first.next_attempt_at is not None and first.attempts == 1

    monkeypatch.undo()  # the outage is over
    monkeypatch.setattr(runtime, "signal_inbox", lambda: None)
    sweep(runtime, utcnow() + timedelta(seconds=RETRY_BASE_S + SWEEP_GRACE_S + 1))
    assert len(sim_messages(sim[1].url, USER)) == 2  # both answered, in order


def test_errors_and_logs_show_no_statement_values(runtime):
    with runtime.sessions() as session:
        try:
            session.execute(
                text("SELECT no_such_column FROM webhook_events WHERE user_id = :u"), {"u": USER}
            )
        except Exception as exc:
            shown = str(exc)
        else:
            raise AssertionError("the statement should have failed")
    assert USER not in shown and "hidden" in shown
