"""Sending: reply vs push, retry keys, retries, crashes between steps, and the sweep."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from bot.db import transaction
from bot.inbox import (
    find_leftovers,
    handle_and_deliver,
    handle_event,
    pending_events,
    store_events,
    sweep,
)
from bot.line_client import LineContentTooLarge, LineRejected, LineUnavailable
from bot.models import OutboundMessage, WebhookEvent, utcnow
from bot.outbox import deliver, part_retry_key
from simulator.state import Faults
from tests.conftest import fast_line_client, sim_messages, text_event

USER = "U" + "b" * 32


@pytest.fixture(autouse=True)
def known_user(sim):
    """The volunteer is a friend of the bot: LINE refuses a push to an account it does not know."""
    sim[0].ensure_user(USER)


def add_outbox(runtime, **fields) -> int:
    fields.setdefault("user_id", USER)
    fields.setdefault("messages", [{"type": "text", "text": "ทดสอบ"}])
    with transaction(runtime.sessions) as session:
        row = OutboundMessage(**fields)
        session.add(row)
        session.flush()
        return row.id


def outbox_row(runtime, pk: int) -> OutboundMessage:
    with runtime.sessions() as session:
        row = session.get(OutboundMessage, pk)
        assert row is not None
        return row


def stats(sim) -> dict:
    return sim[0].stats


# -- reply or push -----------------------------------------------------------------------------


def test_fresh_reply_token_is_used_and_costs_no_quota(runtime, sim):
    token = sim[0].issue_reply_token(USER)
    pk = add_outbox(runtime, reply_token=token, reply_token_at=utcnow())
    assert deliver(runtime, pk) == "sent"
    assert outbox_row(runtime, pk).sent_via == "reply"
    assert [m["via"] for m in sim_messages(sim[1].url, USER)] == ["reply"]
    assert sim[0].consumption == 0


def test_expired_reply_token_falls_back_to_push_with_the_stored_retry_key(runtime, sim):
    token = sim[0].issue_reply_token(USER)
    pk = add_outbox(runtime, reply_token=token, reply_token_at=utcnow() - timedelta(seconds=70))
    retry_key = outbox_row(runtime, pk).retry_key
    assert deliver(runtime, pk) == "sent"
    assert outbox_row(runtime, pk).sent_via == "push"
    assert "POST /v2/bot/message/reply" not in stats(sim)  # too old: not even tried
    delivered = sim_messages(sim[1].url, USER)
    assert [m["via"] for m in delivered] == ["push"]
    assert sim[0].accepted_request(retry_key) == delivered[0]["requestId"]


def test_reply_token_refused_by_line_falls_back_to_push(runtime, sim):
    # Looks fresh to us, but LINE says it is spent (e.g. used by a crashed earlier attempt).
    token = sim[0].issue_reply_token(USER)
    sim[0].use_reply_token(token)
    pk = add_outbox(runtime, reply_token=token, reply_token_at=utcnow())
    assert deliver(runtime, pk) == "sent"
    assert stats(sim)["POST /v2/bot/message/reply"] == {"400": 1}
    assert [m["via"] for m in sim_messages(sim[1].url, USER)] == ["push"]


def test_the_simulator_itself_expires_reply_tokens_after_a_minute(sim, monkeypatch):
    import simulator.state as state_module

    token = sim[0].issue_reply_token(USER)
    real = state_module.time.monotonic
    monkeypatch.setattr(state_module.time, "monotonic", lambda: real() + 61)
    assert sim[0].use_reply_token(token) is None


# -- retry keys --------------------------------------------------------------------------------


def test_retry_after_a_lost_response_reuses_the_key_and_delivers_once(runtime, sim):
    # Every push is delivered, then answered 500 as if the response was lost on the way.
    sim[0].set_faults(Faults(lost_response_rate=1.0))
    pk = add_outbox(runtime)
    assert deliver(runtime, pk) == "sent"
    assert stats(sim)["POST /v2/bot/message/push"] == {"500": 1, "409": 1}
    assert len(sim_messages(sim[1].url, USER)) == 1


def test_a_crash_after_the_call_resends_with_the_same_key_and_line_delivers_once(runtime, sim):
    pk = add_outbox(runtime)
    retry_key = outbox_row(runtime, pk).retry_key
    # First worker: the push reaches LINE, then the worker dies before recording it.
    runtime.line.push(USER, outbox_row(runtime, pk).messages, retry_key)
    with transaction(runtime.sessions) as session:
        session.get(OutboundMessage, pk).claimed_at = utcnow()
    # Too early for the sweep: the first worker's lease still stands.
    assert pk not in find_leftovers(runtime).outbox
    later = utcnow() + timedelta(seconds=runtime.settings.event_lease_s + 1)
    assert pk in find_leftovers(runtime, later).outbox
    assert deliver(runtime, pk, later) == "sent"
    assert stats(sim)["POST /v2/bot/message/push"] == {"200": 1, "409": 1}
    assert len(sim_messages(sim[1].url, USER)) == 1


def test_long_text_is_split_and_each_request_has_its_own_stable_key(runtime, sim):
    long_text = ("ข้อความยาว " * 1500).strip()  # about 16,500 UTF-16 units
    many = [{"type": "text", "text": long_text}] + [
        {"type": "text", "text": str(i)} for i in range(3)
    ]
    pk = add_outbox(runtime, messages=many)
    assert deliver(runtime, pk) == "sent"
    delivered = sim_messages(sim[1].url, USER)
    assert len(delivered) == 7  # 4 parts of the long text + 3
    assert all(len(m["text"].encode("utf-16-le")) // 2 <= 5000 for m in delivered)
    assert "".join(m["text"] for m in delivered[:4]) == long_text
    key = outbox_row(runtime, pk).retry_key
    assert part_retry_key(key, 0) == key
    assert part_retry_key(key, 1) == part_retry_key(key, 1) != key
    assert sim[0].accepted_request(part_retry_key(key, 1)) is not None


# -- the retry policy --------------------------------------------------------------------------


def test_server_errors_are_retried_until_line_accepts(runtime, sim):
    sim[0].set_faults(Faults(error_rate=0.6, seed=7))
    pk = add_outbox(runtime)
    assert deliver(runtime, pk) == "sent"
    counts = stats(sim)["POST /v2/bot/message/push"]
    assert counts.get("500", 0) >= 1 and counts["200"] == 1


def test_429_is_retried_with_backoff(runtime, settings, sim):
    # One push per 0.5 s: wide enough that back-to-back deliveries meet a 429 even on a loaded
    # machine (a 50 ms window was missed under load).
    sim[0].set_rate_limits({"push": (1, 0.5)})
    asked: list[float] = []

    def wait_out_the_window(delay: float) -> None:
        # The jittered delay may be near zero; sleeping past the 0.5 s window keeps the test
        # deterministic while still recording what the policy asked for.
        asked.append(delay)
        time.sleep(0.51)

    runtime.__dict__["line"] = fast_line_client(
        settings, backoff_base_s=0.02, backoff_cap_s=0.2, sleep=wait_out_the_window
    )
    sent = [add_outbox(runtime) for _ in range(3)]
    assert [deliver(runtime, pk) for pk in sent] == ["sent"] * 3
    assert len(sim_messages(sim[1].url, USER)) == 3
    assert stats(sim)["POST /v2/bot/message/push"]["429"] == len(asked) >= 1
    assert all(0 <= delay <= 0.02 for delay in asked)  # first retry: full jitter up to the base


def test_other_4xx_are_not_retried(runtime, settings, sim):
    bad = fast_line_client(
        settings.__class__(**{**settings.__dict__, "channel_access_token": "nope"})
    )
    with pytest.raises(LineRejected) as info:
        bad.push(USER, [{"type": "text", "text": "x"}], str(uuid.uuid4()))
    assert info.value.status == 401
    assert stats(sim)["POST /v2/bot/message/push"] == {"401": 1}


def test_an_invalid_message_is_recorded_failed_and_never_sent(runtime, sim):
    pk = add_outbox(runtime, messages=[{"type": "bogus", "text": "x"}])
    assert deliver(runtime, pk) == "failed"
    row = outbox_row(runtime, pk)
    assert "invalid request" in row.last_error
    assert "POST /v2/bot/message/push" not in stats(sim)
    assert pk not in find_leftovers(runtime, utcnow() + timedelta(hours=1)).outbox


def test_a_request_line_refuses_is_not_retried(runtime, sim):
    too_long = [{"type": "text", "text": "ก" * 5001}]  # the SDK lets it through; LINE does not
    with pytest.raises(LineRejected) as info:
        runtime.line.push(USER, too_long, str(uuid.uuid4()))
    assert info.value.status == 400
    assert stats(sim)["POST /v2/bot/message/push"] == {"400": 1}


def test_network_errors_exhaust_into_line_unavailable(settings):
    client = fast_line_client(
        settings.__class__(**{**settings.__dict__, "line_api_base": "http://127.0.0.1:1"})
    )
    with pytest.raises(LineUnavailable):
        client.push(USER, [{"type": "text", "text": "x"}], str(uuid.uuid4()))


# -- the worker dies ---------------------------------------------------------------------------


def store(runtime, event) -> int:
    with runtime.engine.begin() as conn:
        (pk,) = store_events(conn, [event])
    return pk


def test_stored_but_unhandled_event_is_handled_once_by_the_sweep(runtime, sim):
    event = text_event("E-crash", user=USER)
    event["replyToken"] = sim[0].issue_reply_token(USER)
    pk = store(runtime, event)  # the queue lost it: the worker crashed before taking it

    assert find_leftovers(runtime).events == []  # fresh rows are left to the queue
    later = utcnow() + timedelta(seconds=15)
    first = sweep(runtime, later)
    assert first.events == [pk]
    second = sweep(runtime, later + timedelta(seconds=1))
    assert second.events == [] and second.outbox == []
    assert len(sim_messages(sim[1].url, USER)) == 1
    with runtime.sessions() as session:
        assert session.get(WebhookEvent, pk).handled_at is not None


def test_event_claimed_by_a_crashed_worker_is_taken_over_after_its_lease(runtime, sim):
    pk = store(runtime, text_event("E-lease", user=USER))
    with transaction(runtime.sessions) as session:
        session.get(WebhookEvent, pk).claimed_at = utcnow()  # claimed, then the worker died
    assert handle_event(runtime, pk) is None  # the lease still stands
    later = utcnow() + timedelta(seconds=runtime.settings.event_lease_s + 1)
    handled = handle_event(runtime, pk, later)
    assert handled is not None and len(handled.outbox_ids) == 1
    assert handle_event(runtime, pk, later + timedelta(seconds=999)) is None  # done: never again


def test_handler_error_rolls_back_and_is_retried(runtime, sim, monkeypatch):
    pk = store(runtime, text_event("E-bug", user=USER))
    calls = {"n": 0}
    original = runtime.dispatcher.dispatch

    def flaky(ctx):
        calls["n"] += 1
        ctx.reply({"type": "text", "text": "never sent"})
        if calls["n"] == 1:
            raise RuntimeError("handler bug")
        return original(ctx)

    monkeypatch.setattr(runtime.dispatcher, "dispatch", flaky)
    with pytest.raises(RuntimeError):
        handle_event(runtime, pk)
    with runtime.sessions() as session:
        assert session.scalars(select(OutboundMessage)).all() == []  # rolled back
        assert "handler bug" in session.get(WebhookEvent, pk).last_error
    assert handle_event(runtime, pk) is None  # backing off: not again at once
    assert pk not in pending_events(runtime, utcnow() + timedelta(seconds=5))
    later = utcnow() + timedelta(seconds=11)  # first backoff: 10 s
    assert pk in pending_events(runtime, later)
    handled = handle_event(runtime, pk, later)
    assert handled is not None
    with runtime.sessions() as session:
        assert session.get(WebhookEvent, pk).last_error is None


def test_an_event_that_always_fails_is_set_aside_after_five_tries(runtime, sim, monkeypatch):
    pk = store(runtime, text_event("E-broken", user=USER))

    def broken(ctx):
        raise RuntimeError("handler bug")

    monkeypatch.setattr(runtime.dispatcher, "dispatch", broken)
    at = utcnow()
    for _ in range(4):
        with pytest.raises(RuntimeError):
            handle_event(runtime, pk, at)
        at += timedelta(minutes=10)  # past any backoff
    set_aside = handle_event(runtime, pk, at)  # the fifth: no more retries, an apology instead
    assert set_aside is not None and len(set_aside.outbox_ids) == 1
    assert pending_events(runtime, at + timedelta(hours=1)) == []
    with runtime.sessions() as session:
        event = session.get(WebhookEvent, pk)
        assert event.attempts == 5 and event.handled_at is not None
        assert "handler bug" in event.last_error  # kept for staff


def test_an_event_that_waited_is_answered_without_a_loading_animation_first(runtime, sim):
    """The answer follows at once; a loading call per waiting event only deepens a backlog."""
    event = text_event("E-wait", user=USER, text_="ลืมรหัสผ่าน")
    event["replyToken"] = sim[0].issue_reply_token(USER)
    pk = store(runtime, event)
    handle_and_deliver(runtime, pk, utcnow() + timedelta(seconds=3))
    assert "POST /v2/bot/chat/loading/start" not in stats(sim)
    assert stats(sim)["POST /v2/bot/message/reply"] == {"200": 1}


def test_the_sim_control_api_reports_stats(sim):
    body = requests.get(f"{sim[1].url}/_sim/stats", timeout=5).json()
    assert set(body) >= {"requests", "deliveries"}


# -- a reply whose response is lost ------------------------------------------------------------


def test_a_reply_whose_response_is_lost_reaches_each_user_once(runtime, sim):
    # LINE delivers every other reply and then the answer is lost (the bot sees a 500).
    sim[0].set_faults(Faults(lost_response_rate=0.5, seed=11))
    users = [f"U{n:032x}" for n in range(30)]
    rows = [
        add_outbox(
            runtime,
            user_id=user,
            messages=[{"type": "text", "text": f"คำตอบ {n}"}],
            reply_token=sim[0].issue_reply_token(user),
            reply_token_at=utcnow(),
        )
        for n, user in enumerate(users)
    ]
    assert [deliver(runtime, pk) for pk in rows] == ["sent"] * 30
    assert [len(sim_messages(sim[1].url, user)) for user in users] == [1] * 30
    replies = stats(sim)["POST /v2/bot/message/reply"]
    assert replies["500"] == replies["400"] >= 5  # each lost one: asked again, token spent
    assert "POST /v2/bot/message/push" not in stats(sim)  # nothing pushed, no quota spent
    assert all(outbox_row(runtime, pk).sent_via == "reply" for pk in rows)


def test_a_reply_refused_before_delivery_is_tried_again_with_the_same_token(runtime, sim):
    sim[0].set_faults(Faults(error_rate=0.5, seed=5))  # 500 before anything is delivered
    users = [f"U{n:032x}" for n in range(10)]
    rows = [
        add_outbox(
            runtime,
            user_id=user,
            reply_token=sim[0].issue_reply_token(user),
            reply_token_at=utcnow(),
        )
        for user in users
    ]
    assert [deliver(runtime, pk) for pk in rows] == ["sent"] * 10
    assert [[m["via"] for m in sim_messages(sim[1].url, u)] for u in users] == [["reply"]] * 10
    assert stats(sim)["POST /v2/bot/message/reply"]["500"] >= 1


def test_with_no_time_left_to_ask_again_a_lost_reply_is_pushed(runtime, sim):
    # The policy's other side: a token too close to its end gets one try; if its response is
    # lost the answer is pushed, so the user may get it twice rather than never.
    sim[0].set_faults(Faults(lost_response_rate=1.0))
    almost_old = runtime.settings.reply_token_max_age_s - 1
    pk = add_outbox(
        runtime,
        reply_token=sim[0].issue_reply_token(USER),
        reply_token_at=utcnow() - timedelta(seconds=almost_old),
    )
    assert deliver(runtime, pk) == "sent"
    assert stats(sim)["POST /v2/bot/message/reply"] == {"500": 1}
    assert [m["via"] for m in sim_messages(sim[1].url, USER)] == ["reply", "push"]


# -- content downloads stop at the caller's limit ----------------------------------------------


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "chunked"])
def test_a_large_content_is_not_downloaded_past_the_limit(runtime, sim, sized):
    big = 40 * 1024 * 1024
    sim[0].content["m-big"] = (b"\xff\xd8" + b"\0" * (big - 2), "image/jpeg")
    if not sized:
        sim[0].unsized_content.add("m-big")
    with pytest.raises(LineContentTooLarge) as info:
        runtime.line.get_content("m-big", max_bytes=2 * 1024 * 1024)
    assert isinstance(info.value, LineRejected)  # callers already treat it as "not usable"
    deadline = time.monotonic() + 10
    while "m-big" not in sim[0].content_sent and time.monotonic() < deadline:
        time.sleep(0.02)
    # The simulator stopped writing when the client closed the connection: what it wrote is
    # bounded by the sockets' buffers, far from the 40 MiB it holds.
    assert sim[0].content_sent["m-big"] < big // 2
    assert stats(sim)["GET /v2/bot/message/<message_id>/content"] == {"200": 1}


def test_content_within_the_limit_is_read_whole(runtime, sim):
    data = bytes(range(256)) * 8192  # 2 MiB exactly
    sim[0].content["m-ok"] = (data, "image/png")
    sim[0].unsized_content.add("m-ok")
    assert runtime.line.get_content("m-ok", max_bytes=len(data)) == data
    assert runtime.line.get_content("m-ok") == data
    with pytest.raises(LineRejected) as info:
        runtime.line.get_content("m-missing", max_bytes=10)
    assert info.value.status == 404


def test_a_connection_the_database_dropped_costs_no_answer(runtime, bot, sim):
    """The pool does not ping before each use (a round trip per checkout): the worker's first
    statement finds a dropped connection and tries once more on a fresh one."""
    from sqlalchemy import text

    from tests.conftest import sim_send

    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): a server that drops connections")
    sim_send(sim[1].url, user=USER, text="ลืมรหัสผ่าน")  # the pools are warm
    assert len(sim_messages(sim[1].url, USER)) == 1
    with runtime.engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    sim_send(sim[1].url, user=USER, text="ลืมรหัสผ่าน")
    assert len(sim_messages(sim[1].url, USER)) == 2
    with runtime.sessions() as session:
        errors = session.scalars(select(WebhookEvent.last_error)).all()
    assert errors == [None, None]
