"""People (admins only): coordinators and staff accounts — invites with a QR code, deactivation,
moves between areas, passwords and second factors. Every route asks `ticketing.people`, which
refuses anyone not allowed "people" (403), on GET and POST alike."""

from __future__ import annotations

from urllib.parse import quote

import segno
from flask import flash, redirect, render_template, request, url_for

from console.web import actor, console_blueprint, runtime, signed_in, work
from ticketing import audit, people, staff
from ticketing.errors import Refused, TicketError
from ticketing.models import LEVELS

bp = console_blueprint("console_people", url_prefix="/console/people")

REGISTER_WORDS = "ลงทะเบียนผู้ประสานงาน"  # handlers.tickets.REGISTER: the command in LINE


def qr_svg(data: str) -> str:
    """A QR code as an SVG data: URI (the CSP allows data: images; nothing inline runs)."""
    return segno.make(data, error="m", micro=False).svg_data_uri(scale=5, border=2)


def register_text(code: str) -> str:
    return f"{REGISTER_WORDS} {code}"


def invite_link(code: str) -> str:
    """Scanned with a phone: LINE opens a chat with the Official Account, the message typed."""
    oa_id = quote(runtime().settings.line_oa_id, safe="")
    return f"https://line.me/R/oaMessage/{oa_id}/?{quote(register_text(code), safe='')}"


def _form_area() -> tuple[str, str | None, str | None]:
    form = request.form
    level = form.get("level", "")
    directory = runtime().directory
    province = form.get("province", "").strip() or None
    region = form.get("region", "").strip() or None
    if province:
        province = directory.match_province(province) or province
    return level, province if level == "province" else None, region if level == "region" else None


def _choices() -> dict:
    directory = runtime().directory
    return {
        "levels": LEVELS,
        "provinces": sorted(directory.region_of),
        "regions": list(directory.regions),
    }


# -- the list ---------------------------------------------------------------------------------------


@bp.get("")
@signed_in
def people_list():
    where = people.read_filter(request.args, runtime().directory)
    with runtime().sessions() as db:
        rows = people.list_people(db, actor(), where)
    return render_template("console/people.html", rows=rows, where=where, **_choices())


# -- invites ----------------------------------------------------------------------------------------


@bp.get("/invite")
@signed_in
def invite_form():
    with runtime().sessions() as db:
        people.require(db, actor())
    return render_template("console/invite_form.html", form={}, **_choices())


def _invite_page(made: people.Invite):
    return render_template(
        "console/invite_code.html",
        invite=made,
        text=register_text(made.code),
        link=invite_link(made.code),
        qr=qr_svg(invite_link(made.code)),
        oa_id=runtime().settings.line_oa_id,
    )


@bp.post("/invite")
@signed_in
def invite_post():
    level, province, region = _form_area()
    try:
        with work() as w:
            made = people.invite(
                w.session,
                actor(),
                runtime().directory,
                request.form.get("name", ""),
                level,
                province,
                region,
            )
    except Refused:
        raise
    except TicketError as error:
        page = render_template(
            "console/invite_form.html", form=request.form, error=str(error), **_choices()
        )
        return page, 400
    return _invite_page(made)


@bp.post("/<int:person_id>/invite")
@signed_in
def reinvite(person_id: int):
    try:
        with work() as w:
            made = people.reinvite(w.session, actor(), person_id)
    except Refused:
        raise
    except TicketError as error:
        flash(str(error), "error")
        return redirect(url_for("console_people.person", person_id=person_id), 303)
    return _invite_page(made)


# -- one person -------------------------------------------------------------------------------------


@bp.get("/<int:person_id>")
@signed_in
def person(person_id: int):
    me = actor()
    with runtime().sessions() as db:
        shown = people.get_person(db, me, person_id)
        history = audit.entries(db, me, audit.Query(target=audit.person(person_id)), per_page=10)
    return render_template(
        "console/person.html", p=shown, me=me, history=history.lines, **_choices()
    )


def _act(person_id: int, change, done: str):
    """Run `change(session)` (which returns what it released, or None), tell LINE, flash."""
    try:
        with work() as w:
            released = change(w.session)
            if released is not None:
                w.tell(released.notices)
    except Refused:
        raise
    except TicketError as error:
        flash(str(error), "error")
        return redirect(url_for("console_people.person", person_id=person_id), 303)
    if released is not None and released.numbers:
        done += " เรื่องที่ปล่อยกลับเข้าคิว: " + ", ".join(released.numbers)
    flash(done)
    return redirect(url_for("console_people.person", person_id=person_id), 303)


