"""Webhook events: stored on arrival, handled once by a worker, re-found by the sweep.

store_events()   the webhook, before it answers LINE 200
handle_event()   the worker: claim → prefetch → commit effects + outbox + handled → send
sweep()          periodic: events and outbox rows that a crash left behind
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from bot.db import claimable, on_fresh_connection, transaction
from bot.event_check import Refused, check_event
from bot.failures import is_permanent
from bot.models import OutboundMessage, WebhookEvent, utcnow
from bot.outbox import Outgoing, deliver, send
from handlers.context import EventContext

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("smartbmn.events")

# After this many failed handling attempts an event is set aside (handled, with its error).
MAX_HANDLING_ATTEMPTS = 5
# A failed event waits before its next try, doubling: 10 s, 20 s, 40 s, 80 s. Its source's later
# events wait behind it (order over speed); see `drain` for the worst case.
RETRY_BASE_S, RETRY_CAP_S = 10.0, 300.0
# A drain takes the first event of at most this many sources per round.
DRAIN_BATCH = 50
# The sweep leaves fresh rows to the queue that is about to handle them.
SWEEP_GRACE_S = 10.0


def hash_user(user_id: str | None) -> str | None:
    """Logs carry this instead of the LINE user id (personal data)."""
    if not user_id:
        return None
    return hashlib.sha256(user_id.encode()).hexdigest()[:12]


def event_kind(payload: dict[str, Any]) -> str:
    kind = str(payload.get("type", "?"))
    message = payload.get("message")
    if isinstance(message, dict) and message.get("type"):
        kind += "/" + str(message["type"])
    return kind


# -- storing --------------------------------------------------------------------------------


@cache
def _insert_new_event(dialect: str) -> Any:
    """Built once per dialect: constructing the statement costs more than running it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(WebhookEvent)
        .on_conflict_do_nothing(index_elements=["webhook_event_id"])
        .returning(WebhookEvent.id)
    )


def store_new_events(engine: Engine, events: list[Any]) -> list[int]:
    """Store a webhook's events before LINE gets its answer (`Runtime.statement_engine`).

    PostgreSQL: an autocommit engine. Each `INSERT … ON CONFLICT DO NOTHING` is then its own
    durable transaction in one round trip instead of three (BEGIN, INSERT, COMMIT). A body of
    several events that fails half-way is answered with an error and redelivered by LINE; the
    events already stored are skipped by their unique id. That pool does not ping before each
    use (another round trip): a connection the database dropped (restart, failover) fails
    instead, the pool is invalidated, and a second try runs on a fresh one.
    SQLite: one transaction under the process's write lock.
    """
    return on_fresh_connection(engine, lambda conn: store_events(conn, events))


def store_events(conn: Connection, events: Iterable[Any]) -> list[int]:
    """Insert the events not seen before; return the primary keys of the new, usable ones.

    Each event is checked on its own (`bot.event_check`): a usable one is stored cleaned; one
    that is not is stored already handled, with the reason in `last_error` and no content, so
    the good events beside it are kept and LINE's redelivery of the bad one is a no-op.
    Standby events (another channel's bot has the chat) are acknowledged but not stored.
    A redelivered event hits the unique `webhook_event_id` and is skipped. Core, not the ORM:
    this runs on every webhook call, before LINE gets its answer.
    """
    stmt = _insert_new_event(conn.dialect.name)
    new_ids: list[int] = []
    for raw in events:
        event = check_event(raw)
        if event is None:
            continue
        refused = isinstance(event, Refused)
        # One statement per event keeps "which were new" exact on both backends.
        new_id = conn.execute(
            stmt,
            {
                "webhook_event_id": event.event_id,
                "event_type": event.event_type,
                "user_id": event.user_id,
                "source_key": None if refused else event.source_key,
                "payload": {"type": event.event_type} if refused else event.payload,
                "received_at": utcnow(),
                "attempts": 0,
                "handled_at": utcnow() if refused else None,
                "last_error": f"set aside: {event.reason}" if refused else None,
            },
        ).scalar_one_or_none()
        if new_id is not None and refused:
            log.warning(
                "event %s set aside (%s, user %s): %s",
                event.event_id,
                event.event_type,
                hash_user(event.user_id),
                event.reason,
            )
        elif new_id is not None:
            new_ids.append(new_id)
    return new_ids


