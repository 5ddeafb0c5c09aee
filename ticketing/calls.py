"""Phone calls to the Call Desk: logged by an operator, answered on the phone or opened as a
ticket; a volunteer's phone number shared in LINE; call-backs for callers without LINE.

A call answered on the phone is kept as a `PhoneCall` row and nothing else. A call that needs
follow-up opens a ticket (channel "phone") that is routed, escalated and worked exactly like a
LINE ticket (`service.route`, the sweep). When the caller's number is one a volunteer shared in
LINE (`Volunteer.phone`), the ticket is theirs: replies reach them in LINE. Otherwise the ticket
has no LINE user, and a reply on it becomes a `CallBack`, a call to make, marked done with a
note of what was said.

Phone numbers are kept in one form, the ten (mobile) or nine (fixed line) digits as dialled in
Thailand: "0812345678", "021234567".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from common.tables import utcnow
from faq.directory import Directory
from ticketing import audit, service
from ticketing.authority import Actor, allowed, can_see, refreshed, visible
from ticketing.errors import OutOfArea, TicketError
from ticketing.models import CallBack, PhoneCall, Ticket, TicketState, Volunteer
from ticketing.service import Notice

OUTCOMES = ("answered", "follow-up")
OUTCOME_WORDS = {"answered": "ตอบทางโทรศัพท์แล้ว", "follow-up": "เปิดเรื่องติดตามต่อ"}
BAD_PHONE = (
    "เบอร์โทรไม่ถูกต้อง กรุณาใส่เบอร์มือถือ 10 หลัก (เช่น 081-234-5678) หรือเบอร์บ้าน 9 หลัก (เช่น 02-123-4567)"
)
MAX_NAME, MAX_QUESTION, MAX_NOTE = 200, 5000, 2000
# The FAQ's topics that are conversation (greetings, "แจ้งปัญหา") are no category of a call.
CALL_TOPIC_GROUPS = {
    "app": "การใช้งานแอป",
    "checks": "การตรวจสอบข้อมูล",
    "programme": "การจัดเก็บข้อมูล จปฐ.",
    "contacts": "ช่องทางติดต่อ",
}

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_SEPARATORS = re.compile(r"[\s\-.()/]")
# Mobile: 06, 08, 09 and eight more digits; fixed lines: 02, 03, 04, 05, 07 and seven more.
_MOBILE = re.compile(r"0[689][0-9]{8}")
_FIXED = re.compile(r"0[2-57][0-9]{7}")
# What a person types as a phone number (digits, Thai digits, +, separators) — a number to
# check, as opposed to words.
_PHONE_LIKE = re.compile(r"[+0-9๐-๙][0-9๐-๙\s\-.()/]{3,24}")


def looks_like_phone(text: str) -> bool:
    """Typed as a number (possibly a wrong one), not as words."""
    return bool(_PHONE_LIKE.fullmatch(text.strip()))


def normalize_phone(text: str) -> str:
    """The number in its one stored form ("0812345678"), from "081-234-5678", "+66 81 234
    5678", "๐๘๑๒๓๔๕๖๗๘" and the like; `TicketError` (in Thai) for anything else."""
    digits = _SEPARATORS.sub("", (text or "").translate(_THAI_DIGITS))
    if digits.startswith("+66"):
        digits = "0" + digits[3:]
    elif digits.startswith("66") and len(digits) in (10, 11):
        digits = "0" + digits[2:]
    if digits.startswith("00"):  # "+66 0 81…" written with the trunk zero kept
        digits = digits[1:]
    if _MOBILE.fullmatch(digits) or _FIXED.fullmatch(digits):
        return digits
    raise TicketError(BAD_PHONE)


