"""The audit log: who did what to which ticket or account, when, and from where.

Append-only (`AuditEntry` rows are never updated or deleted): this module has no function that
changes or removes one, and a session refuses to flush a changed or deleted entry or to run an
UPDATE or DELETE on the table (`_refuse_changes`). Written by the domain functions themselves,
in the same transaction as the change, so no path — LINE, console, shell or the sweep — can act
without leaving its line. Read by those allowed "audit" (admins) through `entries`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from common.tables import utcnow
from common.thaidate import BANGKOK, BE_OFFSET, MONTHS, ThaiDateError, parse_thai_datetime
from ticketing.authority import Actor, allowed
from ticketing.models import AuditEntry, Coordinator, format_number, parse_number


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


# -- append-only ----------------------------------------------------------------------------------


class AppendOnly(RuntimeError):
    """Someone tried to change or remove an audit entry."""


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, flush_context, instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnly("audit entries are never changed or deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is AuditEntry.__table__ or any(m.class_ is AuditEntry for m in state.all_mappers):
        raise AppendOnly("audit entries are never changed or deleted")


# -- reading ----------------------------------------------------------------------------------------

# What each action is called on the audit page. An action without a label shows as it is.
ACTION_WORDS: dict[str, str] = {
    "ticket.open": "เปิดเรื่อง",
    "ticket.claim": "รับเรื่อง",
    "ticket.take-over": "รับช่วงต่อ",
    "ticket.reply": "ตอบกลับ",
    "ticket.resolve": "ปิดเรื่อง (แก้ไขแล้ว)",
    "ticket.escalate": "ส่งต่อ",
    "ticket.close": "ปิดเรื่อง",
    "ticket.reassign": "มอบหมายใหม่",
    "ticket.merge": "รวมเรื่องซ้ำ",
    "ticket.note": "บันทึกภายใน",
    "ticket.release": "ปล่อยเรื่องกลับเข้าคิว",
    "call.log": "บันทึกการโทร",
    "callback.done": "โทรกลับแล้ว",
    "person.invite": "ออกรหัสลงทะเบียน",
    "person.link-line": "เชื่อมบัญชี LINE",
    "person.create": "สร้างบัญชีเจ้าหน้าที่",
    "person.sign-in": "เข้าสู่ระบบ",
    "person.password": "เปลี่ยนรหัสผ่าน",
    "person.totp": "ออกรหัสยืนยันตัวตนใหม่ (TOTP)",
    "person.role": "เปลี่ยนบทบาท",
    "person.move": "ย้ายพื้นที่",
    "person.deactivate": "ระงับการใช้งาน",
    "person.reactivate": "เปิดใช้งานอีกครั้ง",
}
VIA_WORDS = {
    "line": "LINE",
    "console": "คอนโซล",
    "cli": "คำสั่งบนเซิร์ฟเวอร์",
    "system": "ระบบอัตโนมัติ",
}
# Who acted, besides a staff member (coordinator:<id>).
OTHER_ACTORS = {"volunteer": "อาสาสมัคร", "cli": "ผู้ดูแลเซิร์ฟเวอร์", "system": "ระบบ"}
PAGE_SIZE = 50
_ACTION = re.compile(r"^[a-z]+\.[a-z-]+$")
_PERSON = re.compile(r"^(?:person:)?(\d{1,9})$")
_SLASHED = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


@dataclass(frozen=True)
class Query:
    """A whitelisted audit filter. `who`: "coordinator:<id>", "volunteer", "cli" or "system";
    `target`: "ticket:<id>" or "person:<id>"; days in Bangkok time, both inclusive; `before`:
    the page ends just before this entry id (newest first)."""

    who: str | None = None
    action: str | None = None
    target: str | None = None
    since: date | None = None
    until: date | None = None
    before: int | None = None


def thai_day(day: date) -> str:
    """ "1 พ.ย. 2569": how a filter day is shown back (Buddhist Era)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year + BE_OFFSET}"


def parse_day(text: str) -> date:
    """A day as staff write it, Buddhist Era: "1/11/2569", "1 พ.ย. 2569", "1 พฤศจิกายน 2569"."""
    if match := _SLASHED.match(text):
        day, month, year = (int(g) for g in match.groups())
        if not 2400 < year < 2700:
            raise ThaiDateError(f"ปีต้องเป็นพุทธศักราช เช่น 2569 (ได้รับ {year})")
        try:
            return date(year - BE_OFFSET, month, day)
        except ValueError:
            raise ThaiDateError(f"ไม่มีวันที่ {text.strip()}") from None
    return parse_thai_datetime(f"{text.strip()} 12:00").astimezone(BANGKOK).date()