# -- the queue: one source at a time ---------------------------------------------------------
#
# The statements of the hot path are built once, in Core, with bound parameters: building an
# ORM statement with an aliased subquery for every event cost more than running it (profiled:
# a quarter of the worker's time went to SQLAlchemy's column adaptation and cache keys).

_events = WebhookEvent.__table__


def _first_of_its_source(event: Any) -> ColumnElement[bool]:
    """No earlier event of the same source is waiting (handled or set aside frees the next).
    Part of the claim itself, so the next event of a source can be taken only once the one
    before it is committed as handled, whichever worker, process or machine holds it."""
    earlier = _events.alias(f"before_{event.name}")
    return ~exists().where(
        earlier.c.source_key == event.c.source_key,
        earlier.c.id < event.c.id,
        earlier.c.handled_at.is_(None),
    )


def _free_and_due(event: Any) -> ColumnElement[bool]:
    """Not handled, not held by a live worker (never claimed, or its lease ran out) and not
    backing off after a transient failure."""
    return and_(
        event.c.handled_at.is_(None),
        or_(event.c.claimed_at.is_(None), event.c.claimed_at < bindparam("stale_before")),
        or_(event.c.next_attempt_at.is_(None), event.c.next_attempt_at <= bindparam("now")),
    )


def _claim(which: ColumnElement[bool]) -> Any:
    """Claim the event `which` picks, reading it in the same statement."""
    return (
        update(_events)
        .where(which, _free_and_due(_events))
        .values(claimed_at=bindparam("now"), attempts=_events.c.attempts + 1)
        .returning(
            _events.c.id,
            _events.c.webhook_event_id,
            _events.c.payload,
            _events.c.user_id,
            _events.c.received_at,
        )
    )


_CLAIM_EVENT = _claim(and_(_events.c.id == bindparam("pk"), _first_of_its_source(_events)))

