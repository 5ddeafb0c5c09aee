"""The queue: every open ticket the signed-in person may see, with filters, counts and the time
left before the sweep escalates each one. The page polls a fragment every 2 s; the poll answers
204 (no body) while nothing the person sees has changed."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from flask import g, redirect, render_template, request, url_for

from common.tables import utcnow
from common.thaidate import thai_duration
from console.web import actor, console_blueprint, passive, runtime, signed_in
from ticketing.queue import (
    NO_CATEGORY,
    STATES,
    QueueFilter,
    parse_filter,
    poll,
    queue_page,
)

bp = console_blueprint("console_queue")

POLL_EVERY_S = 2
AMBER_S = 5 * 60  # the countdown turns amber this long before the deadline
SORT_WORDS = {"urgent": "ใกล้ถึงกำหนดก่อน", "newest": "ใหม่ล่าสุดก่อน", "oldest": "เก่าสุดก่อน"}
DUE_WORDS = {"escalate": "ส่งต่ออัตโนมัติ", "remind": "เตือนผู้รับเรื่อง"}


def clock(seconds: float) -> str:
    """ "อีก 4:59", "อีก 1:02:03", "เกินมา 0:07", "เกินมา 2 วัน 3:04:05" (queue.js says the same)."""
    whole = math.floor(abs(seconds)) if seconds >= 0 else math.ceil(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    body = f"{hours}:{minutes:02d}:{secs:02d}" if hours or days else f"{minutes}:{secs:02d}"
    if days:
        body = f"{days} วัน {body}"
    return ("อีก " if seconds >= 0 else "เกินมา ") + body


def clock_class(seconds: float) -> str:
    if seconds < 0:
        return "overdue"
    return "amber" if seconds <= AMBER_S else ""


def iso(moment: datetime) -> str:
    """UTC, as JavaScript's Date.parse reads it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


for _name, _fn in (
    ("clock", clock),
    ("clock_class", clock_class),
    ("iso", iso),
    ("thai_duration", thai_duration),
):
    bp.add_app_template_filter(_fn, _name)


def _filter() -> tuple[QueueFilter, list[str]]:
    rt = runtime()
    return parse_filter(request.args, rt.directory.region_of, rt.faq.labels)


def _choices() -> dict:
    """What the filter form offers this person: only areas they can see."""
    rt = runtime()
    me = g.actor
    regions = list(rt.directory.regions)
    if me.sees_everything:
        provinces = {r: list(rt.directory.regions[r].provinces) for r in regions}
    elif me.level == "region" and me.region in rt.directory.regions:
        regions = [me.region]
        provinces = {me.region: list(rt.directory.regions[me.region].provinces)}
    else:
        regions, provinces = [], {}
    return {
        "regions": regions if me.sees_everything else [],
        "provinces": provinces,
        "states": STATES,
        "categories": sorted(rt.faq.labels.items(), key=lambda item: item[1]),
        "no_category": NO_CATEGORY,
        "sorts": SORT_WORDS,
    }


@bp.get("")
@bp.get("/")
def home():
    return redirect(url_for("console_queue.queue"))


@bp.get("/queue")
@signed_in
def queue():
    rt = runtime()
    chosen, errors = _filter()
    now = utcnow()
    with rt.sessions() as db:
        page = queue_page(db, actor(), chosen, rt.timings, now, rt.faq.labels)
    return render_template(
        "console/queue.html",
        page=page,
        errors=errors,
        now=now,
        poll_every=POLL_EVERY_S,
        due_words=DUE_WORDS,
        **_choices(),
    )


@bp.get("/queue/poll")
@signed_in
@passive
def queue_poll():
    """The live part of the page, or 204 while nothing the person sees has changed since the
    version the page holds (`v`); the next version to poll with is in X-Queue-Version."""
    rt = runtime()
    chosen, _ = _filter()
    now = utcnow()
    with rt.sessions() as db:
        answer = poll(
            db, actor(), chosen, request.args.get("v", ""), rt.timings, now, rt.faq.labels
        )
    if answer.page is None:
        return "", 204, {"X-Queue-Version": answer.version}
    return render_template(
        "console/queue_live.html", page=answer.page, now=now, due_words=DUE_WORDS
    )
