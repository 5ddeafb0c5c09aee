"""People: the staff list, invites, deactivation, moves between areas, and console accounts.

Only those allowed "people" (central admins) use these. Each function re-reads the acting
person first (`refreshed`: a deactivated or demoted admin is refused at once, whatever page they
still have open), changes what it must, and writes the audit log in the same transaction.

Two rules about a person's claimed tickets:
- **Deactivation** releases every open ticket they hold: back to "waiting for a coordinator"
  at the level it is at, with a ticket event, and the coordinators there get it again in LINE.
  Nobody else could answer it otherwise (strict ownership), and a deactivated person must not
  get its reminders.
- **A move to another area** releases the same way only the tickets the person can no longer
  see in the new area; the ones still inside it stay theirs. The move is never refused for
  them: an admin moving someone cannot be expected to clear their desk first, and a released
  ticket is routed like any other (the sweep escalates it on time).
An admin cannot deactivate or demote themself (there is always someone who can undo it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from common.tables import utcnow
from faq.directory import Directory
from ticketing import audit, service, staff
from ticketing.authority import Actor, actor_of, allowed, can_see
from ticketing.errors import OutOfArea, Refused, TicketError
from ticketing.models import (
    LEVELS,
    ConsoleSession,
    Coordinator,
    InviteCode,
    StaffLogin,
    Ticket,
    TicketState,
)
from ticketing.service import Notice, area_for, new_invite_code, where_is

HELD = (TicketState.CLAIMED, TicketState.WAITING)
STAFF_ROLES = ("operator", "admin")


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    role: str
    level: str
    province: str | None
    region: str | None
    linked: bool  # a LINE account is linked
    active: bool
    last_action_at: datetime | None
    created_at: datetime
    username: str | None  # a console password account (operators, admins)
    has_totp: bool
    invite_until: datetime | None  # an unused invite code is valid until then
    holds: int  # open tickets they have claimed

    @property
    def area(self) -> str:
        return self.province or self.region or "ทั่วประเทศ"

    @property
    def place(self) -> str:
        return place(self.level, self.province, self.region)

    @property
    def works_an_area(self) -> bool:
        """A coordinator (linked by invite, movable); operators and admins are central."""
        return self.role == "coordinator"


@dataclass(frozen=True)
class Filter:
    """Whitelisted list filters (anything else is ignored)."""

    level: str | None = None
    province: str | None = None
    linked: bool | None = None
    active: bool | None = None
    role: str | None = None


@dataclass(frozen=True)
class Invite:
    person_id: int
    name: str
    place: str
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class Released:
    """What a deactivation or a move let go of, and who must be told."""

    numbers: list[str]
    notices: list[Notice]


YES_NO = {"yes": True, "no": False}


def place(level: str, province: str | None, region: str | None) -> str:
    """ "จังหวัดสุราษฎร์ธานี", "ภาคใต้", "ส่วนกลาง": where a person works, in one phrase."""
    if level == "province" and province:
        return "จังหวัด" + province
    if level == "region" and region:
        return region
    return "ส่วนกลาง"


def read_filter(args: Mapping[str, str], directory: Directory) -> Filter:
    level = args.get("level") or None
    province = args.get("province") or None
    role = args.get("role") or None
    return Filter(
        level=level if level in LEVELS else None,
        province=province if province in directory.region_of else None,
        linked=YES_NO.get(args.get("linked") or ""),
        active=YES_NO.get(args.get("active") or ""),
        role=role if role in ("coordinator", *STAFF_ROLES) else None,
    )


def _admin(session: Session, who: Actor) -> Actor:
    """`who` as they are now, if they may manage people."""
    who.must("people")  # refused before any read when the signed-in role already says no
    return allowed(session, who, "people")


def require(session: Session, who: Actor) -> None:
    """Refused unless `who` (as they are now) may manage people: the forms' pages ask first."""
    _admin(session, who)


def _people_query(now: datetime):
    holds = (
        select(Ticket.claimed_by, func.count().label("n"))
        .where(Ticket.state.in_(HELD))
        .group_by(Ticket.claimed_by)
        .subquery()
    )
    invites = (
        select(InviteCode.coordinator_id, func.max(InviteCode.expires_at).label("until"))
        .where(InviteCode.used_at.is_(None), InviteCode.expires_at > now)
        .group_by(InviteCode.coordinator_id)
        .subquery()
    )
    return (
        select(Coordinator, StaffLogin.username, StaffLogin.totp_secret, holds.c.n, invites.c.until)
        .outerjoin(StaffLogin, StaffLogin.person_id == Coordinator.id)
        .outerjoin(holds, holds.c.claimed_by == Coordinator.id)
        .outerjoin(invites, invites.c.coordinator_id == Coordinator.id)
    )


def _person(row) -> Person:
    c, username, totp, holds, until = row
    return Person(
        id=c.id,
        name=c.name,
        role=c.role,
        level=c.level,
        province=c.province,
        region=c.region,
        linked=c.line_user_id is not None,
        active=c.active,
        last_action_at=c.last_action_at,
        created_at=c.created_at,
        username=username,
        has_totp=bool(totp),
        invite_until=until,
        holds=holds or 0,
    )