# The next event of a drain's round that nobody holds, claimed and read in one statement: a
# drain no longer tries each event of its round in turn, spending a round trip on every one that
# another drain running at once had already taken. PostgreSQL skips rows another claim is
# locking, and the outer WHERE checks the row again, so two drains never both take one; SQLite
# has one writer at a time and renders no FOR UPDATE. Heads never go back: an event is in a
# round only if every earlier event of its source was handled when the round began.
_pick = _events.alias("pick")
_CLAIM_NEXT = _claim(
    _events.c.id
    == select(_pick.c.id)
    .where(
        _pick.c.id.in_(bindparam("heads", expanding=True)),
        _free_and_due(_pick),
        _first_of_its_source(_pick),
    )
    .order_by(_pick.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)

_PENDING_HEADS = (
    select(_events.c.id)
    .where(
        _events.c.received_at <= bindparam("received_before"),
        _free_and_due(_events),
        _first_of_its_source(_events),
    )
    .order_by(_events.c.id)
    .limit(bindparam("limit"))
)

# Finish only if our claim still stands: a worker that lost its lease must not commit a second
# copy of the effects.
_FINISH_EVENT = (
    update(_events)
    .where(
        _events.c.id == bindparam("pk"),
        _events.c.handled_at.is_(None),
        _events.c.claimed_at == bindparam("claimed_at_was"),
    )
    .values(handled_at=bindparam("done_at"), last_error=None, next_attempt_at=None)
)


@dataclass(frozen=True)
class ClaimedEvent:
    """A stored event this worker now holds, with what handling it needs."""

    pk: int
    claimed_at: datetime
    event_id: str
    payload: dict[str, Any]
    user_id: str | None
    received_at: datetime


def claim_event(rt: Runtime, pk: int, now: datetime) -> ClaimedEvent | None:
    """Take one event for this worker, reading it in the same statement; None if another worker
    holds it, it is done or backing off, or an earlier event of its source is still waiting."""
    return _claimed(rt, _CLAIM_EVENT, {"pk": pk}, now)


def claim_next(rt: Runtime, heads: list[int], now: datetime) -> ClaimedEvent | None:
    """Take the oldest of `heads` that is still free and first of its source; None when every
    one is taken or done."""
    return _claimed(rt, _CLAIM_NEXT, {"heads": heads}, now) if heads else None


def _claimed(rt: Runtime, claim: Any, params: dict[str, Any], now: datetime) -> ClaimedEvent | None:
    params = {
        **params,
        "now": now,
        "stale_before": now - timedelta(seconds=rt.settings.event_lease_s),
    }
    row = on_fresh_connection(rt.claims_engine, lambda conn: conn.execute(claim, params).first())
    if row is None:
        return None
    return ClaimedEvent(
        row.id, now, row.webhook_event_id, row.payload, row.user_id, row.received_at
    )


# -- handling -------------------------------------------------------------------------------

# What a volunteer reads when their message can never be handled (a value the bot cannot read).
SORRY_UNREADABLE = "ขออภัยครับ ระบบอ่านข้อความนี้ไม่ได้ กรุณาพิมพ์ใหม่อีกครั้ง"
# ...and when a passing fault outlasted every retry.
SORRY_GAVE_UP = "ขออภัยครับ ระบบขัดข้องชั่วคราว ข้อความก่อนหน้านี้ยังไม่ได้ดำเนินการ กรุณาส่งใหม่อีกครั้งครับ"


@dataclass(frozen=True)
class _Stored:
    """What the log line and the failure path need to know about the event."""

    event_id: str = "?"
    kind: str = "?"
    user_hash: str | None = None


@dataclass(frozen=True)
class Handled:
    event_pk: int
    # Answers committed with the event and already claimed by this worker: send them now.
    ready: list[Outgoing]
    # Rows to claim before sending (an apology written by the failure path).
    unclaimed: list[int]

    @property
    def outbox_ids(self) -> list[int]:
        return [out.id for out in self.ready] + self.unclaimed


def handle_event(rt: Runtime, pk: int, now: datetime | None = None) -> Handled | None:
    """Handle one stored event exactly once; None if another worker has it, it is done, or an
    earlier event of its source is still waiting.

    Three steps, no transaction open across a network call: claim (one statement that also
    reads the event), LINE calls the handler needs (prefetch), then one transaction with the
    handler's effects, its answers (as outbox rows this worker holds) and "handled".
    A permanent error sets the event aside at once and returns the apology's outbox row; a
    transient one is recorded for a later retry and raised.
    """
    claimed = claim_event(rt, pk, now or utcnow())
    return None if claimed is None else handle_claimed(rt, claimed)


def handle_claimed(rt: Runtime, claimed: ClaimedEvent) -> Handled | None:
    """`handle_event` after the claim: prefetch, then the handling transaction."""
    pk = claimed.pk
    started = time.perf_counter()
    about = _Stored(claimed.event_id, event_kind(claimed.payload), hash_user(claimed.user_id))
    outcome = "ok"
    try:
        # No loading animation for an event that waited in the queue: its answer follows within
        # milliseconds of this point, and under a backlog the extra LINE call per event only
        # deepened it (measured). Handlers that wait on LINE themselves show it (a picture's
        # download, `handlers.tickets.prefetch_message`).
        fetched = rt.dispatcher.prefetch(claimed.payload, rt.line, rt.sessions)
        with transaction(rt.sessions) as session:
            ctx = EventContext(session=session, event=claimed.payload, services=rt, fetched=fetched)
            if not rt.dispatcher.dispatch(ctx):
                outcome = "ignored"
            answers = _answers(ctx, claimed)
            session.add_all(row for row, _ in answers)
            done = session.execute(
                _FINISH_EVENT,
                {"pk": pk, "claimed_at_was": claimed.claimed_at, "done_at": utcnow()},
            )
            if done.rowcount != 1:
                raise _LostClaim()
            session.flush()
            ready = [Outgoing.of(row, token) for row, token in answers]
    except _LostClaim:
        _log_handled(about, started, "lost-claim")
        return None
    except Exception as exc:
        set_aside = _record_failure(rt, pk, claimed.claimed_at, exc)
        _log_handled(about, started, set_aside.outcome, type(exc).__name__)
        if set_aside.outcome == "set-aside":
            return Handled(pk, [], set_aside.outbox_ids)
        raise
    _log_handled(about, started, outcome)
    return Handled(pk, ready, [])


class _LostClaim(Exception):
    pass


def _answers(ctx: EventContext, event: ClaimedEvent) -> list[tuple[OutboundMessage, str | None]]:
    """The handler's answers as outbox rows held by this worker, each with the reply token to
    use now. The token is kept in memory, not in the row: if this worker dies before sending,
    the sweep takes the row over after its lease and pushes rather than trust a token that may
    already be spent."""
    rows: list[tuple[OutboundMessage, str | None]] = []
    if ctx.replies and ctx.user_id:
        token = event.payload.get("replyToken")
        row = _reply_row(event.pk, event.payload, event.received_at, ctx.user_id, ctx.replies)
        row.reply_token = None
        rows.append((row, token if isinstance(token, str) and len(token) <= 255 else None))
    for user_id, messages in ctx.pushes:
        rows.append((OutboundMessage(event_id=event.pk, user_id=user_id, messages=messages), None))
    for row, _ in rows:
        row.claimed_at, row.attempts = event.claimed_at, 1
    return rows


def _reply_row(
    event_pk: int,
    payload: dict[str, Any],
    received_at: datetime,
    user_id: str,
    messages: list[Any],
) -> OutboundMessage:
    """An answer to the event's sender: by its reply token while that is fresh (the outbox
    decides), else by push."""
    token = payload.get("replyToken")
    issued_ms = payload.get("timestamp")
    issued = received_at
    if isinstance(issued_ms, int | float) and not isinstance(issued_ms, bool):
        # A timestamp LINE would never send (1e30) leaves the arrival time.
        with suppress(ValueError, OverflowError, OSError):
            issued = datetime.fromtimestamp(issued_ms / 1000, UTC)
    return OutboundMessage(
        event_id=event_pk,
        user_id=user_id,
        messages=messages,
        reply_token=token if isinstance(token, str) and len(token) <= 255 else None,
        reply_token_at=issued,
    )


@dataclass(frozen=True)
class _Failure:
    outcome: str  # "set-aside" | "retry" | "lost-claim"
    outbox_ids: list[int]


def _record_failure(rt: Runtime, pk: int, claim_at: datetime, exc: Exception) -> _Failure:
    """Keep the error on the event (with its traceback: the log keeps only its name), then
    either set the event aside or let it wait for a retry. Only while our claim stands."""
    permanent = is_permanent(exc)
    with transaction(rt.sessions) as session:
        event = session.get(WebhookEvent, pk)
        if event is None or event.handled_at is not None or event.claimed_at != claim_at:
            return _Failure("lost-claim", [])
        event.last_error = "".join(traceback.format_exception(exc))[-4000:]
        event.claimed_at = None
        if permanent or event.attempts >= MAX_HANDLING_ATTEMPTS:
            # Set aside: the source's next events go on; the error stays for staff.
            event.handled_at = utcnow()
            event.next_attempt_at = None
            apology = [{"type": "text", "text": SORRY_UNREADABLE if permanent else SORRY_GAVE_UP}]
            rows = (
                [_reply_row(pk, event.payload, event.received_at, event.user_id, apology)]
                if event.user_id
                else []
            )
            session.add_all(rows)
            session.flush()
            return _Failure("set-aside", [row.id for row in rows])
        wait_s = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(0, event.attempts - 1))
        event.next_attempt_at = claim_at + timedelta(seconds=wait_s)
        return _Failure("retry", [])


