"""The queue: every open ticket the signed-in person may see."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from sqlalchemy import select

from console.web import actor, console_blueprint, runtime, signed_in
from ticketing.authority import visible
from ticketing.models import Ticket, TicketState

bp = console_blueprint("console_queue")


@bp.get("")
@bp.get("/")
def home():
    return redirect(url_for("console_queue.queue"))


@bp.get("/queue")
@signed_in
def queue():
    with runtime().sessions() as db:
        tickets = db.scalars(
            select(Ticket)
            .where(Ticket.state.in_(TicketState.OPEN), visible(actor()))
            .order_by(Ticket.created_at)
            .limit(50)
        ).all()
    return render_template("console/queue.html", tickets=tickets)
