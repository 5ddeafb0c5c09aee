"""The periodic sweep: unclaimed tickets go up a level, silent claimers get a reminder,
resolved tickets close after three days.

Every change is one conditional UPDATE on rows found through an index, so two sweeps (or two
workers) at once change each ticket once, and a sweep after downtime catches up: a ticket
already past the central deadline goes straight to central.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common.thaidate import thai_duration
from ticketing.models import Coordinator, Ticket, TicketState
from ticketing.service import Notice, record, route, routing_note

BATCH = 500


@dataclass(frozen=True)
class Timings:
    region_after: timedelta = timedelta(minutes=30)
    central_after: timedelta = timedelta(minutes=60)  # from creation
    remind_after: timedelta = timedelta(minutes=30)  # claimed, no answer yet
    close_after: timedelta = timedelta(days=3)  # after resolution


@dataclass(frozen=True)
class Deadline:
    """When the sweep next acts on an open ticket by itself, and what it will do then:
    `region` / `central` (an unclaimed ticket goes up), `remind` (its claimer is reminded)."""

    at: datetime
    what: str


def next_deadline(ticket: Ticket, timings: Timings) -> Deadline | None:
    """The sweep's next step for `ticket` (the same rules as `sweep`), or None when the sweep
    will not touch it again by itself (answered, at central, resolved, closed).

    Pure: reads only the ticket's fields, so the queue and the ticket page can show a
    countdown for any number of tickets without a query each."""
    if ticket.state == TicketState.NEW:
        central = Deadline(ticket.created_at + timings.central_after, "central")
        if ticket.level == "province" and timings.region_after < timings.central_after:
            return Deadline(ticket.created_at + timings.region_after, "region")
        return central if ticket.level in ("province", "region") else None
    if (
        ticket.state == TicketState.CLAIMED
        and ticket.claimed_at is not None
        and ticket.last_reply_at is None
        and ticket.reminded_at is None
    ):
        return Deadline(ticket.claimed_at + timings.remind_after, "remind")
    return None


def _due(session: Session, *conditions) -> list[int]:
    return list(
        session.scalars(select(Ticket.id).where(*conditions).order_by(Ticket.id).limit(BATCH))
    )


def _take(session: Session, ticket_id: int, values: dict, *conditions) -> Ticket | None:
    won = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        return None  # another sweep got there first
    ticket = session.get(Ticket, ticket_id, populate_existing=True)
    assert ticket is not None
    return ticket


def _event(session: Session, ticket: Ticket, note: str, from_state: str | None = None) -> None:
    """Log the sweep's change; `from_state` when the state itself changed."""
    record(session, ticket, "system", ticket.state, note, from_state=from_state or ticket.state)


@dataclass
class SweepResult:
    notices: list[Notice]
    changed: int  # tickets changed; BATCH or more means "call again"


def sweep(session: Session, now: datetime, timings: Timings) -> SweepResult:
    """One pass over at most BATCH tickets per rule."""
    notices: list[Notice] = []
    changed = 0
    unclaimed = Ticket.state == TicketState.NEW

    # Past the central deadline: straight to central, whatever level it is at.
    for ticket_id in _due(
        session,
        unclaimed,
        Ticket.level.in_(("province", "region")),
        Ticket.created_at <= now - timings.central_after,
    ):
        ticket = _take(
            session, ticket_id, {"level": "central"}, unclaimed, Ticket.level != "central"
        )
        if ticket:
            changed += 1
            routed = route(session, ticket, "central")
            _event(session, ticket, "ยังไม่มีผู้รับเรื่อง: " + routing_note(routed))
            notices += routed.notices("escalated", ticket.id)

    for ticket_id in _due(
        session,
        unclaimed,
        Ticket.level == "province",
        Ticket.created_at <= now - timings.region_after,
    ):
        ticket = _take(
            session, ticket_id, {"level": "region"}, unclaimed, Ticket.level == "province"
        )
        if ticket:
            changed += 1
            routed = route(session, ticket, "region")
            ticket.level = routed.level
            _event(session, ticket, "ยังไม่มีผู้รับเรื่อง: " + routing_note(routed))
            notices += routed.notices("escalated", ticket.id)

    claimed = Ticket.state == TicketState.CLAIMED
    for ticket_id in _due(
        session,
        claimed,
        Ticket.claimed_at <= now - timings.remind_after,
        Ticket.last_reply_at.is_(None),
        Ticket.reminded_at.is_(None),
    ):
        ticket = _take(
            session, ticket_id, {"reminded_at": now}, claimed, Ticket.reminded_at.is_(None)
        )
        if ticket and ticket.claimed_by:
            changed += 1
            owner = session.get(Coordinator, ticket.claimed_by)
            _event(session, ticket, "เตือนผู้รับเรื่อง: ยังไม่ได้ตอบอาสาสมัคร")
            if owner and owner.line_user_id:
                notices.append(Notice(owner.line_user_id, "reminder", ticket.id))

    resolved = Ticket.state == TicketState.RESOLVED
    for ticket_id in _due(session, resolved, Ticket.resolved_at <= now - timings.close_after):
        ticket = _take(
            session, ticket_id, {"state": TicketState.CLOSED, "closed_at": now}, resolved
        )
        if ticket:
            changed += 1
            _event(
                session,
                ticket,
                f"ปิดอัตโนมัติ: ครบ {thai_duration(timings.close_after.total_seconds())} หลังแก้ไข",
                from_state=TicketState.RESOLVED,
            )
    return SweepResult([n for n in notices if n.to], changed)