def _log_handled(about: _Stored, started: float, outcome: str, error: str | None = None) -> None:
    """One line per event: the hashed user, never the id or the text."""
    line: dict[str, Any] = {
        "msg": "event handled",
        "event_id": about.event_id,
        "kind": about.kind,
        "user": about.user_hash,
        "handling_ms": round((time.perf_counter() - started) * 1000, 2),
        "outcome": outcome,
    }
    if error:
        line["error"] = error
    log.log(logging.WARNING if error else logging.INFO, json.dumps(line, ensure_ascii=False))


# -- draining and sweeping -------------------------------------------------------------------


def handle_and_deliver(rt: Runtime, pk: int, now: datetime | None = None) -> Handled | None:
    return _deliver_handled(rt, handle_event(rt, pk, now), now)


def _deliver_handled(rt: Runtime, handled: Handled | None, now: datetime | None) -> Handled | None:
    if handled is not None:
        for outgoing in handled.ready:
            try:
                send(rt, outgoing, now)
            except Exception:  # a bug, not LINE: LINE's answers are recorded by `send`
                log.exception("outbox row %s not sent; the sweep retries it", outgoing.id)
        for outbox_id in handled.unclaimed:
            deliver(rt, outbox_id, now)
    return handled


def pending_events(
    rt: Runtime, now: datetime | None = None, grace_s: float = 0.0, limit: int = DRAIN_BATCH
) -> list[int]:
    """The event each source must handle next, oldest first, if nobody holds it (never claimed,
    or claimed by a worker that died) and it is not backing off.

    One row per source: a burst of 1,000 messages from one user is one candidate, so the next
    user's message is in the same round.
    """
    now = now or utcnow()
    params = {
        "now": now,
        "received_before": now - timedelta(seconds=grace_s),
        "stale_before": now - timedelta(seconds=rt.settings.event_lease_s),
        "limit": limit,
    }
    return on_fresh_connection(
        rt.claims_engine, lambda conn: list(conn.scalars(_PENDING_HEADS, params))
    )