def phone_or_none(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except TicketError:
        return None


def format_phone(digits: str | None) -> str:
    """For people to read: "081-234-5678", "02-123-4567", "044-123-456"."""
    if not digits:
        return "-"
    if len(digits) == 10:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if len(digits) == 9 and digits.startswith("02"):
        return f"{digits[:2]}-{digits[2:5]}-{digits[5:]}"
    if len(digits) == 9:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits


def call_topics(entries: Iterable) -> dict[str, str]:
    """FAQ topic id → Thai label, for a call's category (faq.kb entries; conversation topics
    left out), grouped in CALL_TOPIC_GROUPS order."""
    ordered = sorted(
        (e for e in entries if e.category in CALL_TOPIC_GROUPS),
        key=lambda e: list(CALL_TOPIC_GROUPS).index(e.category),
    )
    return {e.id: e.label for e in ordered}


# -- who may ---------------------------------------------------------------------------------


def call_desk(session: Session, who: Actor) -> Actor:
    """The person as they are now, if they may log calls; `Refused` otherwise."""
    return allowed(session, who, "log-call")


# -- logging a call -------------------------------------------------------------------------


@dataclass
class Logged:
    call: PhoneCall
    ticket: Ticket | None = None
    notices: list[Notice] = field(default_factory=list)
    routed: service.Route | None = None


def _volunteer_with(session: Session, phone: str) -> Volunteer | None:
    """The LINE volunteer who shared this number (the latest, should two have)."""
    return session.scalars(
        select(Volunteer).where(Volunteer.phone == phone).order_by(Volunteer.updated_at.desc())
    ).first()


def _text(value: str | None, limit: int) -> str:
    return (value or "").strip()[:limit]


def log_call(
    session: Session,
    who: Actor,
    directory: Directory,
    phone: str,
    caller_name: str | None,
    province: str | None,
    category: str | None,
    question: str,
    outcome: str,
    now: datetime | None = None,
    *,
    topics: Mapping[str, str] | Iterable[str] = (),
) -> Logged:
    """Log a call. "answered": kept, nothing else. "follow-up": a phone ticket, routed like a
    LINE ticket; its notices (cards to coordinators in LINE) are returned.

    `province`: anything `directory.match_province` accepts ("โคราช" → นครราชสีมา); needed for
    a follow-up (it decides who gets the ticket). `category`: one of `topics` (FAQ topic ids),
    or empty for none."""
    me = call_desk(session, who)
    now = now or utcnow()
    number = normalize_phone(phone)
    name = _text(caller_name, MAX_NAME) or None
    said = _text(question, MAX_QUESTION)
    if outcome not in OUTCOMES:
        raise TicketError("กรุณาเลือกว่าตอบทางโทรศัพท์แล้ว หรือต้องติดตามต่อ")
    if not said:
        raise TicketError("กรุณาบันทึกสิ่งที่ผู้โทรสอบถาม")
    typed = _text(province, 100)
    found = directory.match_province(typed) if typed else None
    if typed and found is None:
        raise TicketError(f'ไม่พบจังหวัด "{typed}" กรุณาเลือกจากรายการ')
    if found is None and outcome == "follow-up":
        raise TicketError("กรุณาระบุจังหวัดของผู้โทร เพื่อส่งเรื่องถึงผู้ประสานงานที่ถูกต้อง")
    topic = _text(category, 64) or None
    if topic is not None and topic not in set(topics):
        raise TicketError("ไม่พบหมวดนี้ กรุณาเลือกจากรายการ")

    call = PhoneCall(
        at=now,
        operator_id=me.person_id,
        phone=number,
        caller_name=name,
        province=found,
        category=topic,
        question=said,
        outcome=outcome,
    )
    session.add(call)
    session.flush()
    if outcome == "answered":
        audit.log(session, me, "call.answered", call_target(call.id), number, now=now)
        return Logged(call)

    person = _volunteer_with(session, number)
    assert found is not None
    ticket = Ticket(
        user_id=person.user_id if person else None,
        channel="phone",
        phone=number,
        display_name=name or (person.display_name if person else None),
        province=found,
        region=directory.region_of[found],
        category=topic,
        description=said,
        state=TicketState.NEW,
        level="province",
        created_at=now,
    )
    session.add(ticket)
    session.flush()
    call.ticket_id = ticket.id
    routed = service.route(session, ticket)
    ticket.level = routed.level
    how = f"รับเรื่องทางโทรศัพท์ {format_phone(number)} โดย {me.name}"
    if person is not None:
        how += " (เบอร์นี้เชื่อมกับ LINE ของอาสาสมัคร)"
    service.record(
        session, ticket, me.tag, TicketState.NEW, f"{how}: {service.routing_note(routed)}"
    )
    audit.log(session, me, "ticket.open", audit.ticket(ticket.id), f"โทรศัพท์ {number}", now=now)
    return Logged(call, ticket, routed.notices("new", ticket.id), routed)


def call_target(call_id: int) -> str:
    return f"call:{call_id}"


# -- the caller's history -------------------------------------------------------------------


@dataclass
class History:
    phone: str | None  # the number as stored; None when what was typed is not one (yet)
    tickets: list[Ticket] = field(default_factory=list)
    calls: list[PhoneCall] = field(default_factory=list)
    volunteer: Volunteer | None = None  # the LINE volunteer who shared the number

    @property
    def empty(self) -> bool:
        return not self.tickets and not self.calls

    def last_known(self) -> tuple[str | None, str | None]:
        """The caller's name and province as last recorded (newest call or ticket first)."""
        seen = sorted(
            [(c.at, c.caller_name, c.province) for c in self.calls]
            + [(t.created_at, t.display_name, t.province) for t in self.tickets],
            key=lambda row: row[0],
            reverse=True,
        )
        name = next((n for _, n, _ in seen if n), None)
        province = next((p for _, _, p in seen if p), None)
        return name, province


def caller_history(
    session: Session,
    who: Actor,
    phone: str,
    directory: Directory | None = None,
    limit: int = 10,
) -> History:
    """Earlier tickets (phone tickets of the number, and the LINE tickets of the volunteer who
    shared it) and calls of a number, newest first, limited to what `who` may see: tickets by
    the area rule; a call by its ticket, or, answered on the phone, by its province (region
    coordinators need `directory` for that; operators and admins see every call)."""
    me = refreshed(session, who)
    number = phone_or_none(phone)
    if number is None:
        return History(None)
    person = _volunteer_with(session, number)
    same_caller = Ticket.phone == number
    if person is not None:
        same_caller = or_(same_caller, Ticket.user_id == person.user_id)
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(same_caller, visible(me))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
        )
    )
    calls = session.scalars(
        select(PhoneCall)
        .where(PhoneCall.phone == number)
        .order_by(PhoneCall.at.desc(), PhoneCall.id.desc())
        .limit(limit * 5)
    ).all()
    seen = [c for c in calls if _may_see_call(session, me, c, directory)][:limit]
    return History(number, tickets, seen, person if me.sees_everything else None)


