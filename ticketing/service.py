"""Support tickets: open, route, claim, answer, escalate, resolve, rate, reopen, close.

Plain functions on a SQLAlchemy session. Each returns the `Notice`s the change calls for; the
caller (a LINE handler or the worker's sweep) turns them into outbox rows in the same
transaction, so a ticket and the messages about it are committed together.

Routing follows the 2563 letter: the volunteer's province → its region → central.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from common.tables import utcnow
from faq.directory import Directory
from faq.models import FaqAnswer
from ticketing import audit, conversation
from ticketing.authority import (
    Actor,
    actor_of,
    allowed,
    can_see,
    current,
    person_with_line,
)
from ticketing.errors import HeldByOther, OutOfArea, TicketError
from ticketing.models import (
    LEVELS,
    CallBack,
    ChatState,
    Coordinator,
    InviteCode,
    LinkAttempt,
    Ticket,
    TicketEvent,
    TicketImage,
    TicketMessage,
    TicketState,
    Volunteer,
)

INVITE_TTL = timedelta(hours=24)
# Wrong invite codes a LINE user may try in a window before every try is refused: a code has
# 48 random bits, so this only stops a script, never a person who mistyped twice.
LINK_TRIES, LINK_WINDOW = 5, timedelta(hours=1)
# A conversation step left alone this long is over: a coordinator's forgotten ตอบกลับ must not
# send tomorrow's unrelated text to a volunteer, nor a stale report swallow a new question.
FLOW_TTL = timedelta(hours=2)
# Screenshots: five while a report is written (one push to a coordinator carries the card and
# four more), and at most ten from the volunteer on a ticket in all: each is stored and relayed.
MAX_DRAFT_IMAGES = 5
MAX_TICKET_SCREENSHOTS = 10


@dataclass(frozen=True)
class Asked:
    """A question the volunteer asked the FAQ before opening a ticket."""

    text: str
    faq_topic: str | None
    at: datetime


@dataclass(frozen=True)
class Notice:
    """Someone must be told something about a ticket; the LINE side words it."""

    to: str  # LINE user id
    # new | escalated | reply | resolved | reminder | relay | reopened | claimed-by |
    # taken-over | closed | merged | reassigned | reassigned-away (ticketing.desk);
    # extra["image"]: the id of a TicketImage that goes with a relay, reopening or reply
    kind: str
    ticket_id: int
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """Where a ticket is addressed and who can see it there.

    `skipped`: lower levels passed over because nobody there has linked LINE. With no `people`
    the ticket is *unattended*: it waits at central for staff (CLI, console) to take it."""

    level: str
    people: tuple[Coordinator, ...]
    skipped: tuple[str, ...] = ()

    @property
    def unattended(self) -> bool:
        return not self.people

    def notices(self, kind: str, ticket_id: int) -> list[Notice]:
        return [Notice(p.line_user_id, kind, ticket_id) for p in self.people if p.line_user_id]


# -- volunteers ---------------------------------------------------------------------------------


def volunteer(session: Session, user_id: str) -> Volunteer:
    """The volunteer's row, created on first sight. `INSERT … ON CONFLICT DO NOTHING` first, so
    two writers meeting a new user at once (two events, the console) never collide on the key."""
    found = session.get(Volunteer, user_id)
    if found is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(Volunteer)
            .values(user_id=user_id, following=True, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        found = session.get(Volunteer, user_id)
        assert found is not None
    return found


def set_province(session: Session, user_id: str, province: str, directory: Directory) -> None:
    if province not in directory.region_of:
        raise TicketError("ไม่พบจังหวัดนี้ในโครงการ กรุณาพิมพ์ชื่อจังหวัดอีกครั้ง")
    volunteer(session, user_id).province = province


# -- coordinators -------------------------------------------------------------------------------


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def area_for(
    directory: Directory, level: str, province: str | None, region: str | None
) -> tuple[str | None, str | None]:
    """The (province, region) a coordinator of `level` works in, checked against the directory:
    a province level needs a known province (its region follows), a region level a known
    region, central neither."""
    if level not in LEVELS:
        raise TicketError(f"ระดับต้องเป็นหนึ่งใน {', '.join(LEVELS)} (ได้รับ {level!r})")
    if level == "province":
        if province not in directory.region_of:
            raise TicketError(f"ไม่พบจังหวัด {province!r} ในโครงการ")
        return province, directory.region_of[province]
    if level == "region":
        if region not in directory.regions:
            raise TicketError(f"ไม่พบภาค {region!r} เลือกหนึ่งใน {', '.join(directory.regions)}")
        return None, region
    return None, None


def expire_invites(session: Session, person_id: int, now: datetime) -> None:
    """Every unused invite code of `person_id` stops working now."""
    session.execute(
        update(InviteCode)
        .where(
            InviteCode.coordinator_id == person_id,
            InviteCode.used_at.is_(None),
            InviteCode.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )


def new_invite_code(session: Session, person_id: int, now: datetime | None = None) -> str:
    """A one-time code (valid `INVITE_TTL`) for linking a LINE account to `person_id`; any
    earlier unused code of theirs stops working."""
    now = now or utcnow()
    expire_invites(session, person_id, now)
    code = "-".join(secrets.token_hex(2).upper() for _ in range(3))  # e.g. 9F2A-11C0-7B3E
    session.add(
        InviteCode(coordinator_id=person_id, code_hash=_hash(code), expires_at=now + INVITE_TTL)
    )
    return code


def invite_coordinator(
    session: Session,
    who: Actor | str,
    directory: Directory,
    name: str,
    level: str,
    province: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> str:
    """Create a coordinator and a one-time code (valid 24 h) for linking their LINE account.
    `who`: an admin (an Actor allowed "people", as they are now) or "cli" (a shell command on
    the server). Audit-logged as person.invite."""
    return invite(session, who, directory, name, level, province, region, now)[1]


def invite(
    session: Session,
    who: Actor | str,
    directory: Directory,
    name: str,
    level: str,
    province: str | None = None,
    region: str | None = None,
    now: datetime | None = None,
) -> tuple[Coordinator, str]:
    """`invite_coordinator`, returning the new coordinator too."""
    if isinstance(who, Actor):
        allowed(session, who, "people")
    name = name.strip()
    if not name:
        raise TicketError("กรุณาใส่ชื่อผู้ประสานงาน")
    province, region = area_for(directory, level, province, region)
    person = Coordinator(name=name[:200], level=level, province=province, region=region)
    session.add(person)
    session.flush()
    code = new_invite_code(session, person.id, now)
    area = province or region or "ส่วนกลาง"
    audit.log(session, who, "person.invite", audit.person(person.id), f"{name} {area}", now=now)
    return person, code


def link_coordinator(
    session: Session, user_id: str, code: str, now: datetime | None = None
) -> Coordinator:
    """Link a LINE account to the coordinator an invite code was made for. Every try is
    recorded; past `LINK_TRIES` wrong ones in `LINK_WINDOW`, even a right code waits."""
    now = now or utcnow()
    wrong = session.scalar(
        select(func.count())
        .select_from(LinkAttempt)
        .where(
            LinkAttempt.user_id == user_id,
            LinkAttempt.succeeded.is_(False),
            LinkAttempt.at > now - LINK_WINDOW,
        )
    )
    if wrong >= LINK_TRIES:
        raise TicketError("ใส่รหัสลงทะเบียนผิดหลายครั้งเกินไป กรุณารอ 1 ชั่วโมงแล้วลองใหม่ หรือติดต่อส่วนกลาง")
    attempt = LinkAttempt(user_id=user_id, at=now, succeeded=False)
    session.add(attempt)
    invite = session.scalars(select(InviteCode).where(InviteCode.code_hash == _hash(code))).first()
    if invite is None or invite.used_at is not None or invite.expires_at < now:
        raise TicketError("รหัสลงทะเบียนไม่ถูกต้อง ใช้แล้ว หรือหมดอายุ กรุณาขอรหัสใหม่จากส่วนกลาง")
    person = session.get(Coordinator, invite.coordinator_id)
    if person is None or not person.active:
        raise TicketError("รหัสลงทะเบียนไม่ถูกต้อง ใช้แล้ว หรือหมดอายุ กรุณาขอรหัสใหม่จากส่วนกลาง")
    other = coordinator_for(session, user_id)
    if other is not None and other.id != person.id:
        other.line_user_id = None  # one LINE account, one coordinator role
    attempt.succeeded = True
    invite.used_at = now
    person.line_user_id = user_id
    person.linked_at = now
    audit.log(
        session, actor_of(person, "line"), "person.link-line", audit.person(person.id), now=now
    )
    return person


def coordinator_for(session: Session, user_id: str | None) -> Coordinator | None:
    """The active staff member whose LINE account this is."""
    return person_with_line(session, user_id)


def coordinators_at(session: Session, level: str, province: str, region: str) -> list[Coordinator]:
    """Active, LINE-linked coordinators of one level for a ticket's area."""
    query = select(Coordinator).where(
        Coordinator.level == level, Coordinator.line_user_id.is_not(None), Coordinator.active
    )
    if level == "province":
        query = query.where(Coordinator.province == province)
    elif level == "region":
        query = query.where(Coordinator.region == region)
    return list(session.scalars(query.order_by(Coordinator.id)))


