"""The ticket page: its whole timeline, and every action on it.

Each action calls the same `ticketing` function a LINE button calls (or one of
`ticketing.desk`) with the signed-in `Actor`; the domain decides who may, re-reading the person
and the ticket. A refusal comes back as the page with the reason (409), the typed text kept;
another area's ticket is 404 (`OutOfArea`), whatever the route. What the action must tell
people in LINE goes through the outbox after the commit (`work`).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from common.tables import utcnow
from common.thaidate import thai_duration
from console.web import actor, console_blueprint, passive, runtime, signed_in, work
from ticketing import desk, service
from ticketing.authority import Actor
from ticketing.errors import Refused, TicketError
from ticketing.escalation import next_deadline
from ticketing.models import Coordinator, TicketState, parse_number
from ticketing.service import Notice

bp = console_blueprint("console_tickets")

MAX_ID = 2**31 - 1  # ids live in 32-bit INTEGER columns
MAX_PICTURE_BYTES = 2 * 1024 * 1024  # as for the volunteers' screenshots
PICTURE_TYPES = {"image/jpeg", "image/png"}
DEADLINE_WORDS = {
    "region": "ส่งต่อถึงระดับภาค",
    "central": "ส่งต่อถึงส่วนกลาง",
    "remind": "เตือนผู้รับเรื่องให้ตอบ",
}
KIND_WORDS = {
    "asked": "ถามระบบตอบอัตโนมัติ",
    "opened": "แจ้งปัญหา",
    "volunteer": "ข้อความจากผู้แจ้ง",
    "reply": "ตอบกลับ",
    "note": "บันทึกภายใน (ไม่ส่งถึงผู้แจ้ง)",
    "event": "บันทึกเรื่อง",
    "call": "สายโทรเข้า",
    "callback": "ต้องโทรกลับ",
    "callback-done": "โทรกลับแล้ว",
}


@bp.url_value_preprocessor
def bounded_ids(endpoint: str | None, values: dict | None) -> None:
    """An id past the column's range names nothing (and PostgreSQL would refuse it)."""
    for key in ("ticket_id", "image_id"):
        if values and values.get(key, 0) > MAX_ID:
            abort(404)


@bp.before_app_request
def picture_upload_limit() -> None:
    """A reply may carry a picture: that one form may be larger than the app's body limit."""
    if request.endpoint == "console_tickets.reply":
        request.max_content_length = MAX_PICTURE_BYTES + 256 * 1024


@bp.errorhandler(413)
def too_large(error: Exception):
    limit = MAX_PICTURE_BYTES // (1024 * 1024)
    return render_template(
        "console/error.html", status=413, message=f"ไฟล์ใหญ่เกินไป (ภาพได้ไม่เกิน {limit} MB)"
    ), 413


# -- reading ----------------------------------------------------------------------------------------


def _faq_topics() -> list[tuple[str, str]]:
    """The FAQ answers staff may insert: every topic but small talk."""
    entries = runtime().faq.entries.values()
    return [(e.id, e.label) for e in entries if e.category != "conversation"]


def _deadline(ticket) -> dict | None:
    deadline = next_deadline(ticket, runtime().timings)
    if deadline is None:
        return None
    left = (deadline.at - utcnow()).total_seconds()
    return {
        "at": deadline.at,
        "iso": deadline.at.isoformat(),
        "word": DEADLINE_WORDS[deadline.what],
        "left": left,
        "left_words": thai_duration(abs(left)),
        "amber": 0 < left <= 300,
        "overdue": left <= 0,
    }


def _page(ticket_id: int, status: int = 200, error: str | None = None):
    """The ticket page (and, after a refusal, the reason and what was typed)."""
    me = actor()
    rt = runtime()
    with rt.sessions() as db:
        ticket = service.visible_ticket(db, me, ticket_id)
        claimer = db.get(Coordinator, ticket.claimed_by) if ticket.claimed_by else None
        page = render_template(
            "console/ticket.html",
            t=ticket,
            entries=desk.timeline(db, ticket),
            kind_words=KIND_WORDS,
            labels=rt.faq.labels,
            claimer=claimer,
            mine=claimer is not None and claimer.id == me.person_id,
            category=rt.faq.labels.get(ticket.category or "", "ทั่วไป"),
            deadline=_deadline(ticket),
            merged_here=desk.merged_here(db, ticket.id),
            candidates=desk.assignable(db, me, ticket.id)
            if ticket.state in TicketState.OPEN
            else [],
            others=desk.others_here(db, me, ticket.id, utcnow()),
            faq_topics=_faq_topics(),
            snippets=desk.snippets(db),
            error=error,
            form=request.form if error else {},
            open_states=TicketState.OPEN,
            version=version(ticket),
        )
    return page, status


