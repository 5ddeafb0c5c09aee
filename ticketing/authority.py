"""Who may see and do what — decided here once, the same for LINE and the console.

An `Actor` is a staff member acting through one channel (`via`): a coordinator tapping a button
in LINE, anyone signed in to the console, or a shell command. Every domain function that changes
a ticket or an account takes an Actor and re-reads the person before acting (`current`), so a
deactivation or a move to another area takes effect on the very next action, whatever page or
chat the person still has open.

Seeing a ticket: operators, admins and central coordinators see every ticket; a region
coordinator their region's; a province coordinator their province's. What else each role may
do is in `ALLOWED`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from ticketing.errors import Refused
from ticketing.models import Coordinator, Ticket

# What each role may do beyond working the tickets it can see.
ALLOWED: dict[str, frozenset[str]] = {
    "coordinator": frozenset(),
    "operator": frozenset({"log-call", "announce", "snippets"}),
    "admin": frozenset({"log-call", "announce", "snippets", "people", "audit", "settings"}),
}
ABILITIES = frozenset().union(*ALLOWED.values())


@dataclass(frozen=True)
class Actor:
    person_id: int
    name: str
    role: str  # coordinator | operator | admin
    level: str  # province | region | central
    province: str | None
    region: str | None
    via: str = "line"  # line | console | cli
    address: str | None = None  # the console's client address

    @property
    def tag(self) -> str:
        """How the ticket log and the audit log name this person."""
        return f"coordinator:{self.person_id}"

    @property
    def sees_everything(self) -> bool:
        return self.role in ("operator", "admin") or self.level == "central"

    def may(self, what: str) -> bool:
        return what in ALLOWED.get(self.role, frozenset())

    def must(self, what: str) -> None:
        if not self.may(what):
            raise Refused()


def actor_of(person: Coordinator, via: str, address: str | None = None) -> Actor:
    return Actor(
        person.id,
        person.name,
        person.role,
        person.level,
        person.province,
        person.region,
        via,
        address,
    )


def person_with_line(session: Session, user_id: str | None) -> Coordinator | None:
    """The active staff member whose LINE account this is (a LINE button, LINE Login)."""
    if not user_id:
        return None
    return session.scalars(
        select(Coordinator).where(Coordinator.line_user_id == user_id, Coordinator.active)
    ).first()


def line_actor(session: Session, user_id: str | None) -> Actor | None:
    """The active staff member whose LINE account this is, acting in LINE."""
    person = person_with_line(session, user_id)
    return actor_of(person, "line") if person is not None else None


def current(session: Session, who: Actor) -> Coordinator:
    """The person as the database has them now; refused when deactivated or gone."""
    person = session.get(Coordinator, who.person_id)
    if person is None or not person.active:
        raise Refused("บัญชีนี้ถูกระงับการใช้งานแล้ว")
    return person


def refreshed(session: Session, who: Actor) -> Actor:
    """`who` with today's role and area (they may have been moved since signing in)."""
    return actor_of(current(session, who), who.via, who.address)


def allowed(session: Session, who: Actor, what: str) -> Actor:
    """`who` as they are now, if they may do `what` (see ALLOWED); `Refused` otherwise."""
    me = refreshed(session, who)
    me.must(what)
    return me


def can_see(who: Actor, ticket: Ticket) -> bool:
    if who.sees_everything:
        return True
    if who.level == "region":
        return ticket.region == who.region
    return who.level == "province" and ticket.province == who.province


def visible(who: Actor) -> ColumnElement[bool]:
    """SQL: the tickets `who` can see (the same rule as `can_see`)."""
    if who.sees_everything:
        return true()
    if who.level == "region":
        return Ticket.region == who.region
    if who.level == "province":
        return Ticket.province == who.province
    return ~true()