# -- opening and routing ------------------------------------------------------------------------

LEVEL_WORDS = {"province": "จังหวัด", "region": "ภาค", "central": "ส่วนกลาง"}


def routing_note(routed: Route) -> str:
    """The ticket log's line for a routing decision (staff read it; Thai like everything)."""
    note = f"ส่งถึงระดับ{LEVEL_WORDS[routed.level]}"
    if routed.skipped:
        note += (
            " (ข้ามระดับ" + ", ".join(LEVEL_WORDS[lv] for lv in routed.skipped) + ": ไม่มีผู้ประสานงาน)"
        )
    if routed.unattended:
        note += " — ยังไม่มีผู้รับเรื่อง"
    return note


def record(
    session: Session,
    ticket: Ticket,
    actor: str,
    to_state: str,
    note: str | None = None,
    from_state: str | None = None,
) -> None:
    """Append to the ticket's event log (rows are never updated or deleted)."""
    session.add(
        TicketEvent(
            ticket_id=ticket.id, actor=actor, from_state=from_state, to_state=to_state, note=note
        )
    )


def _transition(
    session: Session, ticket: Ticket, to: str, actor: str, note: str | None = None
) -> None:
    record(session, ticket, actor, to, note, from_state=ticket.state)
    ticket.state = to


def route(session: Session, ticket: Ticket, start: str = "province") -> Route:
    """The first level, from `start` up, that has a linked coordinator for the ticket's area;
    central with nobody when no level has one."""
    levels = LEVELS[LEVELS.index(start) :]
    for i, level in enumerate(levels):
        people = coordinators_at(session, level, ticket.province, ticket.region)
        if people:
            return Route(level, tuple(people), levels[:i])
    return Route("central", (), levels[:-1])