def list_people(
    session: Session, who: Actor, where: Filter = Filter(), now: datetime | None = None
) -> list[Person]:
    """Coordinators and staff: active first, then by level, area and name."""
    _admin(session, who)
    q = _people_query(now or utcnow())
    if where.level:
        q = q.where(Coordinator.level == where.level)
    if where.province:
        q = q.where(Coordinator.province == where.province)
    if where.linked is not None:
        q = q.where(
            Coordinator.line_user_id.is_not(None)
            if where.linked
            else Coordinator.line_user_id.is_(None)
        )
    if where.active is not None:
        q = q.where(Coordinator.active.is_(where.active))
    if where.role:
        q = q.where(Coordinator.role == where.role)
    q = q.order_by(
        Coordinator.active.desc(),
        Coordinator.level.desc(),  # region, province, central: areas first, central last
        Coordinator.region,
        Coordinator.province,
        Coordinator.name,
        Coordinator.id,
    )
    return [_person(row) for row in session.execute(q).all()]


def get_person(session: Session, who: Actor, person_id: int, now: datetime | None = None) -> Person:
    _admin(session, who)
    row = session.execute(_people_query(now or utcnow()).where(Coordinator.id == person_id)).first()
    if row is None:
        raise OutOfArea()  # the console answers 404
    return _person(row)


def _target(session: Session, person_id: int) -> Coordinator:
    person = session.get(Coordinator, person_id, with_for_update=True)
    if person is None:
        raise OutOfArea()
    return person


# -- invites ----------------------------------------------------------------------------------------


