"""The audit log (admins only): every action on a ticket or an account, newest first, paged,
filtered by who, what, target and days (Buddhist Era, Bangkok)."""

from __future__ import annotations

from flask import render_template, request, url_for

from console.web import actor, console_blueprint, runtime, signed_in
from ticketing import audit

bp = console_blueprint("console_audit")
FILTERS = ("who", "action", "target", "since", "until")


@bp.get("/audit")
@signed_in
def audit_log():
    query, shown, problems = audit.read_query(request.args)
    with runtime().sessions() as db:
        page = audit.entries(db, actor(), query)
    keep = {k: v for k, v in request.args.items() if k in FILTERS and v}
    older = None
    if page.older is not None:
        older = url_for("console_audit.audit_log", **keep, before=page.older)
    newest = url_for("console_audit.audit_log", **keep) if query.before else None
    return render_template(
        "console/audit.html",
        page=page,
        shown=shown,
        problems=problems,
        older=older,
        newest=newest,
        actions=audit.ACTION_WORDS,
        others=audit.OTHER_ACTORS,
    )