def where_is(session: Session, ticket: Ticket) -> Route:
    """Who can see the ticket at its level now (for telling the volunteer or staff truthfully)."""
    people = coordinators_at(session, ticket.level, ticket.province, ticket.region)
    below = LEVELS[: LEVELS.index(ticket.level)]
    skipped = tuple(
        level
        for level in below
        if not coordinators_at(session, level, ticket.province, ticket.region)
    )
    return Route(ticket.level, tuple(people), skipped)


def seen_by_nobody() -> ColumnElement[bool]:
    """SQL: the ticket's level has no linked coordinator for its area (see `unattended`)."""
    c = Coordinator
    return ~exists().where(
        c.line_user_id.is_not(None),
        c.active,
        c.level == Ticket.level,
        or_(
            c.level == "central",
            and_(c.level == "region", c.region == Ticket.region),
            and_(c.level == "province", c.province == Ticket.province),
        ),
    )


def unattended_tickets(session: Session, limit: int = 100) -> list[Ticket]:
    """Open tickets nobody can see in LINE, oldest first: staff must take these."""
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.state.in_(TicketState.OPEN), seen_by_nobody())
            .order_by(Ticket.id)
            .limit(limit)
        )
    )


def unattended(session: Session, ticket: Ticket) -> bool:
    """Open and addressed to a level where nobody for its area has linked LINE."""
    return ticket.state in TicketState.OPEN and not coordinators_at(
        session, ticket.level, ticket.province, ticket.region
    )


