"""Sending what the outbox holds: reply while the token is fresh, else push with a retry key.

Replies are free but single-use and short-lived; pushes cost quota but carry an
`X-Line-Retry-Key`, stored in the row before the first call, so a retry after a lost response or a
crash is accepted by LINE once (409 means it was already accepted).

A reply has no retry key, so a lost response leaves "delivered or not?" open. The policy: ask
again with the same token while it is fresh. LINE accepts it if the first never arrived, and
refuses a spent token with 400, which after a lost response means it did arrive (`LineClient.
reply`): the volunteer gets the answer once. Only when no retry fits in the token's life, or
LINE refuses the reply outright, is it pushed: then a lost response can mean a duplicate, which
we prefer to an answer that never comes.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.db import claim, transaction
from bot.line_client import LineRejected, LineUnavailable
from bot.models import OutboundMessage, utcnow
from common.messages import batches, fit_for_line

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


def part_retry_key(retry_key: str, part: int) -> str:
    """Retry key of the n-th request of one outbox row: stable, derived from the stored key."""
    return retry_key if part == 0 else str(uuid.uuid5(uuid.UUID(retry_key), str(part)))


def deliver(rt: Runtime, outbox_id: int, now: datetime | None = None) -> str | None:
    """Send one outbox row; returns its new status, or None if another worker has it."""
    now = now or utcnow()
    max_age_s = rt.settings.reply_token_max_age_s
    with transaction(rt.sessions) as session:
        if not claim(
            session,
            OutboundMessage,
            outbox_id,
            now,
            rt.settings.event_lease_s,
            OutboundMessage.status == "pending",
        ):
            return None
        row = session.get(OutboundMessage, outbox_id)
        assert row is not None
        reply_token = row.reply_token
        age_s = (now - row.reply_token_at).total_seconds() if row.reply_token_at else None
        fresh = reply_token is not None and age_s is not None and age_s < max_age_s
        # Forget the token before using it: after a crash we push rather than trust a token
        # that may already be spent.
        row.reply_token = None
        user_id, retry_key = row.user_id, row.retry_key
        parts = batches(fit_for_line(row.messages))

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
    with transaction(rt.sessions) as session:
        session.execute(
            update(OutboundMessage).where(OutboundMessage.id == outbox_id).values(**values)
        )
