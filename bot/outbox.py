"""Sending what the outbox holds: reply while the token is fresh, else push with a retry key.

Replies are free but single-use and short-lived (LINE: use a token within a minute of the
webhook, and even that is not guaranteed); pushes cost quota but carry an `X-Line-Retry-Key`,
stored in the row before the first call, so a retry after a lost response or a crash is accepted
by LINE once (409 means it was already accepted).

The reply policy, case by case:

1. A token older than `REPLY_TOKEN_MAX_AGE` is not tried: the answer is pushed.
2. LINE answers the reply 2xx: delivered.
3. LINE refuses the reply on its first attempt (400 "Invalid reply token": expired early, used,
   never valid; or any other 4xx): no attempt with this token can have delivered anything, so
   the answer is pushed. The volunteer gets it once.
4. The outcome is unknown (5xx, a timeout, the connection lost after sending): the reply is
   asked again with the same token while it is fresh (retries stop `LINE_TIMEOUT` before
   `REPLY_TOKEN_MAX_AGE`). If LINE then answers 400 "Invalid reply token", the earlier attempt
   may have spent the token, its response lost: that counts as delivered (`LineClient.reply`),
   so nothing is sent twice. This is the only case where a refusal counts as delivered; the
   risk, a token that expired instead, is small because the retries end well inside LINE's
   minute.
5. No retry fits in the token's life, or the retries run out with the outcome still unknown:
   pushed. A lost response can then mean a duplicate, which we prefer to an answer that never
   comes.
6. After a crash the token is gone (an answer written by a handler never stores it: the
   handling worker keeps it in memory; a row with one clears it before use): the stored retry
   key pushes.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, or_, update

from bot.db import on_fresh_connection
from bot.line_client import LineRejected, LineUnavailable
from bot.models import OutboundMessage, utcnow
from common.messages import batches, fit_for_line

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


_rows = OutboundMessage.__table__


def part_retry_key(retry_key: str, part: int) -> str:
    """Retry key of the n-th request of one outbox row: stable, derived from the stored key."""
    return retry_key if part == 0 else str(uuid.uuid5(uuid.UUID(retry_key), str(part)))


@dataclass(frozen=True)
class Outgoing:
    """An outbox row this worker holds, with what sending it needs."""

    id: int
    user_id: str
    messages: list[Any]
    retry_key: str
    reply_token: str | None  # not in the row any more: see `deliver`
    reply_token_at: datetime | None

    @classmethod
    def of(cls, row: OutboundMessage, reply_token: str | None) -> Outgoing:
        return cls(
            row.id, row.user_id, row.messages, row.retry_key, reply_token, row.reply_token_at
        )


_CLAIM_ROW = (
    update(_rows)
    .where(
        _rows.c.id == bindparam("pk"),
        _rows.c.status == "pending",
        or_(_rows.c.claimed_at.is_(None), _rows.c.claimed_at < bindparam("stale_before")),
    )
    .values(claimed_at=bindparam("now"), attempts=_rows.c.attempts + 1)
    .returning(
        _rows.c.user_id,
        _rows.c.messages,
        _rows.c.retry_key,
        _rows.c.reply_token,
        _rows.c.reply_token_at,
    )
)
# Forget the token before using it: after a crash we push rather than trust a token that may
# already be spent.
_FORGET_TOKEN = update(_rows).where(_rows.c.id == bindparam("pk")).values(reply_token=None)


def deliver(rt: Runtime, outbox_id: int, now: datetime | None = None) -> str | None:
    """Claim one outbox row and send it; returns its new status, or None if another worker has
    it. (The worker that handled an event holds its answers already and calls `send`.)"""
    now = now or utcnow()
    params = {
        "pk": outbox_id,
        "now": now,
        "stale_before": now - timedelta(seconds=rt.settings.event_lease_s),
    }

    def take(conn: Connection) -> Any:
        row = conn.execute(_CLAIM_ROW, params).first()
        if row is not None and row.reply_token is not None:
            conn.execute(_FORGET_TOKEN, {"pk": outbox_id})
        return row

    row = on_fresh_connection(rt.engine, take)
    if row is None:
        return None
    outgoing = Outgoing(
        outbox_id, row.user_id, row.messages, row.retry_key, row.reply_token, row.reply_token_at
    )
    return send(rt, outgoing, now)


def send(rt: Runtime, out: Outgoing, now: datetime | None = None) -> str:
    """Send a held outbox row to LINE (no transaction open), then record how it went."""
    now = now or utcnow()
    max_age_s = rt.settings.reply_token_max_age_s
    reply_token = out.reply_token
    age_s = (now - out.reply_token_at).total_seconds() if out.reply_token_at else None
    fresh = reply_token is not None and age_s is not None and age_s < max_age_s
    parts = batches(fit_for_line(out.messages))
    user_id, retry_key, outbox_id = out.user_id, out.retry_key, out.id

    via = "push"
    try:
        if reply_token and fresh and age_s is not None:
            # Retries of an unknown outcome must start early enough to end, a timeout later,
            # while the token is still fresh: a 400 then means "spent by us", not "expired".
            window_s = max_age_s - age_s - rt.settings.line_timeout_s
            try:
                rt.line.reply(
                    reply_token,
                    parts[0],
                    retry_until=time.monotonic() + window_s if window_s > 0 else None,
                )
                parts, via = parts[1:], "reply"
            except (LineRejected, LineUnavailable) as exc:
                log.info("reply failed (%s); falling back to push", exc)
        for n, part in enumerate(parts, start=1 if via == "reply" else 0):
            rt.line.push(user_id, part, part_retry_key(retry_key, n))
    except LineUnavailable as exc:
        # Leave it pending: the sweep retries after the lease, with the same retry keys.
        _finish(rt, outbox_id, "pending", None, str(exc), release=False)
        return "pending"
    except LineRejected as exc:
        _finish(rt, outbox_id, "failed", None, str(exc))
        return "failed"
    _finish(rt, outbox_id, "sent", via, None)
    return "sent"


def _finish(
    rt: Runtime,
    outbox_id: int,
    status: str,
    via: str | None,
    error: str | None,
    release: bool = True,
) -> None:
    values: dict[str, object] = {"status": status, "last_error": error}
    if status == "sent":
        values.update(sent_via=via, sent_at=utcnow())
    if release:
        values["claimed_at"] = None
    statement = update(_rows).where(_rows.c.id == outbox_id).values(**values)
    on_fresh_connection(rt.statement_engine, lambda conn: conn.execute(statement))