def open_ticket(
    session: Session,
    directory: Directory,
    user_id: str,
    description: str,
    category: str | None = None,
    asked: Sequence[Asked] = (),
    now: datetime | None = None,
) -> tuple[Ticket, list[Notice]]:
    """Open the volunteer's ticket. `asked`: the questions that led to it (they begin its
    conversation); the screenshots the volunteer sent while writing it (drafts) join it."""
    person = volunteer(session, user_id)
    if not person.province:
        raise TicketError("กรุณาบอกจังหวัดของท่านก่อน")
    ticket = Ticket(
        user_id=user_id,
        display_name=person.display_name,
        province=person.province,
        region=directory.region_of[person.province],
        category=category,
        description=description,
        state=TicketState.NEW,
        level="province",
        created_at=now or utcnow(),
    )
    session.add(ticket)
    session.flush()
    session.add_all(
        TicketMessage(
            ticket_id=ticket.id, at=q.at, sender="volunteer", text=q.text, faq_topic=q.faq_topic
        )
        for q in asked
    )
    session.execute(
        update(TicketImage)
        .where(TicketImage.owner == user_id, TicketImage.ticket_id.is_(None))
        .values(ticket_id=ticket.id)
        .execution_options(synchronize_session=False)
    )
    routed = route(session, ticket)
    ticket.level = routed.level
    record(session, ticket, "volunteer", TicketState.NEW, routing_note(routed))
    audit.log(session, f"volunteer:{user_id}", "ticket.open", audit.ticket(ticket.id))
    return ticket, routed.notices("new", ticket.id)


def ticket_by_id(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketError("ไม่พบเรื่องนี้")
    return ticket


def questions_before(session: Session, user_id: str, limit: int = 5) -> list[Asked]:
    """The volunteer's last questions to the FAQ, oldest first: how a new ticket began."""
    rows = session.scalars(
        select(FaqAnswer)
        .where(FaqAnswer.user_id == user_id, FaqAnswer.question != "")
        .order_by(FaqAnswer.id.desc())
        .limit(limit)
    ).all()
    return [Asked(r.question, r.topic_id, r.created_at) for r in reversed(rows)]


def tickets_of(session: Session, user_id: str, limit: int = 5) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket).where(Ticket.user_id == user_id).order_by(Ticket.id.desc()).limit(limit)
        )
    )


def active_ticket(
    session: Session, user_id: str, reopen_within: timedelta, now: datetime | None = None
) -> Ticket | None:
    """The volunteer's ticket that their next message belongs to: still open (waiting for a
    coordinator or being handled), or resolved less than `reopen_within` ago (a message then
    reopens it; the sweep closes it after the same time, `Timings.close_after`)."""
    now = now or utcnow()
    for ticket in tickets_of(session, user_id, limit=3):
        if ticket.state in TicketState.OPEN:
            return ticket
        if (
            ticket.state == TicketState.RESOLVED
            and ticket.resolved_at
            and (now - ticket.resolved_at < reopen_within)
        ):
            return ticket
    return None


def attach_image(
    session: Session,
    ticket: Ticket,
    content: bytes,
    content_type: str,
    now: datetime | None = None,
    sender: str = "volunteer",
) -> TicketImage:
    image = TicketImage(
        ticket_id=ticket.id,
        owner=ticket.user_id if sender == "volunteer" else None,
        content=content,
        content_type=content_type,
        sender=sender,
        created_at=now or utcnow(),
    )
    session.add(image)
    session.flush()
    return image


