"""Phone calls: the call log form (answered on the phone, or a ticket), the caller's history
while the number is typed, and call-backs (replies to callers without LINE) marked done.

Who may log calls, see a history or mark a call-back done is decided in `ticketing.calls`."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from console.web import actor, console_blueprint, runtime, signed_in, work
from ticketing import calls
from ticketing.errors import Refused, TicketError

bp = console_blueprint("console_calls")
FIELDS = ("phone", "caller_name", "province", "category", "question")


def _topics() -> dict[str, str]:
    return calls.call_topics(runtime().faq.entries.values())


def _topic_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    entries = runtime().faq.entries
    return [
        (word, [(e.id, e.label) for e in entries.values() if e.category == group])
        for group, word in calls.CALL_TOPIC_GROUPS.items()
    ]


def _page(form: dict[str, str], error: str | None = None, status: int = 200):
    rt = runtime()
    with rt.sessions() as db:
        calls.call_desk(db, actor())
        recent = calls.recent_calls(db, actor())
        call_backs = calls.open_call_backs(db, actor())
        history = (
            calls.caller_history(db, actor(), form["phone"], rt.faq.directory)
            if form.get("phone")
            else None
        )
        page = render_template(
            "console/calls.html",
            form=form,
            error=error,
            provinces=rt.faq.directory.provinces,
            topic_groups=_topic_groups(),
            labels=rt.faq.labels,
            recent=recent,
            call_backs=call_backs,
            history=history,
            outcome_words=calls.OUTCOME_WORDS,
        )
    return page, status


def _back(target: str | None) -> str:
    """Where a plain form returns: a console path only (never an open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console_calls.call_backs")


@bp.get("/calls")
@signed_in
def calls_page():
    return _page(dict.fromkeys(FIELDS, ""))


@bp.post("/calls")
@signed_in
def log_call():
    form = {name: request.form.get(name, "") for name in FIELDS}
    outcome = request.form.get("outcome", "")
    rt = runtime()
    try:
        with work() as w:
            logged = calls.log_call(
                w.session,
                actor(),
                rt.faq.directory,
                form["phone"],
                form["caller_name"],
                form["province"],
                form["category"],
                form["question"],
                outcome,
                topics=_topics(),
            )
            w.tell(logged.notices)
            ticket = logged.ticket
            number, ticket_id = (ticket.number, ticket.id) if ticket else (None, None)
            unattended = logged.routed.unattended if logged.routed else False
    except TicketError as refused:
        if isinstance(refused, Refused):
            raise
        return _page(form, str(refused), 422)
    if ticket_id is None:
        flash(f"บันทึกการโทรจาก {calls.format_phone(calls.phone_or_none(form['phone']))} แล้ว")
        return redirect(url_for("console_calls.calls_page"))
    where = "รอเจ้าหน้าที่ส่วนกลางรับเรื่อง" if unattended else "ส่งถึงผู้ประสานงานแล้ว"
    flash(f"เปิดเรื่อง {number} จากการโทรแล้ว ({where})")
    return redirect(f"/console/tickets/{ticket_id}")


@bp.get("/calls/history")
@signed_in
def history():
    """htmx: the caller's earlier tickets and calls, as the number is typed."""
    rt = runtime()
    with rt.sessions() as db:
        found = calls.caller_history(db, actor(), request.args.get("phone", ""), rt.faq.directory)
        return render_template(
            "console/_caller_history.html",
            history=found,
            outcome_words=calls.OUTCOME_WORDS,
            labels=rt.faq.labels,
        )


@bp.get("/call-backs")
@signed_in
def call_backs():
    with runtime().sessions() as db:
        return render_template(
            "console/call_backs.html",
            call_backs=calls.open_call_backs(db, actor()),
        )


@bp.post("/call-backs/<int:call_back_id>/done")
@signed_in
def call_back_done(call_back_id: int):
    """Mark a call made, with a note. From htmx: the call-back's fragment, re-rendered; from a
    plain form: back to the list."""
    note = request.form.get("note", "")
    error = None
    try:
        with work() as w:
            calls.call_back_done(w.session, actor(), call_back_id, note)
    except TicketError as refused:
        if isinstance(refused, Refused):
            raise  # OutOfArea → 404, Refused → 403
        error = str(refused)
    if not request.headers.get("HX-Request"):
        flash(error or "บันทึกว่าโทรกลับแล้ว")
        return redirect(_back(request.form.get("back")))
    with runtime().sessions() as db:
        call_back, ticket = calls.visible_call_back(db, actor(), call_back_id)
        return render_template(
            "console/_call_back.html",
            call_back=call_back,
            ticket=ticket,
            call_back_error=error,
        )