def _may_see_call(session: Session, me: Actor, call: PhoneCall, directory: Directory | None):
    if me.sees_everything:
        return True
    if call.ticket_id is not None:
        ticket = session.get(Ticket, call.ticket_id)
        return ticket is not None and can_see(me, ticket)
    if call.province is None:
        return False
    if me.level == "province":
        return call.province == me.province
    if me.level == "region" and directory is not None:
        return directory.region_of.get(call.province) == me.region
    return False


def recent_calls(session: Session, who: Actor, limit: int = 10) -> list[PhoneCall]:
    """The calls this person logged lately, newest first."""
    me = call_desk(session, who)
    return list(
        session.scalars(
            select(PhoneCall)
            .where(PhoneCall.operator_id == me.person_id)
            .order_by(PhoneCall.at.desc(), PhoneCall.id.desc())
            .limit(limit)
        )
    )


# -- a volunteer's number, shared in LINE ---------------------------------------------------


def share_phone(
    session: Session, user_id: str, phone: str, now: datetime | None = None
) -> list[Ticket]:
    """The volunteer's number (any form `normalize_phone` reads) is kept with their LINE
    account; another account that had it loses it (one number, one LINE account). Open phone
    tickets of the number that have no LINE user yet become theirs, so replies reach them in
    LINE: those tickets are returned."""
    number = normalize_phone(phone)
    person = service.volunteer(session, user_id)
    for other in session.scalars(
        select(Volunteer).where(Volunteer.phone == number, Volunteer.user_id != user_id)
    ):
        other.phone = None
    person.phone = number
    person.updated_at = now or utcnow()
    linked = list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.phone == number,
                Ticket.user_id.is_(None),
                Ticket.state.in_(TicketState.OPEN),
            )
            .order_by(Ticket.id)
            .with_for_update()
        )
    )
    for ticket in linked:
        ticket.user_id = user_id
        ticket.display_name = ticket.display_name or person.display_name
        service.record(
            session,
            ticket,
            "volunteer",
            ticket.state,
            "ผู้โทรแจ้งเบอร์นี้ใน LINE: คำตอบต่อจากนี้ส่งถึงทาง LINE",
            from_state=ticket.state,
        )
        audit.log(session, f"volunteer:{user_id}", "ticket.link-line", audit.ticket(ticket.id))
    return linked


# -- call-backs -----------------------------------------------------------------------------


def call_back_done(
    session: Session, who: Actor, call_back_id: int, note: str, now: datetime | None = None
) -> CallBack:
    """The call was made: `note` says what was said. Only someone who may act on the ticket
    (its area, as the database has them now); another area's call-back is `OutOfArea`."""
    found = session.get(CallBack, call_back_id)
    if found is None:
        raise OutOfArea()
    person, ticket = service._acting(session, who, found.ticket_id)
    call_back = session.get(CallBack, call_back_id, with_for_update=True, populate_existing=True)
    assert call_back is not None
    said = _text(note, MAX_NOTE)
    if not said:
        raise TicketError("กรุณาบันทึกสั้น ๆ ว่าโทรแล้วแจ้งอะไร หรือผลการโทร")
    if call_back.done_at is not None:
        raise TicketError("งานโทรกลับนี้บันทึกว่าโทรแล้ว")
    now = now or utcnow()
    call_back.done_by, call_back.done_at, call_back.note = person.id, now, said
    service.record(
        session, ticket, who.tag, ticket.state, "โทรกลับแล้ว: " + said[:500], from_state=ticket.state
    )
    audit.log(session, who, "ticket.call-back-done", audit.ticket(ticket.id), said[:200], now=now)
    return call_back


def visible_call_back(session: Session, who: Actor, call_back_id: int) -> tuple[CallBack, Ticket]:
    """A call-back and its ticket, if `who` may see the ticket; else `OutOfArea`."""
    found = session.get(CallBack, call_back_id)
    if found is None:
        raise OutOfArea()
    return found, service.visible_ticket(session, who, found.ticket_id)


def open_call_backs(session: Session, who: Actor, limit: int = 50) -> list[tuple[CallBack, Ticket]]:
    """Calls still to make that are this person's: asked for by them (their reply), or on a
    ticket they hold; only in tickets they may see. Oldest first."""
    me = refreshed(session, who)
    rows = session.execute(
        select(CallBack, Ticket)
        .join(Ticket, Ticket.id == CallBack.ticket_id)
        .where(
            CallBack.done_at.is_(None),
            or_(CallBack.requested_by == me.person_id, Ticket.claimed_by == me.person_id),
            visible(me),
        )
        .order_by(CallBack.requested_at, CallBack.id)
        .limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows]