def add_screenshot(
    session: Session, ticket: Ticket, content: bytes, content_type: str
) -> TicketImage:
    """A screenshot the volunteer sends on their open ticket, within `MAX_TICKET_SCREENSHOTS`."""
    if len(image_ids(session, ticket.id)) >= MAX_TICKET_SCREENSHOTS:
        raise TicketError(
            f"เรื่อง {ticket.number} มีภาพหน้าจอครบ {MAX_TICKET_SCREENSHOTS} ภาพแล้วครับ "
            "กรุณาพิมพ์อธิบายเพิ่มเติมเป็นข้อความ ผู้ประสานงานจะติดต่อกลับทางแชตนี้"
        )
    return attach_image(session, ticket, content, content_type)


def keep_draft_image(
    session: Session, user_id: str, content: bytes, content_type: str
) -> TicketImage:
    """A screenshot for the report the volunteer is writing (no ticket yet), within
    `MAX_DRAFT_IMAGES`."""
    if draft_count(session, user_id) >= MAX_DRAFT_IMAGES:
        raise TicketError(f"แนบภาพได้สูงสุด {MAX_DRAFT_IMAGES} ภาพต่อเรื่องครับ")
    image = TicketImage(
        owner=user_id, content=content, content_type=content_type, sender="volunteer"
    )
    session.add(image)
    session.flush()
    return image


def draft_count(session: Session, user_id: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(TicketImage)
        .where(TicketImage.owner == user_id, TicketImage.ticket_id.is_(None))
    )


def drop_drafts(session: Session, user_id: str) -> None:
    session.execute(
        delete(TicketImage)
        .where(TicketImage.owner == user_id, TicketImage.ticket_id.is_(None))
        .execution_options(synchronize_session=False)
    )


def image_ids(session: Session, ticket_id: int) -> list[int]:
    """The volunteer's screenshots on a ticket, oldest first."""
    return list(
        session.scalars(
            select(TicketImage.id)
            .where(TicketImage.ticket_id == ticket_id, TicketImage.sender == "volunteer")
            .order_by(TicketImage.id)
        )
    )


# -- what coordinators do -----------------------------------------------------------------------


def visible_ticket(session: Session, who: Actor, ticket_id: int) -> Ticket:
    """The ticket, if `who` (as the database has them now) may see it; else `OutOfArea`."""
    me = actor_of(current(session, who), who.via, who.address)
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not can_see(me, ticket):
        raise OutOfArea()
    return ticket


def _acting(session: Session, who: Actor, ticket_id: int) -> tuple[Coordinator, Ticket]:
    """The person and the ticket (row-locked on PostgreSQL), if they may act on it at all:
    re-checked on every change, with the person's role and area as they are now."""
    person = current(session, who)
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or not can_see(actor_of(person, who.via, who.address), ticket):
        raise OutOfArea()
    return person, ticket


def _owner_name(session: Session, ticket: Ticket) -> str:
    owner = session.get(Coordinator, ticket.claimed_by) if ticket.claimed_by else None
    return owner.name if owner else "ผู้ประสานงานอีกท่าน"


def _held_by_other(session: Session, ticket: Ticket, person: Coordinator) -> HeldByOther:
    return HeldByOther(
        f"เรื่อง {ticket.number} อยู่ในความดูแลของ {_owner_name(session, ticket)} "
        'หากต้องการดูแลแทน กด "รับช่วงต่อ" ระบบจะแจ้งผู้รับเรื่องเดิมให้ทราบ',
        ticket.id,
    )