def parse_target(text: str) -> str:
    """ "BMN-000123", "123" or "ticket:123" → "ticket:123"; "person:5" → "person:5"."""
    text = text.strip()
    if text.lower().startswith("person:") and text[7:].isdigit():
        return person(int(text[7:]))
    body = text[7:] if text.lower().startswith("ticket:") else text
    number = parse_number(body)
    if number is None:
        raise ValueError("เป้าหมายต้องเป็นเลขเรื่อง เช่น BMN-000123 หรือ ticket:123 หรือ person:5")
    return ticket(number)


def read_query(args: Mapping[str, str]) -> tuple[Query, dict[str, str], list[str]]:
    """The filter from request arguments: only known shapes pass; anything else is left out
    and said so. Returns the query, the values to show back in the form, and the problems."""
    problems: list[str] = []
    shown: dict[str, str] = {}
    who = (args.get("who") or "").strip()
    if who in OTHER_ACTORS:
        shown["who"] = who
    elif match := _PERSON.match(who):
        who = f"coordinator:{match.group(1)}"
        shown["who"] = match.group(1)
    elif who:
        problems.append("ผู้กระทำไม่ถูกต้อง")
        who = ""
    action = (args.get("action") or "").strip()
    if action and not _ACTION.match(action):
        problems.append("การกระทำไม่ถูกต้อง")
        action = ""
    shown["action"] = action
    target = None
    if raw := (args.get("target") or "").strip():
        try:
            target = parse_target(raw)
            shown["target"] = raw
        except ValueError as error:
            problems.append(str(error))
    days: dict[str, date | None] = {"since": None, "until": None}
    for name, word in (("since", "วันที่เริ่ม"), ("until", "วันที่สิ้นสุด")):
        if raw := (args.get(name) or "").strip():
            try:
                days[name] = parse_day(raw)
                shown[name] = thai_day(days[name])
            except ThaiDateError:
                problems.append(f"{word}ไม่ถูกต้อง ใช้รูปแบบ 1/11/2569 หรือ 1 พ.ย. 2569")
    before = args.get("before") or ""
    query = Query(
        who=who or None,
        action=action or None,
        target=target,
        since=days["since"],
        until=days["until"],
        before=int(before) if before.isdigit() else None,
    )
    return query, shown, problems


@dataclass(frozen=True)
class Line:
    id: int
    at: datetime
    actor: str
    who: str  # the person's name, or what acted
    action: str
    what: str  # the action's Thai label
    target: str
    target_text: str  # BMN-000123, or the person's name
    detail: str | None
    via: str
    via_word: str
    address: str | None


@dataclass(frozen=True)
class Page:
    lines: list[Line]
    older: int | None  # `before` for the next (older) page; None on the last one
    people: list[tuple[int, str]]  # who may be picked in the filter


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BANGKOK)


def entries(session: Session, who: Actor, query: Query, per_page: int = PAGE_SIZE) -> Page:
    """The log, newest first, one page at a time; only for those allowed "audit"."""
    allowed(session, who, "audit")
    q = select(AuditEntry)
    if query.who in ("cli", "system"):
        q = q.where(AuditEntry.actor == query.who)
    elif query.who == "volunteer":
        q = q.where(AuditEntry.actor.startswith("volunteer:"))
    elif query.who:
        q = q.where(AuditEntry.actor == query.who)
    if query.action:
        q = q.where(AuditEntry.action == query.action)
    if query.target:
        q = q.where(AuditEntry.target == query.target)
    if query.since:
        q = q.where(AuditEntry.at >= _start(query.since))
    if query.until:
        q = q.where(AuditEntry.at < _start(query.until + timedelta(days=1)))
    if query.before:
        q = q.where(AuditEntry.id < query.before)
    rows = session.scalars(q.order_by(AuditEntry.id.desc()).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    person_ids = {int(r.target[7:]) for r in rows if r.target.startswith("person:")}
    names = dict(
        session.execute(
            select(Coordinator.id, Coordinator.name).where(Coordinator.id.in_(person_ids))
        ).all()
    )
    people = [
        (pid, name)
        for pid, name in session.execute(
            select(Coordinator.id, Coordinator.name).order_by(Coordinator.name, Coordinator.id)
        ).all()
    ]
    return Page([_line(r, names) for r in rows], rows[-1].id if more else None, people)


def _line(row: AuditEntry, names: dict[int, str]) -> Line:
    kind = row.actor.split(":", 1)[0]
    who = row.actor_name or OTHER_ACTORS.get(kind, row.actor)
    if row.target.startswith("ticket:") and row.target[7:].isdigit():
        target_text = format_number(int(row.target[7:]))
    elif row.target.startswith("person:") and row.target[7:].isdigit():
        target_text = names.get(int(row.target[7:]), row.target)
    else:
        target_text = row.target
    return Line(
        id=row.id,
        at=row.at,
        actor=row.actor,
        who=who,
        action=row.action,
        what=ACTION_WORDS.get(row.action, row.action),
        target=row.target,
        target_text=target_text,
        detail=row.detail,
        via=row.via,
        via_word=VIA_WORDS.get(row.via, row.via),
        address=row.address,
    )
