"""A staff member at the desk: what the console does with a ticket beyond LINE's buttons.

Internal notes, closing, reassigning, merging a duplicate, who else has the ticket open
(presence), saved replies (snippets), and the ticket's whole timeline for reading. Like
`ticketing.service`, every change re-reads the person and re-checks their authority over the
ticket (`_acting`), writes the ticket log and the audit log in the same transaction, and
returns the `Notice`s the caller sends through the outbox after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from common.tables import utcnow
from ticketing import audit
from ticketing.authority import Actor, actor_of, allowed, can_see, current
from ticketing.errors import OutOfArea, TicketError
from ticketing.models import (
    CallBack,
    Coordinator,
    PhoneCall,
    Snippet,
    Ticket,
    TicketEvent,
    TicketImage,
    TicketMessage,
    TicketPresence,
    TicketState,
    format_number,
)
from ticketing.service import (
    Notice,
    _acting,
    _held_by_other,
    _to_volunteer,
    record,
    visible_ticket,
)

NOTE_MAX = 4000
NOTE_EVENT = "บันทึกภายใน"
# Someone seen on a ticket's page this recently has it open; typed this recently is typing.
PRESENCE_WINDOW = timedelta(seconds=10)
TYPING_WINDOW = timedelta(seconds=6)
SNIPPET_TITLE_MAX, SNIPPET_TEXT_MAX = 120, 4000


def _words(text: str, what: str, limit: int = NOTE_MAX) -> str:
    text = (text or "").strip()
    if not text:
        raise TicketError(f"กรุณาพิมพ์{what}")
    if len(text) > limit:
        raise TicketError(f"{what}ยาวเกิน {limit} ตัวอักษร")
    return text


# -- internal notes -------------------------------------------------------------------------------


def add_note(
    session: Session, who: Actor, ticket_id: int, text: str, now: datetime | None = None
) -> list[Notice]:
    """A note between staff on the ticket: kept with its conversation, never sent to anyone.
    Anyone who may see the ticket may add one, whoever holds it and whatever its state."""
    _, ticket = _acting(session, who, ticket_id)
    text = _words(text, "บันทึกภายใน")
    session.add(
        TicketMessage(
            ticket_id=ticket.id, at=now or utcnow(), sender=who.tag, text=text, internal=True
        )
    )
    record(session, ticket, who.tag, ticket.state, NOTE_EVENT, from_state=ticket.state)
    audit.log(session, who, "ticket.note", audit.ticket(ticket.id), text[:200], now=now)
    return []


# -- closing ----------------------------------------------------------------------------------------


def _may_end(session: Session, ticket: Ticket, person: Coordinator, verb: str) -> None:
    """Closing (or merging away) a ticket: never a closed one; a claimed one only by its
    claimer (others take it over first); an unclaimed or resolved one by anyone who sees it."""
    if ticket.state == TicketState.CLOSED:
        raise TicketError(f"เรื่อง {ticket.number} ปิดแล้ว {verb}ไม่ได้")
    if (
        ticket.state in (TicketState.CLAIMED, TicketState.WAITING)
        and ticket.claimed_by != person.id
    ):
        raise _held_by_other(session, ticket, person)


def close(
    session: Session, who: Actor, ticket_id: int, reason: str, now: datetime | None = None
) -> list[Notice]:
    """ปิดเรื่อง without a resolution (spam, asked elsewhere, no answer): the volunteer is told
    why, unless they already had the resolution."""
    person, ticket = _acting(session, who, ticket_id)
    _may_end(session, ticket, person, "ปิด")
    reason = _words(reason, "เหตุผลที่ปิดเรื่อง", 500)
    seen = ticket.state
    won = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == seen, Ticket.merged_into.is_(None))
        .values(state=TicketState.CLOSED, closed_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        raise TicketError(f"เรื่อง {ticket.number} เพิ่งมีการเปลี่ยนแปลง กรุณาลองอีกครั้ง")
    record(session, ticket, who.tag, TicketState.CLOSED, "ปิดเรื่อง: " + reason, from_state=seen)
    audit.log(session, who, "ticket.close", audit.ticket(ticket.id), reason[:200], now=now)
    if seen == TicketState.RESOLVED:
        return []
    return _to_volunteer(ticket, "closed", reason)


# -- reassigning ------------------------------------------------------------------------------------


def _who_may_see(ticket: Ticket):
    """SQL: the staff who may see `ticket` (the rule of `authority.can_see`, turned round)."""
    c = Coordinator
    return or_(
        c.role.in_(("operator", "admin")),
        c.level == "central",
        (c.level == "region") & (c.region == ticket.region),
        (c.level == "province") & (c.province == ticket.province),
    )


def assignable(session: Session, who: Actor, ticket_id: int) -> list[Coordinator]:
    """Whom the ticket may be given to: active staff who may see it, except its claimer."""
    ticket = visible_ticket(session, who, ticket_id)
    query = select(Coordinator).where(Coordinator.active, _who_may_see(ticket))
    if ticket.claimed_by is not None:
        query = query.where(Coordinator.id != ticket.claimed_by)
    return list(session.scalars(query.order_by(Coordinator.level.desc(), Coordinator.name)))


def reassign(
    session: Session, who: Actor, ticket_id: int, to_person: int, now: datetime | None = None
) -> list[Notice]:
    """มอบหมาย: give an open ticket to another active staff member who may see it. Anyone with
    authority over the ticket may (as with a take-over, nobody loses it silently): the old
    claimer, the new one and the volunteer are told."""
    person, ticket = _acting(session, who, ticket_id)
    if ticket.state not in TicketState.OPEN:
        raise TicketError(f"เรื่อง {ticket.number} ปิดแล้ว มอบหมายไม่ได้")
    target = session.get(Coordinator, to_person)
    if target is None or not target.active or not can_see(actor_of(target, "console"), ticket):
        raise TicketError("มอบหมายให้ท่านนี้ไม่ได้: ต้องเป็นเจ้าหน้าที่ที่ใช้งานอยู่และดูแลพื้นที่ของเรื่องนี้")
    previous, seen = ticket.claimed_by, ticket.state
    if target.id == previous:
        raise TicketError(f"{target.name} ดูแลเรื่อง {ticket.number} อยู่แล้ว")
    state = TicketState.CLAIMED if seen == TicketState.NEW else seen
    held = Ticket.claimed_by.is_(None) if previous is None else Ticket.claimed_by == previous
    # Conditional on the state and claimer we saw: a claim or take-over meanwhile wins.
    won = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == seen, held)
        .values(state=state, claimed_by=target.id, claimed_at=now or utcnow(), reminded_at=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        raise TicketError(f"เรื่อง {ticket.number} เพิ่งเปลี่ยนผู้รับเรื่อง กรุณาลองอีกครั้ง")
    before = session.get(Coordinator, previous) if previous else None
    note = f"มอบหมายให้ {target.name}" + (f" (เดิม: {before.name})" if before else "")
    record(session, ticket, who.tag, state, note, from_state=seen)
    audit.log(session, who, "ticket.reassign", audit.ticket(ticket.id), note, now=now)
    notices = _to_volunteer(ticket, "claimed-by", target.name)
    if target.line_user_id and target.id != person.id:
        notices.append(Notice(target.line_user_id, "reassigned", ticket.id, person.name))
    if before is not None and before.line_user_id and before.id != person.id:
        notices.append(
            Notice(
                before.line_user_id, "reassigned-away", ticket.id, target.name, {"by": person.name}
            )
        )
    return notices


# -- merging a duplicate ----------------------------------------------------------------------------


def merge(
    session: Session, who: Actor, duplicate_id: int, target_id: int, now: datetime | None = None
) -> list[Notice]:
    """รวมเรื่องซ้ำ: the duplicate closes with `merged_into` the target; its messages stay with
    it, both tickets' logs say so, and its volunteer is told where the matter goes on. Both
    must be visible to the person; the target must not be closed; the duplicate is closed as
    `close` would (its claimer, or anyone while unclaimed). One conditional UPDATE decides."""
    number = format_number(target_id)
    if duplicate_id == target_id:
        raise TicketError("รวมเรื่องเข้ากับตัวเองไม่ได้")
    person = current(session, who)
    me = actor_of(person, who.via, who.address)
    # Both rows locked (PostgreSQL), always in id order: two merges at once cannot deadlock.
    rows = {
        t.id: t
        for t in session.scalars(
            select(Ticket)
            .where(Ticket.id.in_((duplicate_id, target_id)))
            .order_by(Ticket.id)
            .with_for_update()
        )
    }
    duplicate, into = rows.get(duplicate_id), rows.get(target_id)
    if duplicate is None or not can_see(me, duplicate):
        raise OutOfArea()
    if into is None or not can_see(me, into):
        raise TicketError(f"ไม่พบเรื่อง {number} ในพื้นที่ของท่าน")
    _may_end(session, duplicate, person, "รวม")
    if into.state == TicketState.CLOSED:
        raise TicketError(f"เรื่อง {number} ปิดแล้ว รวมเข้าไม่ได้")
    seen = duplicate.state
    target = aliased(Ticket)
    won = session.execute(
        update(Ticket)
        .where(
            Ticket.id == duplicate.id,
            Ticket.state == seen,
            Ticket.merged_into.is_(None),
            exists().where(target.id == into.id, target.state != TicketState.CLOSED),
        )
        .values(state=TicketState.CLOSED, closed_at=now or utcnow(), merged_into=into.id)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        raise TicketError(f"เรื่อง {duplicate.number} เพิ่งมีการเปลี่ยนแปลง กรุณาลองอีกครั้ง")
    record(
        session,
        duplicate,
        who.tag,
        TicketState.CLOSED,
        f"รวมเข้ากับเรื่อง {into.number} (เรื่องซ้ำ)",
        from_state=seen,
    )
    record(session, into, who.tag, into.state, f"รวมเรื่อง {duplicate.number} เข้ามา", into.state)
    detail = f"{duplicate.number} → {into.number}"
    audit.log(session, who, "ticket.merge", audit.ticket(duplicate.id), detail, now=now)
    audit.log(session, who, "ticket.merge-into", audit.ticket(into.id), detail, now=now)
    return _to_volunteer(duplicate, "merged", into.number, {"into": into.id})


def merged_here(session: Session, ticket_id: int) -> list[Ticket]:
    """The duplicates merged into this ticket."""
    return list(
        session.scalars(select(Ticket).where(Ticket.merged_into == ticket_id).order_by(Ticket.id))
    )


# -- presence (collision notice) --------------------------------------------------------------------


@dataclass(frozen=True)
class Present:
    name: str
    typing: bool


def here(
    session: Session, who: Actor, ticket_id: int, typing: bool = False, now: datetime | None = None
) -> list[Present]:
    """`who` has the ticket's page open (and is typing, if so): one conditional upsert, the
    same on SQLite and PostgreSQL, that never moves a time backwards (a late request from an
    earlier poll changes nothing). Returns the others on the ticket now."""
    visible_ticket(session, who, ticket_id)
    now = now or utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {"ticket_id": ticket_id, "person_id": who.person_id, "seen_at": now}
    if typing:
        values["typing_at"] = now
    statement = insert(TicketPresence).values(**values)
    fresh = {"seen_at": statement.excluded.seen_at}
    if typing:
        fresh["typing_at"] = statement.excluded.typing_at
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["ticket_id", "person_id"],
            set_=fresh,
            where=TicketPresence.seen_at <= statement.excluded.seen_at,
        )
    )
    return others_here(session, who, ticket_id, now)


def others_here(session: Session, who: Actor, ticket_id: int, now: datetime) -> list[Present]:
    rows = session.execute(
        select(Coordinator.name, TicketPresence.typing_at)
        .join(Coordinator, Coordinator.id == TicketPresence.person_id)
        .where(
            TicketPresence.ticket_id == ticket_id,
            TicketPresence.person_id != who.person_id,
            TicketPresence.seen_at >= now - PRESENCE_WINDOW,
            Coordinator.active,
        )
        .order_by(Coordinator.name)
    ).all()
    return [
        Present(name, typing_at is not None and typing_at >= now - TYPING_WINDOW)
        for name, typing_at in rows
    ]


# -- saved replies ----------------------------------------------------------------------------------


def create_snippet(session: Session, who: Actor, title: str, text: str) -> Snippet:
    """A saved reply everyone can insert; operators and admins keep the list."""
    allowed(session, who, "snippets")
    snippet = Snippet(
        title=_words(title, "ชื่อข้อความสำเร็จรูป", SNIPPET_TITLE_MAX),
        text=_words(text, "ข้อความสำเร็จรูป", SNIPPET_TEXT_MAX),
        created_by=who.person_id,
    )
    session.add(snippet)
    session.flush()
    audit.log(session, who, "snippet.create", f"snippet:{snippet.id}", snippet.title)
    return snippet


def snippets(session: Session) -> list[Snippet]:
    return list(session.scalars(select(Snippet).order_by(Snippet.title, Snippet.id)))


def canned_text(session: Session, faq_answer: Callable[[str], str | None], key: str) -> str | None:
    """The text of a canned reply: "faq:<topic>" (`faq_answer` of the topic) or
    "snippet:<id>"; None when there is no such thing."""
    kind, _, ident = key.partition(":")
    if kind == "faq":
        return faq_answer(ident)
    if kind == "snippet" and ident.isdigit():
        snippet = session.get(Snippet, int(ident))
        return snippet.text if snippet else None
    return None


# -- reading: the timeline ------------------------------------------------------------------------


def ticket_image(session: Session, who: Actor, ticket_id: int, image_id: int) -> TicketImage:
    """A picture of the ticket, for someone who may see the ticket; else `OutOfArea`."""
    ticket = visible_ticket(session, who, ticket_id)
    image = session.get(TicketImage, image_id)
    if image is None or image.ticket_id != ticket.id:
        raise OutOfArea()
    return image


@dataclass
class Entry:
    """One line of a ticket's timeline, oldest first.

    kind: asked (a question to the FAQ before the ticket), opened (the report), volunteer,
    reply, note (internal), event (the ticket log), call (a phone call), callback (a call to
    make), callback-done. `to_state`: the state this entry moved the ticket to, if it did."""

    at: datetime
    kind: str
    who: str
    text: str
    images: tuple[int, ...] = ()
    to_state: str | None = None
    faq_topic: str | None = None


# The ticket log's echo of a message (written in the same change): shown as part of it.
def _echoes(message: TicketMessage) -> set[str]:
    if message.internal:
        return {NOTE_EVENT}
    text = message.text
    return {text[:500], "ข้อความเพิ่มเติม: " + text[:300], "เปิดเรื่องอีกครั้ง: " + text[:300]}


def _staff_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(
        select(Coordinator.id, Coordinator.name).where(Coordinator.id.in_(wanted))
    )
    return {person: name for person, name in rows}


def _tag_id(tag: str) -> int | None:
    kind, _, ident = tag.partition(":")
    return int(ident) if kind == "coordinator" and ident.isdigit() else None


def timeline(session: Session, ticket: Ticket) -> list[Entry]:
    """Everything that happened on `ticket`, oldest first: what the volunteer asked and said
    (with screenshots), replies, internal notes, the ticket log, calls and call-backs. The
    caller has checked that the reader may see the ticket (`visible_ticket`)."""
    said = list(
        session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.id)
        )
    )
    events = list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    )
    calls = list(session.scalars(select(PhoneCall).where(PhoneCall.ticket_id == ticket.id)))
    callbacks = list(session.scalars(select(CallBack).where(CallBack.ticket_id == ticket.id)))
    volunteer_images = list(
        session.scalars(
            select(TicketImage.id)
            .where(TicketImage.ticket_id == ticket.id, TicketImage.sender == "volunteer")
            .order_by(TicketImage.id)
        )
    )
    tags = [m.sender for m in said] + [e.actor for e in events]
    ids = [_tag_id(t) for t in tags]
    ids += [c.operator_id for c in calls]
    ids += [c.requested_by for c in callbacks] + [c.done_by for c in callbacks]
    names = _staff_names(session, [i for i in ids if i])
    volunteer_name = ticket.display_name or ("ผู้โทร" if ticket.channel == "phone" else "อาสาสมัคร")

    def name(tag: str) -> str:
        if tag == "volunteer":
            return volunteer_name
        if tag == "system":
            return "ระบบ"
        person = _tag_id(tag)
        return names.get(person, "เจ้าหน้าที่") if person else tag

    entries: list[Entry] = []
    echoed: set[int] = set()
    pending = list(events)
    with_message = {m.image_id for m in said if m.image_id}
    for m in said:
        if m.internal:
            kind = "note"
        elif m.faq_topic is not None or (m.sender == "volunteer" and m.at < ticket.created_at):
            kind = "asked"
        else:
            kind = "volunteer" if m.sender == "volunteer" else "reply"
        entry = Entry(m.at, kind, name(m.sender), m.text, (m.image_id,) if m.image_id else ())
        entry.faq_topic = m.faq_topic
        if kind != "asked":
            echoes = _echoes(m)
            for e in pending:
                if e.id not in echoed and e.actor == m.sender and (e.note or "") in echoes:
                    echoed.add(e.id)
                    if e.from_state != e.to_state:
                        entry.to_state = e.to_state
                    break
        entries.append(entry)
    # The report itself, with the screenshots sent while it was written.
    drafts = tuple(i for i in volunteer_images if i not in with_message)
    entries.append(Entry(ticket.created_at, "opened", volunteer_name, ticket.description, drafts))
    for e in events:
        if e.id in echoed:
            continue
        changed = e.to_state if e.from_state != e.to_state else None
        said = e.note or ""
        if (e.from_state, e.to_state) == (TicketState.NEW, TicketState.CLAIMED) and (
            said == name(e.actor)
        ):
            said = "รับเรื่อง"  # the claim's log line names the claimer, who is shown already
        entries.append(Entry(e.at, "event", name(e.actor), said, to_state=changed))
    for call in calls:
        caller = " ".join(x for x in (call.phone, call.caller_name) if x)
        entries.append(
            Entry(
                call.at,
                "call",
                names.get(call.operator_id, "เจ้าหน้าที่"),
                f"{caller}: {call.question}",
            )
        )
    for cb in callbacks:
        entries.append(
            Entry(cb.requested_at, "callback", names.get(cb.requested_by, "เจ้าหน้าที่"), cb.text)
        )
        if cb.done_at is not None:
            done_by = names.get(cb.done_by or 0, "เจ้าหน้าที่")
            entries.append(Entry(cb.done_at, "callback-done", done_by, cb.note or ""))
    order = {"asked": 0, "opened": 1}
    entries.sort(key=lambda x: (x.at, order.get(x.kind, 2)))
    return entries
