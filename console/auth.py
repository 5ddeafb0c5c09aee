"""Signing in and out. Central staff: username, password and (admins always) a TOTP code.
Coordinators: LINE Login (see `console.line_login`)."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from bot.db import transaction
from console.security import limiter
from console.web import client_address, console_blueprint, runtime, signed_in
from ticketing import staff

bp = console_blueprint("console_auth")


def _username() -> str:
    return "account:" + (request.form.get("username") or "").strip().lower()


def _failed(response) -> bool:
    return response.status_code == 401


def begin_session(person, method: str) -> None:
    """A fresh cookie session (rotated: nothing from before sign-in survives) with a new token."""
    with transaction(runtime().sessions) as db:
        token = staff.start_session(
            db, person, method, client_address(), request.headers.get("User-Agent")
        )
    session.clear()
    session["sid"] = token
    session.permanent = False


def safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console_queue.queue")


def login_page(
    error: str | None = None, status: int = 200, username: str = "", next_path: str = ""
):
    """The sign-in page: LINE Login (when its channel is set up) and the password form."""
    line = None
    if current_app.extensions.get("line_login") is not None:
        line = url_for("console_line.start", next=next_path or None)
    page = render_template(
        "console/login.html",
        error=error,
        username=username,
        next=next_path,
        line_login_url=line,
    )
    return page, status


@bp.get("/login")
def sign_in():
    if g.actor is not None:
        return redirect(safe_next(request.args.get("next")))
    return login_page(next_path=request.args.get("next", ""))


# Counted only when a sign-in fails (401): per account, and per address across accounts.
@bp.post("/login")
@limiter.limit("5 per 15 minutes", key_func=_username, deduct_when=_failed)
@limiter.limit("20 per 15 minutes", deduct_when=_failed)
def sign_in_post():
    form = request.form
    try:
        with transaction(runtime().sessions) as db:
            person = staff.check_sign_in(
                db, form.get("username", ""), form.get("password", ""), form.get("code", "")
            )
    except staff.SignInRefused as refused:
        return login_page(str(refused), 401, form.get("username", ""), form.get("next", ""))
    begin_session(person, "password")
    return redirect(safe_next(form.get("next")))


@bp.post("/logout")
@signed_in
def sign_out():
    token = session.get("sid")
    if token:
        with transaction(runtime().sessions) as db:
            staff.end_session(db, token)
    session.clear()
    flash("ออกจากระบบแล้ว")
    return redirect(url_for("console_auth.sign_in"))
