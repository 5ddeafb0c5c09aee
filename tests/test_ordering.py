"""One LINE source at a time, in webhook order, and nobody waits behind a noisy user.

Each race is made deterministic instead of hoped for: a first worker is held inside the first
event of a user, after its handler has read what it needs and just before its first write,
while a second worker drains the same inbox, as a second thread, process or machine would.
Without ordering the second worker handles the user's next events on the same stale state;
with it, it finds nothing of that user, and the first worker then handles them in order.
"""

from __future__ import annotations

import base64
import random
import threading
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from bot.db import transaction
from bot.inbox import claim_event, claim_next, drain, pending_events, store_events
from bot.models import OutboundMessage, WebhookEvent, utcnow
from handlers.context import EventContext, Fetched
from tests.conftest import sim_messages, sim_send, text_event
from tests.test_tickets import PNG, PROVINCE_COORD, VOLUNTEER, link
from ticketing import service
from ticketing.models import Ticket, TicketImage, Volunteer

OTHER = "U" + "7" * 32
WRITES = ("INSERT", "UPDATE", "DELETE")


class HoldFirst:
    """The runtime's dispatcher, except that the handler of the first event of `user` stops
    before its first write (its reads done) until `release` is set."""

    def __init__(self, inner: Any, user: str) -> None:
        self.inner, self.user = inner, user
        self.reached, self.release = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._held = False
        self._armed = threading.local()

    def prefetch(self, event: dict[str, Any], *using: Any) -> Fetched:
        return self.inner.prefetch(event, *using)

    def dispatch(self, ctx: EventContext) -> bool:
        with self._lock:
            hold = ctx.user_id == self.user and not self._held
            self._held = self._held or hold
        self._armed.on = hold
        try:
            handled = self.inner.dispatch(ctx)
            ctx.session.flush()  # changes the ORM would write at commit are written now
            return handled
        finally:
            self._armed.on = False

    def before_cursor_execute(self, conn, cursor, statement, *args: Any) -> None:
        if getattr(self._armed, "on", False) and statement.lstrip().upper().startswith(WRITES):
            self._armed.on = False
            self.reached.set()
            assert self.release.wait(30), "the second worker never finished"


@pytest.fixture
def stored_only(runtime, monkeypatch):
    """The webhook stores events but wakes no worker: the test runs the workers."""
    monkeypatch.setattr(runtime, "signal_inbox", lambda: None)
    return runtime


def two_workers_race(runtime, monkeypatch, user: str) -> None:
    """Worker 1 takes the first event of `user` and is held in it before its first write;
    worker 2 drains the inbox meanwhile; then worker 1 goes on. Both finish before this
    returns."""
    hold = HoldFirst(runtime.dispatcher, user)
    monkeypatch.setattr(runtime, "dispatcher", hold)
    sa_event.listen(runtime.engine, "before_cursor_execute", hold.before_cursor_execute)
    try:
        first = threading.Thread(target=drain, args=(runtime,), daemon=True)
        first.start()
        assert hold.reached.wait(20), "worker 1 never wrote for the first event"
        drain(runtime)  # worker 2
        hold.release.set()
        first.join(60)
        assert not first.is_alive()
    finally:
        sa_event.remove(runtime.engine, "before_cursor_execute", hold.before_cursor_execute)


def texts(sim, user: str) -> list[str]:
    return [m.get("text", "") for m in sim_messages(sim[1].url, user)]


def with_province(runtime, user: str = VOLUNTEER, province: str = "สุราษฎร์ธานี") -> None:
    with transaction(runtime.sessions) as session:
        service.set_province(session, user, province, runtime.faq.directory)


# -- the six observations of issue 8 ---------------------------------------------------------