@bp.post("/<int:person_id>/deactivate")
@signed_in
def deactivate(person_id: int):
    return _act(
        person_id,
        lambda db: people.deactivate(db, actor(), person_id),
        "ระงับการใช้งานแล้ว: การกระทำใน LINE และการเข้าคอนโซลสิ้นสุดทันที",
    )


@bp.post("/<int:person_id>/reactivate")
@signed_in
def reactivate(person_id: int):
    return _act(
        person_id,
        lambda db: people.reactivate(db, actor(), person_id),
        "เปิดใช้งานอีกครั้งแล้ว",
    )


@bp.post("/<int:person_id>/move")
@signed_in
def move(person_id: int):
    level, province, region = _form_area()
    return _act(
        person_id,
        lambda db: people.move(
            db, actor(), runtime().directory, person_id, level, province, region
        ),
        "ย้ายพื้นที่แล้ว",
    )


@bp.post("/<int:person_id>/password")
@signed_in
def password(person_id: int):
    new = request.form.get("password", "")
    if new != request.form.get("password2", ""):
        with runtime().sessions() as db:
            people.require(db, actor())  # a refusal comes first, whatever the form says
        flash("รหัสผ่านทั้งสองช่องไม่ตรงกัน", "error")
        return redirect(url_for("console_people.person", person_id=person_id), 303)

    def reset(db) -> None:
        people.reset_password(db, actor(), person_id, new)

    return _act(person_id, reset, "ตั้งรหัสผ่านใหม่แล้ว ทุกเซสชันของบัญชีนี้สิ้นสุดแล้ว")


def _totp_page(person_id: int, username: str, secret: str, created: bool = False):
    uri = staff.totp_uri(username, secret)
    return render_template(
        "console/totp.html",
        person_id=person_id,
        username=username,
        secret=secret,
        qr=qr_svg(uri),
        created=created,
    )


@bp.post("/<int:person_id>/totp")
@signed_in
def totp(person_id: int):
    try:
        with work() as w:
            secret = people.new_totp(w.session, actor(), person_id)
            username = people.username_of(w.session, actor(), person_id)
    except Refused:
        raise
    except TicketError as error:
        flash(str(error), "error")
        return redirect(url_for("console_people.person", person_id=person_id), 303)
    return _totp_page(person_id, username, secret)


@bp.post("/<int:person_id>/role")
@signed_in
def role(person_id: int):
    try:
        with work() as w:
            secret = people.set_role(w.session, actor(), person_id, request.form.get("role", ""))
            username = people.username_of(w.session, actor(), person_id)
    except Refused:
        raise
    except TicketError as error:
        flash(str(error), "error")
        return redirect(url_for("console_people.person", person_id=person_id), 303)
    if secret:
        return _totp_page(person_id, username, secret)
    flash("เปลี่ยนบทบาทแล้ว เจ้าของบัญชีต้องเข้าสู่ระบบใหม่")
    return redirect(url_for("console_people.person", person_id=person_id), 303)


# -- staff accounts ---------------------------------------------------------------------------------


@bp.get("/staff/new")
@signed_in
def staff_form():
    with runtime().sessions() as db:
        people.require(db, actor())
    return render_template("console/staff_form.html", form={})


@bp.post("/staff")
@signed_in
def staff_post():
    form = request.form
    error = None
    if form.get("password", "") != form.get("password2", ""):
        error = "รหัสผ่านทั้งสองช่องไม่ตรงกัน"
    else:
        try:
            with work() as w:
                person_id, secret = people.create_account(
                    w.session,
                    actor(),
                    form.get("username", ""),
                    form.get("name", ""),
                    form.get("role", ""),
                    form.get("password", ""),
                    with_totp=form.get("totp") == "1",
                )
        except Refused:
            raise
        except TicketError as failed:
            error = str(failed)
    if error is not None:
        with runtime().sessions() as db:
            people.require(db, actor())
        return render_template("console/staff_form.html", form=form, error=error), 400
    if secret:
        return _totp_page(person_id, form.get("username", "").strip().lower(), secret, True)
    flash("สร้างบัญชีแล้ว")
    return redirect(url_for("console_people.person", person_id=person_id), 303)
