"""The background worker: huey tasks that carry only database ids, plus the periodic sweep.

Storage is SQLite by default and Redis when REDIS_URL is set. The consumer is
`python -m bot.consumer` (the Procfile's `worker:`).
"""

from __future__ import annotations

import logging

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

from bot.broadcast_sender import send_announcement, start_due
from bot.config import Settings
from bot.db import transaction
from bot.inbox import drain, find_leftovers
from bot.outbox import deliver
from bot.runtime import get_runtime
from bot.ticket_sweep import sweep_tickets
from broadcast import reminders

log = logging.getLogger(__name__)


def make_huey(settings: Settings) -> Huey:
    if settings.queue_immediate:
        return MemoryHuey("smartbmn", immediate=True)
    if settings.redis_url:
        return RedisHuey("smartbmn", url=settings.redis_url)
    from pathlib import Path

    Path(settings.huey_sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("smartbmn", filename=settings.huey_sqlite_path)


huey = make_huey(Settings.from_env())


@huey.task()
def drain_inbox_task() -> None:
    """Handle every stored, unhandled event (the webhook's signal). A drain that sees several
    users waiting queues one more drain, so the other worker threads and processes share the
    work (the claim keeps each user's events in order whoever handles them)."""
    drain(get_runtime(), ask_for_help=None if huey.immediate else _one_more_drain)


def _one_more_drain() -> None:
    drain_inbox_task()


@huey.task()
def deliver_task(outbox_id: int) -> None:
    deliver(get_runtime(), outbox_id)


@huey.task()
def send_announcement_task(announcement_id: int) -> None:
    send_announcement(get_runtime(), announcement_id)


@huey.periodic_task(crontab(minute="*"))
def announcements_task() -> None:
    """Start announcements whose time has come; resume any a dead worker left half sent."""
    for announcement_id in start_due(get_runtime()):
        send_announcement_task(announcement_id)


@huey.periodic_task(crontab(minute="7"))
def reminders_task() -> None:
    """Deadline reminders from broadcast/data/deadlines.yaml (a changed date reschedules)."""
    rt = get_runtime()
    with transaction(rt.sessions) as session:
        reminders.sync(session, rt.directory)


@huey.periodic_task(crontab(minute="*"))
def ticket_sweep_task() -> None:
    """Escalate unclaimed tickets, remind silent claimers, close old resolved tickets."""
    sweep_tickets(get_runtime())


@huey.periodic_task(crontab(minute="*"))
def sweep_task() -> None:
    """Re-queue what a crash left behind; claims make a duplicate enqueue harmless."""
    leftovers = find_leftovers(get_runtime())
    if leftovers.events:
        drain_inbox_task()
    for outbox_id in leftovers.outbox:
        deliver_task(outbox_id)
    if leftovers.events or leftovers.outbox:
        log.warning(
            "sweep re-queued %d events and %d outbound messages",
            len(leftovers.events),
            len(leftovers.outbox),
        )
