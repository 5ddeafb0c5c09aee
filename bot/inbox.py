"""Webhook events: stored on arrival, handled once by a worker, re-found by the sweep.

store_events()   the webhook, before it answers LINE 200
handle_event()   the worker: claim → dispatch → commit effects + outbox → deliver
sweep()          periodic: events and outbox rows that a crash left behind
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from bot.db import claim, claimable, transaction, write_lock
from bot.models import OutboundMessage, WebhookEvent, utcnow
from bot.outbox import deliver
from handlers.context import EventContext

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("smartbmn.events")

# An event that waited this long in the queue gets the loading animation before handling.
LOADING_AFTER_S = 1.0
# After this many failed handling attempts an event is set aside (handled, with its error).
MAX_HANDLING_ATTEMPTS = 5
# A failed event waits before its next try, doubling: 10 s, 20 s, 40 s, 80 s.
RETRY_BASE_S, RETRY_CAP_S = 10.0, 300.0
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


def store_new_events(engine: Engine, events: list[dict[str, Any]]) -> list[int]:
    """Store a webhook's events before LINE gets its answer (`Runtime.inbox_engine`).

    PostgreSQL: an autocommit engine. Each `INSERT … ON CONFLICT DO NOTHING` is then its own
    durable transaction in one round trip instead of three (BEGIN, INSERT, COMMIT). A body of
    several events that fails half-way is answered with an error and redelivered by LINE; the
    events already stored are skipped by their unique id. That pool does not ping before each
    use (another round trip): a connection the database dropped (restart, failover) fails
    instead, the pool is invalidated, and a second try runs on a fresh one.
    SQLite: one transaction under the process's write lock.
    """
    for attempt in (1, 2):
        try:
            with write_lock(engine), engine.begin() as conn:
                return store_events(conn, events)
        except DBAPIError as exc:
            if not exc.connection_invalidated or attempt == 2:
                raise
            log.warning("inbox connection was dropped by the database; trying a fresh one")
    raise AssertionError("unreachable")


def store_events(conn: Connection, events: Iterable[dict[str, Any]]) -> list[int]:
    """Insert the events not seen before; return the primary keys of the new ones.

    Standby events (another channel's bot has the chat) are acknowledged but not stored.
    A redelivered event hits the unique `webhook_event_id` and is skipped. Core, not the ORM:
    this runs on every webhook call, before LINE gets its answer.
    """
    stmt = _insert_new_event(conn.dialect.name)
    new_ids: list[int] = []
    for event in events:
        if not isinstance(event, dict) or event.get("mode") == "standby":
            continue
        event_id = event.get("webhookEventId")
        if not isinstance(event_id, str) or not event_id:
            continue
        # One statement per event keeps "which were new" exact on both backends.
        new_id = conn.execute(
            stmt,
            {
                "webhook_event_id": event_id[:64],
                "event_type": str(event.get("type", ""))[:40],
                "user_id": (event.get("source") or {}).get("userId") or None,
                "payload": event,
                "received_at": utcnow(),
                "attempts": 0,
            },
        ).scalar_one_or_none()
        if new_id is not None:
            new_ids.append(new_id)
    return new_ids


# -- handling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handled:
    event_pk: int
    outbox_ids: list[int]


def handle_event(rt: Runtime, pk: int, now: datetime | None = None) -> Handled | None:
    """Handle one stored event exactly once; None if another worker has it or it is done."""
    claim_at = now or utcnow()
    with transaction(rt.sessions) as session:
        if not claim(
            session,
            WebhookEvent,
            pk,
            claim_at,
            rt.settings.event_lease_s,
            WebhookEvent.handled_at.is_(None),
        ):
            return None

    started = time.perf_counter()
    outcome = "ok"
    kind = "?"
    user_hash = None
    event_id = "?"
    try:
        # LINE calls first, with no transaction open: none waits on the network.
        with rt.sessions() as session:
            stored = session.get(WebhookEvent, pk)
            assert stored is not None
            payload, user_id, received_at = stored.payload, stored.user_id, stored.received_at
            kind, user_hash, event_id = (
                event_kind(payload),
                hash_user(user_id),
                stored.webhook_event_id,
            )
        waited = (claim_at - received_at).total_seconds()
        if user_id and waited > LOADING_AFTER_S and payload.get("replyToken"):
            rt.line.show_loading(user_id)
        fetched = rt.dispatcher.prefetch(payload, rt.line, rt.sessions)
        with transaction(rt.sessions) as session:
            event = session.get(WebhookEvent, pk)
            assert event is not None
            ctx = EventContext(session=session, event=event.payload, services=rt, fetched=fetched)
            if not rt.dispatcher.dispatch(ctx):
                outcome = "ignored"
            outbox = _outbox_rows(ctx, event)
            session.add_all(outbox)
            # Finish only if our claim still stands: a worker that lost its lease must not
            # commit a second copy of the effects.
            done = session.execute(
                update(WebhookEvent)
                .where(
                    WebhookEvent.id == pk,
                    WebhookEvent.handled_at.is_(None),
                    WebhookEvent.claimed_at == claim_at,
                )
                .values(handled_at=utcnow(), last_error=None)
            )
            if done.rowcount != 1:
                raise _LostClaim()
            session.flush()
            outbox_ids = [row.id for row in outbox]
    except _LostClaim:
        _log_handled(event_id, kind, user_hash, started, "lost-claim")
        return None
    except Exception as exc:
        _record_failure(rt, pk, exc)
        _log_handled(event_id, kind, user_hash, started, "error")
        raise
    _log_handled(event_id, kind, user_hash, started, outcome)
    return Handled(pk, outbox_ids)


class _LostClaim(Exception):
    pass


def _outbox_rows(ctx: EventContext, event: WebhookEvent) -> list[OutboundMessage]:
    rows: list[OutboundMessage] = []
    if ctx.replies and ctx.user_id:
        token = event.payload.get("replyToken")
        issued_ms = event.payload.get("timestamp")
        issued = (
            datetime.fromtimestamp(issued_ms / 1000, UTC)
            if isinstance(issued_ms, int | float)
            else event.received_at
        )
        rows.append(
            OutboundMessage(
                event_id=event.id,
                user_id=ctx.user_id,
                messages=ctx.replies,
                reply_token=token if isinstance(token, str) else None,
                reply_token_at=issued,
            )
        )
    for user_id, messages in ctx.pushes:
        rows.append(OutboundMessage(event_id=event.id, user_id=user_id, messages=messages))
    return rows


def _record_failure(rt: Runtime, pk: int, exc: Exception) -> None:
    log.exception("handling event %s failed", pk)
    with transaction(rt.sessions) as session:
        event = session.get(WebhookEvent, pk)
        if event is None:
            return
        event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if event.attempts >= MAX_HANDLING_ATTEMPTS:
            # Set aside: a handler bug must not loop forever. The error stays for staff.
            event.handled_at = utcnow()
        else:
            # Not at once (the drain would spend every attempt in the same second on a
            # passing outage): `claimable` frees a row `event_lease_s` after its claim, so
            # backdate the claim to free it after the backoff; the sweep then retries it.
            wait_s = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(0, event.attempts - 1))
            lease_s = rt.settings.event_lease_s
            event.claimed_at = utcnow() - timedelta(seconds=max(0.0, lease_s - wait_s))


def _log_handled(
    event_id: str, kind: str, user_hash: str | None, started: float, outcome: str
) -> None:
    log.info(
        json.dumps(
            {
                "msg": "event handled",
                "event_id": event_id,
                "kind": kind,
                "user": user_hash,
                "handling_ms": round((time.perf_counter() - started) * 1000, 2),
                "outcome": outcome,
            },
            ensure_ascii=False,
        )
    )


# -- draining and sweeping -------------------------------------------------------------------


def handle_and_deliver(rt: Runtime, pk: int, now: datetime | None = None) -> Handled | None:
    handled = handle_event(rt, pk, now)
    for outbox_id in handled.outbox_ids if handled else []:
        deliver(rt, outbox_id, now)
    return handled


def pending_events(
    rt: Runtime, now: datetime | None = None, grace_s: float = 0.0, limit: int = 100
) -> list[int]:
    """Unhandled events nobody holds (never claimed, or claimed by a worker that died)."""
    now = now or utcnow()
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(WebhookEvent.id)
                .where(
                    WebhookEvent.handled_at.is_(None),
                    WebhookEvent.received_at <= now - timedelta(seconds=grace_s),
                    claimable(WebhookEvent, now, rt.settings.event_lease_s),
                )
                .order_by(WebhookEvent.id)
                .limit(limit)
            )
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


def drain(rt: Runtime, max_rounds: int = 200) -> int:
    """Handle every pending event; the worker runs this when the webhook signals new events.

    The web signals at most once per `inbox_coalesce_s`, so after the inbox looks empty we
    look once more `drain_recheck_s` later (longer than the coalescing window): an event whose
    signal was coalesced into ours is then still found.
    """
    handled = 0
    rechecked = False
    for _ in range(max_rounds):
        batch = pending_events(rt)
        if not batch:
            if rechecked or rt.settings.drain_recheck_s <= 0:
                return handled
            time.sleep(rt.settings.drain_recheck_s)
            rechecked = True
            continue
        rechecked = False
        for pk in batch:
            try:
                handled += handle_and_deliver(rt, pk) is not None
            except Exception:
                continue  # recorded on the event by handle_event; the sweep retries it
    rt.signal_inbox()  # still busy: let another drain carry on
    return handled


@dataclass(frozen=True)
class Leftovers:
    events: list[int]
    outbox: list[int]


def find_leftovers(rt: Runtime, now: datetime | None = None) -> Leftovers:
    """What a crash left behind; fresh rows are left to the drain that is about to take them."""
    return Leftovers(
        pending_events(rt, now, grace_s=SWEEP_GRACE_S, limit=500), pending_outbox(rt, now)
    )


def sweep(rt: Runtime, now: datetime | None = None) -> Leftovers:
    """Handle leftovers inline (tests; the worker's periodic task queues them instead)."""
    leftovers = find_leftovers(rt, now)
    for pk in leftovers.events:
        try:
            handle_and_deliver(rt, pk, now)
        except Exception:
            continue
    for outbox_id in leftovers.outbox:
        deliver(rt, outbox_id, now)
    return leftovers