def claim(
    session: Session, who: Actor, ticket_id: int, now: datetime | None = None
) -> list[Notice]:
    person, ticket = _acting(session, who, ticket_id)
    if ticket.state in (TicketState.CLAIMED, TicketState.WAITING):
        if ticket.claimed_by == person.id:
            raise TicketError(f"ท่านรับเรื่อง {ticket.number} ไว้แล้วครับ")
        raise _held_by_other(session, ticket, person)
    if ticket.state != TicketState.NEW:
        raise TicketError(f"เรื่อง {ticket.number} ปิดแล้ว")
    # Conditional update: two coordinators tapping at once, one wins.
    won = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == TicketState.NEW)
        .values(state=TicketState.CLAIMED, claimed_by=person.id, claimed_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        raise TicketError(f"เรื่อง {ticket.number} มีผู้รับเรื่องแล้ว")
    record(
        session,
        ticket,
        f"coordinator:{person.id}",
        TicketState.CLAIMED,
        person.name,
        from_state=TicketState.NEW,
    )
    audit.log(session, who, "ticket.claim", audit.ticket(ticket.id))
    return _to_volunteer(ticket, "claimed-by", person.name)


def take_over(
    session: Session, who: Actor, ticket_id: int, now: datetime | None = None
) -> list[Notice]:
    """An explicit "รับช่วงต่อ": someone with authority over the ticket takes it from its
    claimer. The claimer and the volunteer are both told; nobody loses a ticket silently."""
    person, ticket = _acting(session, who, ticket_id)
    if ticket.state not in TicketState.OPEN:
        raise TicketError(f"เรื่อง {ticket.number} ปิดแล้ว")
    if ticket.state not in (TicketState.CLAIMED, TicketState.WAITING):
        raise TicketError(f'เรื่อง {ticket.number} ไม่มีผู้รับเรื่องอยู่ กด "รับเรื่อง" ได้เลย')
    previous = ticket.claimed_by
    if previous == person.id:
        raise TicketError(f"ท่านรับเรื่อง {ticket.number} ไว้แล้วครับ")
    # Conditional on the claimer we saw: two take-overs at once, one wins.
    won = session.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket.id,
            Ticket.claimed_by == previous,
            Ticket.state.in_((TicketState.CLAIMED, TicketState.WAITING)),
        )
        .values(claimed_by=person.id, claimed_at=now or utcnow(), reminded_at=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        raise TicketError(f"เรื่อง {ticket.number} เพิ่งเปลี่ยนผู้รับเรื่อง กรุณาลองอีกครั้ง")
    before = session.get(Coordinator, previous) if previous else None
    record(
        session,
        ticket,
        f"coordinator:{person.id}",
        ticket.state,
        f"รับช่วงต่อจาก {before.name if before else '-'}",
        from_state=ticket.state,
    )
    audit.log(
        session, who, "ticket.take-over", audit.ticket(ticket.id), before.name if before else None
    )
    notices = _to_volunteer(ticket, "claimed-by", person.name)
    if before is not None and before.line_user_id:
        notices.append(Notice(before.line_user_id, "taken-over", ticket.id, person.name))
    return notices


def _to_volunteer(ticket: Ticket, kind: str, text: str, extra: dict | None = None) -> list[Notice]:
    """Tell the volunteer in LINE; a phone-only caller has no LINE to tell."""
    if not ticket.user_id:
        return []
    return [Notice(ticket.user_id, kind, ticket.id, text, extra or {})]


def own_ticket(session: Session, who: Actor, ticket_id: int) -> tuple[Coordinator, Ticket]:
    """Only the claimer answers or resolves (strict ownership)."""
    person, ticket = _acting(session, who, ticket_id)
    if ticket.state == TicketState.NEW:
        raise TicketError(f'กรุณากด "รับเรื่อง" {ticket.number} ก่อนครับ')
    if ticket.state not in (TicketState.CLAIMED, TicketState.WAITING):
        raise TicketError(f"เรื่อง {ticket.number} ปิดแล้ว")
    if ticket.claimed_by != person.id:
        raise _held_by_other(session, ticket, person)
    return person, ticket


def reply(
    session: Session,
    who: Actor,
    ticket_id: int,
    text: str,
    now: datetime | None = None,
    image: tuple[bytes, str] | None = None,
) -> list[Notice]:
    """The claimer answers the volunteer: `text`, or a picture (`image`: content, type) that
    `text` describes. A caller without LINE (a phone ticket) cannot be sent anything: the reply
    becomes a call-back, a call to make (`ticketing.calls.call_back_done` when made)."""
    person, ticket = own_ticket(session, who, ticket_id)
    if image is not None and not ticket.user_id:
        raise TicketError(
            f"เรื่อง {ticket.number} เป็นผู้โทรที่ไม่มี LINE ส่งภาพไม่ได้ กรุณาพิมพ์สิ่งที่จะแจ้งทางโทรศัพท์"
        )
    actor = f"coordinator:{person.id}"
    ticket.last_reply_at = now or utcnow()
    said = TicketMessage(ticket_id=ticket.id, at=ticket.last_reply_at, sender=actor, text=text)
    extra: dict[str, Any] = {"from": person.name}
    if image is not None:
        picture = attach_image(session, ticket, *image, now=ticket.last_reply_at, sender=actor)
        said.image_id = extra["image"] = picture.id
    session.add(said)
    if ticket.state != TicketState.WAITING:
        _transition(session, ticket, TicketState.WAITING, actor, text[:500])
    else:
        record(session, ticket, actor, TicketState.WAITING, text[:500])
    audit.log(session, who, "ticket.reply", audit.ticket(ticket.id), text[:200])
    if not ticket.user_id:
        session.add(
            CallBack(
                ticket_id=ticket.id,
                requested_by=person.id,
                requested_at=ticket.last_reply_at,
                text=text,
            )
        )
    return _to_volunteer(ticket, "reply", text, extra)


def resolve(
    session: Session, who: Actor, ticket_id: int, resolution: str, now: datetime | None = None
) -> list[Notice]:
    person, ticket = own_ticket(session, who, ticket_id)
    ticket.resolved_at = now or utcnow()
    ticket.resolution = resolution
    _transition(session, ticket, TicketState.RESOLVED, f"coordinator:{person.id}", resolution[:500])
    audit.log(session, who, "ticket.resolve", audit.ticket(ticket.id), resolution[:200])
    return _to_volunteer(ticket, "resolved", resolution)


def escalate_now(
    session: Session, who: Actor, ticket_id: int, now: datetime | None = None
) -> list[Notice]:
    """ส่งต่อ: the ticket goes up to the next level that has someone linked (central at the
    latest). An unclaimed ticket may be handed up by anyone it is addressed to or above; a
    claimed one only by its claimer, who lets go of it. Where it went: `where_is`."""
    person, ticket = _acting(session, who, ticket_id)
    if ticket.state not in TicketState.OPEN:
        raise TicketError(f"เรื่อง {ticket.number} ปิดแล้ว ส่งต่อไม่ได้")
    if ticket.state != TicketState.NEW and ticket.claimed_by != person.id:
        raise _held_by_other(session, ticket, person)
    if ticket.level == "central":
        raise TicketError("เรื่องนี้อยู่ที่ส่วนกลางแล้ว ส่งต่อขึ้นไปอีกไม่ได้")
    actor = f"coordinator:{person.id}"
    routed = route(session, ticket, LEVELS[LEVELS.index(ticket.level) + 1])
    if ticket.state != TicketState.NEW:
        _transition(session, ticket, TicketState.NEW, actor, "ส่งต่อ (ปล่อยเรื่อง)")
        ticket.claimed_by = None
        ticket.claimed_at = None
        ticket.reminded_at = None
    ticket.level = routed.level
    record(session, ticket, actor, ticket.state, "ส่งต่อ: " + routing_note(routed))
    audit.log(session, who, "ticket.escalate", audit.ticket(ticket.id), routing_note(routed))
    return routed.notices("escalated", ticket.id)


# -- what volunteers do -------------------------------------------------------------------------


def volunteer_message(
    session: Session,
    ticket: Ticket,
    text: str,
    now: datetime | None = None,
    image: TicketImage | None = None,
) -> list[Notice]:
    """A volunteer's message (text, or a screenshot with `text` describing it) on their active
    ticket. It joins the ticket's conversation and is relayed to whoever has the ticket: its
    claimer, or while unclaimed the coordinators it is addressed to now. A message on a
    resolved ticket reopens it."""
    now = now or utcnow()
    session.add(
        TicketMessage(
            ticket_id=ticket.id,
            at=now,
            sender="volunteer",
            text=text,
            image_id=image.id if image is not None else None,
        )
    )
    kind = "relay"
    if ticket.state == TicketState.RESOLVED:
        _transition(
            session, ticket, TicketState.CLAIMED, "volunteer", "เปิดเรื่องอีกครั้ง: " + text[:300]
        )
        ticket.resolved_at = None
        kind = "reopened"
    elif ticket.state == TicketState.WAITING:
        _transition(session, ticket, TicketState.CLAIMED, "volunteer", text[:500])
    else:
        note = "ข้อความเพิ่มเติม: " + text[:300]
        record(session, ticket, "volunteer", ticket.state, note, from_state=ticket.state)
    if ticket.claimed_by is not None:
        owner = session.get(Coordinator, ticket.claimed_by)
        people = [owner] if owner is not None else []
    else:
        people = coordinators_at(session, ticket.level, ticket.province, ticket.region)
    extra = {"image": image.id} if image is not None else {}
    return [Notice(p.line_user_id, kind, ticket.id, text, extra) for p in people if p.line_user_id]


def rate(session: Session, user_id: str, ticket_id: int, rating: int) -> None:
    ticket = session.get(Ticket, ticket_id)
    if (
        ticket is None
        or ticket.user_id != user_id
        or ticket.state not in (TicketState.RESOLVED, TicketState.CLOSED)
        or not 1 <= rating <= 5
    ):
        raise TicketError("ให้คะแนนเรื่องนี้ไม่ได้")
    if ticket.rating is not None:
        raise TicketError(f"ท่านให้คะแนนเรื่อง {ticket.number} แล้ว ขอบคุณครับ")
    ticket.rating = rating
    record(session, ticket, "volunteer", ticket.state, f"ให้คะแนน {rating}/5")


def messages(session: Session, ticket_id: int) -> list[TicketMessage]:
    """What was said on a ticket, oldest first."""
    return list(
        session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket_id)
            .order_by(TicketMessage.id)
        )
    )


