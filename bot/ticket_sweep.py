"""The worker's ticket sweep: escalations, reminders and closing, with their messages; and
expired conversation steps are dropped."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.db import transaction
from bot.models import utcnow
from bot.notices import stage
from bot.outbox import deliver
from ticketing import service
from ticketing.escalation import BATCH, sweep

if TYPE_CHECKING:
    from bot.runtime import Runtime


def sweep_tickets(rt: Runtime, now: datetime | None = None, send: bool = True) -> int:
    """Run the sweep until nothing is due; the messages are committed with the changes."""
    now = now or utcnow()
    changed_total = 0
    while True:
        with transaction(rt.sessions) as session:
            result = sweep(session, now, rt.timings)
            outbox_ids = stage(session, rt, result.notices)
        changed_total += result.changed
        if send:
            for outbox_id in outbox_ids:
                deliver(rt, outbox_id)
        if result.changed < BATCH:
            break
    with transaction(rt.sessions) as session:
        service.expire_flows(session, now)
    return changed_total