def invite(
    session: Session,
    who: Actor,
    directory: Directory,
    name: str,
    level: str,
    province: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> Invite:
    """A new coordinator and their one-time code (shown once; only its hash is kept)."""
    me = _admin(session, who)
    now = now or utcnow()
    person, code = service.invite(session, me, directory, name, level, province, region, now)
    return Invite(
        person.id,
        person.name,
        place(person.level, person.province, person.region),
        code,
        now + service.INVITE_TTL,
    )


def reinvite(session: Session, who: Actor, person_id: int, now: datetime | None = None) -> Invite:
    """A fresh code for an existing coordinator (the first expired, or a new phone): their
    earlier unused codes stop working; linking it replaces the LINE account linked before."""
    me = _admin(session, who)
    person = _target(session, person_id)
    if person.role != "coordinator":
        raise TicketError("เจ้าหน้าที่ส่วนกลางเข้าระบบด้วยชื่อผู้ใช้และรหัสผ่าน ไม่ต้องใช้รหัสลงทะเบียน")
    if not person.active:
        raise TicketError("บัญชีนี้ถูกระงับอยู่ เปิดใช้งานก่อนจึงออกรหัสใหม่ได้")
    now = now or utcnow()
    code = new_invite_code(session, person.id, now)
    audit.log(session, me, "person.invite", audit.person(person.id), "รหัสใหม่", now=now)
    return Invite(
        person.id,
        person.name,
        place(person.level, person.province, person.region),
        code,
        now + service.INVITE_TTL,
    )


# -- active or not ----------------------------------------------------------------------------------


def _release(
    session: Session, me: Actor, person: Coordinator, keep, reason: str, now: datetime
) -> Released:
    """Let go of the open tickets `person` holds that `keep(ticket)` does not keep: each goes
    back to "waiting for a coordinator" at its level; those there get it again in LINE."""
    numbers: list[str] = []
    notices: list[Notice] = []
    held = session.scalars(
        select(Ticket)
        .where(Ticket.claimed_by == person.id, Ticket.state.in_(HELD))
        .order_by(Ticket.id)
        .with_for_update()
    ).all()
    for ticket in held:
        if keep(ticket):
            continue
        won = session.execute(
            update(Ticket)
            .where(
                and_(
                    Ticket.id == ticket.id,
                    Ticket.claimed_by == person.id,
                    Ticket.state.in_(HELD),
                )
            )
            .values(state=TicketState.NEW, claimed_by=None, claimed_at=None, reminded_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            continue
        before = ticket.state
        session.refresh(ticket)
        service.record(
            session, ticket, me.tag, TicketState.NEW, f"ปล่อยเรื่อง: {reason}", from_state=before
        )
        audit.log(session, me, "ticket.release", audit.ticket(ticket.id), reason, now=now)
        numbers.append(ticket.number)
        notices.extend(where_is(session, ticket).notices("escalated", ticket.id))
    return Released(numbers, notices)


def deactivate(
    session: Session, who: Actor, person_id: int, now: datetime | None = None
) -> Released:
    """Their LINE actions and console sessions end at once; their unused invite codes stop
    working; the tickets they held go back to the queue (see the module docstring)."""
    me = _admin(session, who)
    now = now or utcnow()
    person = _target(session, person_id)
    if not person.active:
        raise TicketError(f"{person.name} ถูกระงับการใช้งานอยู่แล้ว")
    staff.deactivate(session, me, person_id, now)
    service.expire_invites(session, person_id, now)
    return _release(session, me, person, lambda t: False, f"{person.name} ถูกระงับการใช้งาน", now)


def reactivate(session: Session, who: Actor, person_id: int, now: datetime | None = None) -> None:
    """They may act again (a new sign-in; sessions ended at deactivation stay ended)."""
    me = _admin(session, who)
    person = _target(session, person_id)
    if person.active:
        raise TicketError(f"{person.name} ใช้งานได้อยู่แล้ว")
    person.active = True
    audit.log(session, me, "person.reactivate", audit.person(person_id), person.name, now=now)


# -- moving -----------------------------------------------------------------------------------------


def move(
    session: Session,
    who: Actor,
    directory: Directory,
    person_id: int,
    level: str,
    province: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> Released:
    """A coordinator to another level or area (checked against the directory). Tickets they
    hold that the new area cannot see are released (see the module docstring)."""
    me = _admin(session, who)
    now = now or utcnow()
    person = _target(session, person_id)
    if person.role != "coordinator":
        raise TicketError("เจ้าหน้าที่ Call Desk และผู้ดูแลระบบอยู่ส่วนกลาง ย้ายพื้นที่ไม่ได้")
    province, region = area_for(directory, level, province, region)
    before = person.province or person.region or "ทั่วประเทศ"
    after = province or region or "ทั่วประเทศ"
    if (person.level, person.province, person.region) == (level, province, region):
        raise TicketError(f"{person.name} อยู่ที่{after}แล้ว")
    person.level, person.province, person.region = level, province, region
    session.flush()
    audit.log(
        session,
        me,
        "person.move",
        audit.person(person.id),
        f"{before} ({person_level_word(level)}) → {after}",
        now=now,
    )
    moved = actor_of(person, "line")
    return _release(
        session,
        me,
        person,
        lambda t: can_see(moved, t),
        f"{person.name} ย้ายไป{after}",
        now,
    )


def person_level_word(level: str) -> str:
    return service.LEVEL_WORDS.get(level, level)


# -- console accounts (operators and admins) --------------------------------------------------------


def create_account(
    session: Session,
    who: Actor,
    username: str,
    name: str,
    role: str,
    password: str,
    with_totp: bool = False,
) -> tuple[int, str | None]:
    """An operator or admin; the TOTP secret (always for admins) is returned to be shown once."""
    me = _admin(session, who)
    if role not in STAFF_ROLES:
        raise TicketError("บทบาทต้องเป็นเจ้าหน้าที่ Call Desk หรือผู้ดูแลระบบ")
    if not name.strip():
        raise TicketError("กรุณาใส่ชื่อ")
    person, secret = staff.create_staff(
        session, me, username, name.strip(), role, password, with_totp
    )
    return person.id, secret


def _login(session: Session, person_id: int) -> StaffLogin:
    _target(session, person_id)
    login = session.get(StaffLogin, person_id)
    if login is None:
        raise TicketError("บัญชีนี้ไม่มีรหัสผ่าน (ผู้ประสานงานเข้าระบบด้วย LINE)")
    return login


def reset_password(
    session: Session, who: Actor, person_id: int, password: str, now: datetime | None = None
) -> int:
    """A new password; every session of theirs ends. Returns how many sessions ended."""
    me = _admin(session, who)
    _login(session, person_id)
    live = _live_sessions(session, person_id)
    staff.change_password(session, me, person_id, password, now)
    return live


def new_totp(session: Session, who: Actor, person_id: int, now: datetime | None = None) -> str:
    """A new second-factor secret (a lost phone): shown once; every session of theirs ends."""
    me = _admin(session, who)
    login = _login(session, person_id)
    login.totp_secret = pyotp.random_base32()
    staff.end_sessions_of(session, person_id, now)
    audit.log(session, me, "person.totp", audit.person(person_id), now=now)
    return login.totp_secret


def set_role(
    session: Session, who: Actor, person_id: int, role: str, now: datetime | None = None
) -> str | None:
    """Operator ↔ admin. Never oneself. An admin must have a second factor: a new operator
    made admin without one gets a TOTP secret, returned to be shown once."""
    me = _admin(session, who)
    if person_id == me.person_id:
        raise Refused("เปลี่ยนบทบาทของตนเองไม่ได้")
    if role not in STAFF_ROLES:
        raise TicketError("บทบาทต้องเป็นเจ้าหน้าที่ Call Desk หรือผู้ดูแลระบบ")
    login = _login(session, person_id)
    person = _target(session, person_id)
    if person.role == role:
        raise TicketError("บทบาทนี้อยู่แล้ว")
    before = person.role
    person.role = role
    secret = None
    if role == "admin" and not login.totp_secret:
        secret = login.totp_secret = pyotp.random_base32()
    staff.end_sessions_of(session, person_id, now)  # the next sign-in has the new role
    audit.log(session, me, "person.role", audit.person(person_id), f"{before} → {role}", now=now)
    return secret


def username_of(session: Session, who: Actor, person_id: int) -> str:
    _admin(session, who)
    return _login(session, person_id).username


def _live_sessions(session: Session, person_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(ConsoleSession)
        .where(ConsoleSession.person_id == person_id, ConsoleSession.ended_at.is_(None))
    )