# -- conversation state -------------------------------------------------------------------------


def get_state(session: Session, user_id: str, now: datetime | None = None) -> conversation.State:
    """The user's conversation state; Idle when none, or when it has expired (`FLOW_TTL`),
    and then the screenshots it held are dropped too."""
    row = session.get(ChatState, user_id)
    if row is None:
        return conversation.Idle()
    if row.updated_at < (now or utcnow()) - FLOW_TTL:
        session.delete(row)
        drop_drafts(session, user_id)
        return conversation.Idle()
    return conversation.load(row.state, row.version, row.data)


def save_state(session: Session, user_id: str, state: conversation.State) -> None:
    """Keep the user's state (Idle: no row). The draft screenshots are left to the caller."""
    row = session.get(ChatState, user_id)
    if isinstance(state, conversation.Idle):
        if row is not None:
            session.delete(row)
        return
    name, version, data = conversation.dump(state)
    if row is None:
        session.add(
            ChatState(user_id=user_id, state=name, version=version, data=data, updated_at=utcnow())
        )
    else:
        row.state, row.version, row.data, row.updated_at = name, version, data, utcnow()


def expire_flows(session: Session, now: datetime | None = None) -> int:
    """Drop expired conversation states and the draft screenshots they held; also drafts
    older than `FLOW_TTL` that no state holds any more."""
    cutoff = (now or utcnow()) - FLOW_TTL
    dropped = session.execute(delete(ChatState).where(ChatState.updated_at < cutoff)).rowcount
    held = select(ChatState.user_id)
    session.execute(
        delete(TicketImage)
        .where(
            TicketImage.ticket_id.is_(None),
            TicketImage.created_at < cutoff,
            TicketImage.owner.not_in(held),
        )
        .execution_options(synchronize_session=False)
    )
    return dropped
