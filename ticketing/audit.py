"""The audit log: who did what to which ticket or account, when, and from where.

Append-only (`AuditEntry` rows are never updated or deleted). Written by the domain functions
themselves, in the same transaction as the change, so no path — LINE, console, shell or the
sweep — can act without leaving its line."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from common.tables import utcnow
from ticketing.authority import Actor
from ticketing.models import AuditEntry, Coordinator


def log(
    session: Session,
    who: Actor | str,
    action: str,
    target: str,
    detail: str | None = None,
    now: datetime | None = None,
) -> None:
    """`who`: a staff Actor, or "volunteer:<LINE id>", "cli" (a shell command on the server)
    or "system" (the sweep)."""
    now = now or utcnow()
    if isinstance(who, Actor):
        session.add(
            AuditEntry(
                at=now,
                actor=who.tag,
                actor_name=who.name,
                action=action,
                target=target,
                detail=detail,
                via=who.via,
                address=who.address,
            )
        )
        session.execute(
            update(Coordinator)
            .where(Coordinator.id == who.person_id)
            .values(last_action_at=now)
            .execution_options(synchronize_session=False)
        )
    else:
        via = "line" if who.startswith("volunteer") else "cli" if who == "cli" else "system"
        session.add(
            AuditEntry(at=now, actor=who, action=action, target=target, detail=detail, via=via)
        )


def ticket(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def person(person_id: int) -> str:
    return f"person:{person_id}"