def test_three_quick_taps_on_confirm_open_one_ticket(stored_only, bot, sim, monkeypatch):
    runtime = stored_only
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    with_province(runtime)
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา")
    sim_send(url, user=VOLUNTEER, text="กดส่งข้อมูลแล้วขึ้น error ตลอด")
    drain(runtime)
    assert "ยืนยัน" in texts(sim, VOLUNTEER)[-1]
    for _ in range(3):
        sim_send(url, user=VOLUNTEER, postback="action=ticket-confirm")

    two_workers_race(runtime, monkeypatch, VOLUNTEER)

    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
    numbers = [t for t in texts(sim, VOLUNTEER) if "BMN-" in t]
    assert len(numbers) == 1 and "BMN-000001" in numbers[0]


def test_five_screenshots_while_describing_are_all_kept_and_counted(
    stored_only, bot, sim, monkeypatch
):
    runtime = stored_only
    with_province(runtime)
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา")
    drain(runtime)
    pictures = [PNG + bytes([n]) for n in range(5)]
    for picture in pictures:
        sim_send(url, user=VOLUNTEER, image=base64.b64encode(picture).decode())

    two_workers_race(runtime, monkeypatch, VOLUNTEER)

    counted = [t for t in texts(sim, VOLUNTEER) if "แนบภาพหน้าจอ" in t]
    assert [f"แนบภาพหน้าจอ {n} ภาพ" in t for n, t in enumerate(counted, 1)] == [True] * 5
    sim_send(url, user=VOLUNTEER, text="แอปเด้งตอนกดบันทึก")
    sim_send(url, user=VOLUNTEER, postback="action=ticket-confirm")
    drain(runtime)
    with runtime.sessions() as session:
        kept = session.scalars(select(TicketImage.content).order_by(TicketImage.id)).all()
    assert kept == pictures


def test_ten_quick_follow_ups_on_an_open_ticket_are_all_kept_in_order(
    stored_only, bot, sim, monkeypatch
):
    runtime = stored_only
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    with_province(runtime)
    sim_send(sim[1].url, user=VOLUNTEER, text="แจ้งปัญหา ส่งข้อมูลไม่ได้")  # opened at once
    drain(runtime)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
    follow_ups = [f"ลองครั้งที่ {n} ก็ยังส่งไม่ได้" for n in range(1, 11)]
    for words in follow_ups:
        sim_send(sim[1].url, user=VOLUNTEER, text=words)

    two_workers_race(runtime, monkeypatch, VOLUNTEER)

    relayed = [w for t in texts(sim, PROVINCE_COORD) for w in follow_ups if w in t]
    assert relayed == follow_ups  # each once, in the order the volunteer sent them


def test_a_description_right_after_report_goes_to_the_report_not_the_faq(
    stored_only, bot, sim, monkeypatch
):
    runtime = stored_only
    with_province(runtime)
    sim_send(sim[1].url, user=VOLUNTEER, text="แจ้งปัญหา")
    sim_send(sim[1].url, user=VOLUNTEER, text="ลืมรหัสผ่านเข้าแอปครับ")  # also an FAQ question

    two_workers_race(runtime, monkeypatch, VOLUNTEER)

    _asked, answered = texts(sim, VOLUNTEER)
    assert "ยืนยัน" in answered and "ลืมรหัสผ่านเข้าแอปครับ" in answered  # the report's draft


def test_a_new_users_first_two_events_do_not_collide(stored_only, bot, sim, monkeypatch):
    runtime = stored_only
    sim_send(sim[1].url, user=OTHER, type="follow", name="สมชาย")
    sim_send(sim[1].url, user=OTHER, text="สวัสดีครับ")

    two_workers_race(runtime, monkeypatch, OTHER)

    with runtime.sessions() as session:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        assert [(e.handled_at is not None, e.attempts, e.last_error) for e in events] == [
            (True, 1, None),
            (True, 1, None),
        ]
        assert session.scalar(select(func.count()).select_from(Volunteer)) == 1
        answers = session.scalars(
            select(OutboundMessage.status).where(OutboundMessage.user_id == OTHER)
        ).all()
    assert answers == ["sent", "sent"]  # both answered now, not after a retry