def pending_outbox(rt: Runtime, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Messages a crash or an unavailable LINE API left unsent, past their lease."""
    now = now or utcnow()
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(OutboundMessage.id)
                .where(
                    OutboundMessage.status == "pending",
                    OutboundMessage.created_at < now - timedelta(seconds=SWEEP_GRACE_S),
                    claimable(OutboundMessage, now, rt.settings.event_lease_s),
                )
                .order_by(OutboundMessage.id)
                .limit(limit)
            )
        )


def drain(
    rt: Runtime, max_rounds: int = 200, ask_for_help: Callable[[], None] | None = None
) -> int:
    """Handle pending events, round by round; the worker runs this when the webhook signals.

    Each round takes the first waiting event of each source, oldest first: one busy user adds
    one event's handling time per round to everyone else's wait. Several drains (threads,
    processes, machines) run at once; the claim decides which takes which head, and a
    source's next event becomes a head only when the one before it is committed.

    `ask_for_help` (the worker: queue one more drain) is called once, when this drain sees
    more than one source waiting, so idle worker threads join instead of one drain looping
    alone. The helper does the same, so drains multiply only while there are sources for them.

    An event that failed transiently waits (10 s, 20 s, 40 s, 80 s; the minute sweep retries
    it) and so does its source, for at most about five minutes before it is set aside.

    The web signals at most once per `inbox_coalesce_s`, so after the inbox looks empty we
    look once more `drain_recheck_s` later (longer than the coalescing window): an event whose
    signal was coalesced into ours is then still found.
    """
    handled = 0
    rechecked = False
    for _ in range(max_rounds):
        heads = pending_events(rt)
        if not heads:
            if rechecked or rt.settings.drain_recheck_s <= 0:
                return handled
            time.sleep(rt.settings.drain_recheck_s)
            rechecked = True
            continue
        rechecked = False
        if ask_for_help is not None and len(heads) > 1:
            _ask(ask_for_help)
            ask_for_help = None
        # The round's events in order, each taken by whichever drain asks first.
        while (claimed := claim_next(rt, heads, utcnow())) is not None:
            try:
                handled += _deliver_handled(rt, handle_claimed(rt, claimed), None) is not None
            except Exception:
                continue  # recorded on the event by handle_claimed; the sweep retries it
    rt.signal_inbox()  # still busy: let another drain carry on
    return handled


def _ask(ask_for_help: Callable[[], None]) -> None:
    try:
        ask_for_help()
    except Exception:
        log.warning("could not queue a second drain; this one carries on alone")


@dataclass(frozen=True)
class Leftovers:
    events: list[int]
    outbox: list[int]


def find_leftovers(rt: Runtime, now: datetime | None = None) -> Leftovers:
    """What a crash left behind; fresh rows are left to the drain that is about to take them."""
    return Leftovers(
        pending_events(rt, now, grace_s=SWEEP_GRACE_S, limit=500), pending_outbox(rt, now)
    )


def sweep(rt: Runtime, now: datetime | None = None, max_rounds: int = 100) -> Leftovers:
    """Handle leftovers inline (tests; the worker's periodic task queues a drain instead):
    round by round, since a source's second event is found once its first is handled."""
    leftovers = find_leftovers(rt, now)
    found, pks = list(leftovers.events), leftovers.events
    for _ in range(max_rounds):
        if not pks:
            break
        for pk in pks:
            try:
                handle_and_deliver(rt, pk, now)
            except Exception:
                continue
        pks = [pk for pk in find_leftovers(rt, now).events if pk not in found]
        found += pks
    for outbox_id in leftovers.outbox:
        deliver(rt, outbox_id, now)
    return Leftovers(found, leftovers.outbox)