@bp.get("/tickets/<int:ticket_id>")
@signed_in
def ticket(ticket_id: int):
    return _page(ticket_id)


def version(ticket) -> str:
    """What the page's header and actions depend on: when it changes, the open page says so."""
    return f"{ticket.state}.{ticket.level}.{ticket.claimed_by or 0}"


@bp.get("/tickets/<int:ticket_id>/timeline")
@signed_in
@passive
def timeline(ticket_id: int):
    """The timeline alone (the open page refreshes it), and a notice when the ticket changed
    since the page was loaded (claimed in LINE, handed up, taken over…): the page is not
    reloaded under the person's typing, they are told and reload when ready."""
    rt = runtime()
    with rt.sessions() as db:
        found = service.visible_ticket(db, actor(), ticket_id)
        claimer = db.get(Coordinator, found.claimed_by) if found.claimed_by else None
        return render_template(
            "console/_timeline.html",
            t=found,
            entries=desk.timeline(db, found),
            kind_words=KIND_WORDS,
            labels=rt.faq.labels,
            changed=request.args.get("v", version(found)) != version(found),
            claimer=claimer,
        )


@bp.get("/tickets/<int:ticket_id>/images/<int:image_id>")
@signed_in
def image(ticket_id: int, image_id: int) -> Response:
    """A picture of the ticket, for someone who may see the ticket (not LINE's signed link)."""
    with runtime().sessions() as db:
        found = desk.ticket_image(db, actor(), ticket_id, image_id)
        content, content_type = found.content, found.content_type
    response = Response(content, mimetype=content_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/tickets/<int:ticket_id>/canned")
@signed_in
def canned(ticket_id: int):
    """The text of a canned reply ("faq:<topic>" or "snippet:<id>") for this ticket: an FAQ
    answer about coordinators names the ticket's own province."""
    key = request.args.get("key", "")
    rt = runtime()
    topics = {topic for topic, _ in _faq_topics()}
    with rt.sessions() as db:
        found = service.visible_ticket(db, actor(), ticket_id)

        def answer(topic: str) -> str | None:
            if topic not in topics:
                return None
            return rt.faq.answer(topic, "", found.province).text

        text = desk.canned_text(db, answer, key)
    if text is None:  # 400, not 404: that answer is kept for another area's ticket
        return jsonify(error="ไม่พบข้อความนี้"), 400
    return jsonify(text=text)


# -- presence ---------------------------------------------------------------------------------------


@bp.post("/tickets/<int:ticket_id>/presence")
@signed_in
@passive
def presence(ticket_id: int):
    """Polled by the open page (every 3 s, and soon after typing): who else is here."""
    typing = request.form.get("typing") == "1"
    with work() as w:
        others = desk.here(w.session, actor(), ticket_id, typing=typing)
    return render_template("console/_presence.html", others=others)


# -- actions ----------------------------------------------------------------------------------------


def _act(ticket_id: int, done: str, change: Callable[[Session, Actor], list[Notice]]):
    """Carry out `change` in one transaction and tell people after the commit; back to the
    page (303) with `done`, or the page with the refusal (409)."""
    # The whole body (a picture too) is read from the client before the transaction opens:
    # a slow upload must not hold the database.
    request.files  # noqa: B018
    try:
        with work() as w:
            # Another area's ticket is 404 whatever the form holds (checked again in the
            # domain, with the row locked, when the change is made).
            service.visible_ticket(w.session, actor(), ticket_id)
            w.tell(change(w.session, actor()))
    except Refused:
        raise  # 404 for another area's ticket, 403 for a role or a deactivated account
    except TicketError as refused:
        return _page(ticket_id, 409, str(refused))
    flash(done)
    return redirect(url_for("console_tickets.ticket", ticket_id=ticket_id), 303)


def _text(name: str) -> str:
    return (request.form.get(name) or "").strip()


@bp.post("/tickets/<int:ticket_id>/claim")
@signed_in
def claim(ticket_id: int):
    return _act(ticket_id, "รับเรื่องแล้ว", lambda db, me: service.claim(db, me, ticket_id))


@bp.post("/tickets/<int:ticket_id>/take-over")
@signed_in
def take_over(ticket_id: int):
    return _act(
        ticket_id,
        "รับช่วงต่อแล้ว ผู้รับเรื่องเดิมได้รับแจ้งทาง LINE",
        lambda db, me: service.take_over(db, me, ticket_id),
    )


def _picture() -> tuple[bytes, str] | None:
    """The uploaded picture (JPEG or PNG, at most MAX_PICTURE_BYTES), or None."""
    upload = request.files.get("picture")
    if upload is None or not upload.filename:
        return None
    content = upload.stream.read(MAX_PICTURE_BYTES + 1)
    if len(content) > MAX_PICTURE_BYTES:
        raise TicketError(f"ภาพใหญ่เกินไป (ไม่เกิน {MAX_PICTURE_BYTES // (1024 * 1024)} MB)")
    kind = _picture_type(content)
    if kind not in PICTURE_TYPES:
        raise TicketError("ส่งได้เฉพาะภาพ JPEG หรือ PNG")
    return content, kind


def _picture_type(content: bytes) -> str | None:
    from bot.media import image_type

    kind = image_type(content)  # JPEG is its answer for anything it does not know
    if kind == "image/jpeg" and not content.startswith(b"\xff\xd8\xff"):
        return None
    return kind


@bp.post("/tickets/<int:ticket_id>/reply")
@signed_in
def reply(ticket_id: int):
    def change(db: Session, me: Actor) -> list[Notice]:
        text, picture = _text("text"), _picture()
        if not text and picture is None:
            raise TicketError("กรุณาพิมพ์ข้อความหรือแนบภาพ")
        return service.reply(db, me, ticket_id, text or "(ภาพ)", image=picture)

    return _act(ticket_id, "ส่งคำตอบถึงผู้แจ้งแล้ว", change)


@bp.post("/tickets/<int:ticket_id>/note")
@signed_in
def note(ticket_id: int):
    return _act(
        ticket_id,
        "บันทึกภายในแล้ว (ไม่ส่งถึงผู้แจ้ง)",
        lambda db, me: desk.add_note(db, me, ticket_id, _text("text")),
    )


@bp.post("/tickets/<int:ticket_id>/escalate")
@signed_in
def escalate(ticket_id: int):
    return _act(ticket_id, "ส่งต่อแล้ว", lambda db, me: service.escalate_now(db, me, ticket_id))


@bp.post("/tickets/<int:ticket_id>/resolve")
@signed_in
def resolve(ticket_id: int):
    def change(db: Session, me: Actor) -> list[Notice]:
        resolution = _text("resolution")
        if not resolution:
            raise TicketError("กรุณาพิมพ์สรุปผลการแก้ไข")
        return service.resolve(db, me, ticket_id, resolution)

    return _act(ticket_id, "ปิดเรื่องและแจ้งผลการแก้ไขแล้ว", change)


@bp.post("/tickets/<int:ticket_id>/close")
@signed_in
def close(ticket_id: int):
    return _act(
        ticket_id, "ปิดเรื่องแล้ว", lambda db, me: desk.close(db, me, ticket_id, _text("reason"))
    )


@bp.post("/tickets/<int:ticket_id>/reassign")
@signed_in
def reassign(ticket_id: int):
    def change(db: Session, me: Actor) -> list[Notice]:
        person = _text("person")
        if not person.isdigit() or int(person) > MAX_ID:
            raise TicketError("กรุณาเลือกผู้รับเรื่องคนใหม่")
        return desk.reassign(db, me, ticket_id, int(person))

    return _act(ticket_id, "มอบหมายแล้ว", change)


@bp.post("/tickets/<int:ticket_id>/merge")
@signed_in
def merge(ticket_id: int):
    def change(db: Session, me: Actor) -> list[Notice]:
        into = parse_number(_text("into"))
        if into is None or into > MAX_ID:
            raise TicketError("กรุณาใส่เลขที่เรื่องที่จะรวมเข้าไป เช่น BMN-000123")
        return desk.merge(db, me, ticket_id, into)

    return _act(ticket_id, "รวมเรื่องแล้ว", change)


# -- saved replies ----------------------------------------------------------------------------------


@bp.get("/snippets")
@signed_in
def snippets():
    with runtime().sessions() as db:
        return render_template("console/snippets.html", snippets=desk.snippets(db))


@bp.post("/snippets")
@signed_in
def snippet_create():
    try:
        with work() as w:
            desk.create_snippet(w.session, actor(), _text("title"), _text("text"))
    except Refused:
        raise
    except TicketError as refused:
        with runtime().sessions() as db:
            page = render_template(
                "console/snippets.html",
                snippets=desk.snippets(db),
                error=str(refused),
                form=request.form,
            )
        return page, 409
    flash("บันทึกข้อความสำเร็จรูปแล้ว")
    return redirect(url_for("console_tickets.snippets"), 303)
