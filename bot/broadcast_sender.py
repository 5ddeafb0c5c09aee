"""Sending an announcement: batch after batch, each with its own stored retry key.

A worker killed mid-send leaves batches "pending"; whoever resumes sends them with the same
keys, and LINE answers 409 for the ones it had already accepted (counted as delivered), so no
recipient gets two copies. The multicast rate is shared by all workers (bot/ratelimit.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from bot.db import on_fresh_connection, transaction
from bot.line_client import LineRejected, LineUnavailable
from bot.models import utcnow
from broadcast import service
from broadcast.models import Announcement, Batch, Status

LINE_STATS_TZ = timezone(timedelta(hours=9))

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# A sender renews its lease after every batch; one silent this long is presumed dead.
LEASE = timedelta(seconds=float(os.environ.get("BROADCAST_LEASE_S", "120")))
SENDERS = 8  # concurrent requests; the shared limiter keeps them under LINE's rate


def start_due(rt: Runtime, now: datetime | None = None) -> list[int]:
    """Announcements whose time has come, plus any a dead worker left half sent."""
    now = now or utcnow()
    with rt.sessions() as session:
        ready = service.due(session, now)
        stalled = list(
            session.scalars(
                select(Announcement.id).where(
                    Announcement.status == Status.SENDING,
                    or_(Announcement.claimed_at.is_(None), Announcement.claimed_at < now - LEASE),
                )
            )
        )
    return ready + stalled


def reachable_followers(rt: Runtime, now: datetime) -> int | None:
    """LINE's count of the friends a broadcast reaches, from its follower statistics (LINE's
    calendar is UTC+9). LINE computes a day's figures after it ends ("usually about 1 day"), so
    yesterday's may be "unready": then the day before is asked. None when neither is ready, and
    the quota check counts the followers this bot has met."""
    today = now.astimezone(LINE_STATS_TZ).date()
    for days_ago in (1, 2):
        try:
            count = rt.line.reachable_followers(today - timedelta(days=days_ago))
        except (LineRejected, LineUnavailable) as exc:
            log.warning("follower statistics not available: %s", exc)
            return None
        if count is not None:
            return count
    return None


class _Lease:
    """The sender's hold on an announcement, renewed as batches go out: at most once a second
    (a renewal per batch was 300 writes for one announcement), far within `LEASE`."""

    EVERY_S = 1.0

    def __init__(self, rt: Runtime, announcement_id: int) -> None:
        self._rt, self._id = rt, announcement_id
        self._renewed = time.monotonic()
        self._lock = threading.Lock()

    def renew(self) -> None:
        with self._lock:
            if time.monotonic() - self._renewed < self.EVERY_S:
                return
            self._renewed = time.monotonic()
        statement = (
            update(Announcement).where(Announcement.id == self._id).values(claimed_at=utcnow())
        )
        on_fresh_connection(self._rt.statement_engine, lambda conn: conn.execute(statement))


def send_announcement(rt: Runtime, announcement_id: int, now: datetime | None = None) -> str | None:
    """Start (if scheduled) and send every pending batch; returns the final status."""
    now = now or utcnow()
    began = time.perf_counter()
    with rt.sessions() as session:
        row = session.execute(
            select(Announcement.status, Announcement.audience).where(
                Announcement.id == announcement_id
            )
        ).first()
    status = row.status if row else None
    if row is not None and status == Status.SCHEDULED:
        quota = rt.line.quota()
        limit = int(quota["value"]) if quota.get("type") == "limited" else None
        everyone = reachable_followers(rt, now) if row.audience["kind"] == "all" else None
        with transaction(rt.sessions) as session:
            started = service.start(
                session,
                announcement_id,
                rt.directory,
                service.Quota(limit, rt.line.quota_consumption(), everyone),
                now=now,
            )
            if started is None or started.status != Status.SENDING:
                return started.status if started else None
    elif status != Status.SENDING:
        return status
    # Take (or take over) the sending lease.
    with transaction(rt.sessions) as session:
        won = session.execute(
            update(Announcement)
            .where(
                Announcement.id == announcement_id,
                Announcement.status == Status.SENDING,
                or_(
                    Announcement.claimed_at.is_(None),
                    Announcement.claimed_at < now - LEASE,
                    Announcement.claimed_at == now,  # we just started it
                ),
            )
            .values(claimed_at=utcnow())
        ).rowcount
        announcement = session.get(Announcement, announcement_id)
        assert announcement is not None
        messages = service.messages(announcement)
        pending = list(
            session.execute(
                select(Batch.id, Batch.recipients, Batch.retry_key)
                .where(Batch.announcement_id == announcement_id, Batch.status == "pending")
                .order_by(Batch.seq)
            )
        )
    if won != 1:
        return None  # another worker is sending it
    limiter = rt.broadcast_limiter
    lease = _Lease(rt, announcement_id)
    sending = time.perf_counter()

    def send(batch: tuple[int, list[str], str]) -> None:
        batch_id, recipients, retry_key = batch
        limiter.acquire()
        try:
            if recipients:
                result = rt.line.multicast(recipients, messages, retry_key)
            else:
                result = rt.line.broadcast(messages, retry_key)
            values = {"status": "sent", "status_code": result.status, "sent_at": utcnow()}
        except LineRejected as exc:
            values = {"status": "failed", "status_code": exc.status, "error": exc.message[:500]}
        except LineUnavailable as exc:  # stays pending: resumed by the next sweep
            values = {"status_code": exc.status, "error": exc.message[:500]}
        record = (
            update(Batch).where(Batch.id == batch_id).values(attempts=Batch.attempts + 1, **values)
        )
        on_fresh_connection(rt.statement_engine, lambda conn: conn.execute(record))
        lease.renew()

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(send, pending))
    with transaction(rt.sessions) as session:
        final = service.finish_if_done(session, announcement_id)
        if final is None:  # LINE unavailable for some batches: release, the sweep resumes
            session.execute(
                update(Announcement)
                .where(Announcement.id == announcement_id)
                .values(claimed_at=None)
            )
    done = time.perf_counter()
    log.info(
        "announcement %s: %s; %d batches sent in %.2f s after %.2f s of preparation",
        announcement_id,
        final or "paused (LINE unavailable)",
        len(pending),
        done - sending,
        sending - began,
    )
    return final or Status.SENDING