def store_burst(runtime, sim, user: str, count: int, prefix: str) -> list[int]:
    events = [text_event(f"{prefix}-{n}", user=user, text_=f"ข้อความ {n}") for n in range(count)]
    for event in events:
        event["replyToken"] = sim[0].issue_reply_token(user)
    with runtime.engine.begin() as conn:
        return store_events(conn, events)


def test_another_users_message_is_next_in_line_behind_a_thousand_message_burst(stored_only, sim):
    runtime = stored_only
    burst = store_burst(runtime, sim, VOLUNTEER, 1000, "E-burst")
    (other,) = store_burst(runtime, sim, OTHER, 1, "E-other")

    assert pending_events(runtime)[:2] == [burst[0], other]  # one candidate per source

    drain(runtime, max_rounds=1)  # one round of one worker
    assert len(texts(sim, OTHER)) == 1
    with runtime.sessions() as session:
        handled = session.scalars(
            select(WebhookEvent.id).where(WebhookEvent.handled_at.is_not(None))
        ).all()
    assert sorted(handled) == [burst[0], other]


# -- strict order across concurrent workers ------------------------------------------------------


class Recorder:
    """The runtime's dispatcher, noting per source the order events start and any overlap."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.order: dict[str, list[str]] = defaultdict(list)
        self.overlaps: list[str] = []
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def prefetch(self, event: dict[str, Any], *using: Any) -> Fetched:
        return self.inner.prefetch(event, *using)

    def dispatch(self, ctx: EventContext) -> bool:
        user = ctx.user_id or "?"
        with self._lock:
            if user in self._busy:
                self.overlaps.append(ctx.event["webhookEventId"])
            self._busy.add(user)
            self.order[user].append(ctx.event["webhookEventId"])
        try:
            return self.inner.dispatch(ctx)
        finally:
            with self._lock:
                self._busy.discard(user)


def test_each_source_is_handled_in_webhook_order_by_four_concurrent_workers(
    runtime, sim, monkeypatch
):
    users = [f"U{n:032d}" for n in range(6)]
    sent: dict[str, list[str]] = {user: [] for user in users}
    rng = random.Random(8)
    for burst in range(4):  # bursts of a few messages per user, users interleaved
        for user in rng.sample(users, len(users)):
            for n in range(rng.randint(1, 4)):
                event_id = f"E-{user[-2:]}-{burst}-{n}"
                event = text_event(event_id, user=user, text_="สวัสดีครับ")
                event["replyToken"] = sim[0].issue_reply_token(user)
                with runtime.engine.begin() as conn:
                    store_events(conn, [event])
                sent[user].append(event_id)
    recorder = Recorder(runtime.dispatcher)
    monkeypatch.setattr(runtime, "dispatcher", recorder)
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        drain(runtime)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(120)

    assert recorder.overlaps == []
    assert dict(recorder.order) == sent
    with runtime.sessions() as session:
        left = session.scalars(select(WebhookEvent.id).where(WebhookEvent.handled_at.is_(None)))
        assert left.all() == []


def test_a_drain_takes_the_next_free_event_of_its_round_in_one_step(stored_only, sim):
    """Held events are skipped, not tried and lost: a drain claims the oldest head nobody holds,
    never a source's second event, and nothing once the round is taken."""
    runtime = stored_only
    first, second = store_burst(runtime, sim, VOLUNTEER, 2, "E-mine")
    (other,) = store_burst(runtime, sim, OTHER, 1, "E-other")
    now = utcnow()
    assert claim_event(runtime, first, now) is not None  # another drain holds the first

    taken = claim_next(runtime, [first, second, other], now)
    assert taken is not None and taken.pk == other
    assert claim_next(runtime, [first, second, other], now) is None  # second waits for first
