"""Deadline reminders: broadcast/data/deadlines.yaml → scheduled announcements.

Each (deadline, rule, date) is one announcement with a unique `reminder_key`, so running the
sync again changes nothing, and a changed date cancels the old reminder (if not yet sent) and
schedules a new one. Reminders whose time has passed are not created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast import service
from broadcast.models import Announcement, Status
from common.tables import utcnow
from common.thaidate import BANGKOK, parse_thai_datetime
from faq.directory import Directory

DEADLINES = Path(__file__).resolve().parent / "data" / "deadlines.yaml"
PREFIX = "📅 แจ้งเตือนกำหนดส่งงาน\n"


@dataclass(frozen=True)
class Reminder:
    key: str
    prefix: str  # "<deadline>/<rule>/": the same reminder for any date
    at: datetime
    text: str
    audience: dict


def plan(directory: Directory, path: Path = DEADLINES) -> list[Reminder]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    reminders = []
    for deadline in data["deadlines"]:
        day = parse_thai_datetime(str(deadline["date"])).astimezone(BANGKOK).date()
        for rule in data["rules"]:
            hour, minute = (int(x) for x in str(rule["at"]).split(":"))
            local = datetime.combine(
                day - timedelta(days=int(rule["days_before"])), time(hour, minute), BANGKOK
            )
            prefix = f"{deadline['id']}/{rule['id']}/"
            reminders.append(
                Reminder(
                    key=f"{prefix}{day.isoformat()}",
                    prefix=prefix,
                    at=local.astimezone(utcnow().tzinfo),
                    text=PREFIX + str(deadline["text"]),
                    audience=service.parse_audience(str(rule["audience"]), directory),
                )
            )
    return reminders


def sync(
    session: Session, directory: Directory, now: datetime | None = None, path: Path = DEADLINES
) -> dict[str, int]:
    now = now or utcnow()
    counts = {"created": 0, "cancelled": 0, "kept": 0, "past": 0}
    for reminder in plan(directory, path):
        existing = session.scalars(
            select(Announcement).where(Announcement.reminder_key.like(reminder.prefix + "%"))
        ).all()
        for old in existing:
            if old.reminder_key != reminder.key and old.status == Status.SCHEDULED:
                old.status = Status.CANCELLED  # the date moved
                counts["cancelled"] += 1
        if any(old.reminder_key == reminder.key for old in existing):
            counts["kept"] += 1
        elif reminder.at <= now:
            counts["past"] += 1
        else:
            service.create(
                session,
                reminder.text,
                reminder.audience,
                at=reminder.at,
                created_by="reminders",
                reminder_key=reminder.key,
                now=now,
            )
            counts["created"] += 1
    return counts
