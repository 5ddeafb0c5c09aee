"""Announcements: create, schedule, cancel, resolve the audience, plan batches, report.

The sending itself (LINE calls, rate limit, retries) is `bot/broadcast_sender.py`: this package
only decides who gets what, and records what happened, batch by batch.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from broadcast.models import Announcement, Batch, Status
from common.messages import MAX_MESSAGES_PER_REQUEST, Message, utf16_len
from common.tables import utcnow
from common.thaidate import thai_datetime
from faq.directory import Directory
from ticketing.models import LEVELS, Coordinator, Volunteer

BATCH_SIZE = 500  # LINE's multicast limit
AUDIENCE_KINDS = ("all", "provinces", "regions", "coordinators", "users")
MAX_TEXT = 5000
# LINE's limits on what an announcement becomes: the link is a Flex button (label at most 40
# characters, counted here per code point, never fewer than LINE's grapheme count; URI at most
# 1,000), the picture an image message (URL at most 2,000, JPEG or PNG).
MAX_LINK_LABEL = 40
MAX_LINK_URL = 1000
MAX_IMAGE_URL = 2000
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# A time typed to the minute ("09:00") is up to a minute old when it is entered: still "now".
PAST_GRACE = timedelta(minutes=1)


class AnnouncementError(ValueError):
    """Bad input or a refused action; the message says what to change."""


class PastScheduleError(AnnouncementError):
    """A send time already gone: sending at once must be asked for, not slipped into."""


# -- creating -----------------------------------------------------------------------------------


def parse_audience(spec: str, directory: Directory) -> dict[str, Any]:
    """ "all", "provinces:สงขลา,สตูล", "regions:ภาคใต้", "coordinators:province,region",
    "users:U1,U2" → the stored form, with names checked (and shortened names resolved)."""
    kind, _, rest = spec.partition(":")
    kind = kind.strip()
    values = [v.strip() for v in rest.split(",") if v.strip()]
    if kind not in AUDIENCE_KINDS:
        raise AnnouncementError(f"audience must start with one of {', '.join(AUDIENCE_KINDS)}")
    if kind == "all":
        return {"kind": "all", "values": []}
    if not values:
        raise AnnouncementError(f"{kind}: give at least one value after the colon")
    if kind == "provinces":
        resolved = [directory.match_province(v) for v in values]
        unknown = [v for v, r in zip(values, resolved, strict=True) if r is None]
        if unknown:
            raise AnnouncementError(f"unknown provinces: {', '.join(unknown)}")
        values = [r for r in resolved if r]
    elif kind == "regions":
        regions = [directory.match_region(v) for v in values]
        if any(r is None for r in regions):
            raise AnnouncementError(f"regions are: {', '.join(directory.regions)}")
        values = [r for r in regions if r]
    elif kind == "coordinators":
        if set(values) - set(LEVELS):
            raise AnnouncementError(f"coordinator levels are: {', '.join(LEVELS)}")
    elif any(not v.startswith("U") for v in values):
        raise AnnouncementError("user ids start with U")
    return {"kind": kind, "values": sorted(set(values))}


def create(
    session: Session,
    text: str,
    audience: dict[str, Any],
    at: datetime | None = None,
    image_url: str | None = None,
    link_label: str | None = None,
    link_url: str | None = None,
    created_by: str = "staff",
    reminder_key: str | None = None,
    now: datetime | None = None,
) -> Announcement:
    text = text.strip()
    if not text:
        raise AnnouncementError("the announcement has no text")
    if utf16_len(text) > MAX_TEXT:
        raise AnnouncementError(f"text is {utf16_len(text)} UTF-16 units; LINE allows {MAX_TEXT}")
    for url in (image_url, link_url):
        if url and not url.startswith("https://"):
            raise AnnouncementError(f"LINE needs https:// links: {url}")
    if bool(link_label) != bool(link_url):
        raise AnnouncementError("a link button needs both --link-label and --link-url")
    _check_for_line(image_url, link_label, link_url)
    now = now or utcnow()
    if at is not None and at < now - PAST_GRACE:
        raise PastScheduleError(
            f"เวลาที่ตั้งไว้ผ่านไปแล้ว ({thai_datetime(at)}; ตอนนี้ {thai_datetime(now)}) "
            "ประกาศยังไม่ถูกส่ง: ตั้งเวลาใหม่ หรือสั่งส่งทันที / "
            "the time is in the past, nothing was scheduled: give a later time, or send now"
        )
    announcement = Announcement(
        uid=str(uuid.uuid4()),
        text=text,
        image_url=image_url,
        link_label=link_label,
        link_url=link_url,
        audience=audience,
        scheduled_at=at or now,
        status=Status.SCHEDULED,
        created_by=created_by,
        reminder_key=reminder_key,
    )
    session.add(announcement)
    session.flush()
    return announcement


def _check_for_line(image_url: str | None, link_label: str | None, link_url: str | None) -> None:
    """Refuse now what LINE would refuse at send time, when every batch would fail."""
    if link_label is not None and len(link_label) > MAX_LINK_LABEL:
        raise AnnouncementError(
            f"ข้อความบนปุ่มลิงก์ยาวได้ไม่เกิน {MAX_LINK_LABEL} ตัวอักษร (ตอนนี้ {len(link_label)}) / "
            f"the link label is longer than LINE's {MAX_LINK_LABEL} characters"
        )
    if link_url is not None and len(link_url) > MAX_LINK_URL:
        raise AnnouncementError(f"LINE allows links of at most {MAX_LINK_URL} characters")
    if image_url is not None:
        name = image_url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1].lower()
        if len(image_url) > MAX_IMAGE_URL:
            raise AnnouncementError(f"LINE allows image URLs of at most {MAX_IMAGE_URL} characters")
        if "." in name and not name.endswith(IMAGE_EXTENSIONS):
            raise AnnouncementError(f"LINE shows JPEG or PNG images only: {image_url}")


def cancel(session: Session, announcement_id: int) -> Announcement:
    announcement = session.get(Announcement, announcement_id)
    if announcement is None:
        raise AnnouncementError(f"no announcement {announcement_id}")
    won = session.execute(
        update(Announcement)
        .where(Announcement.id == announcement_id, Announcement.status == Status.SCHEDULED)
        .values(status=Status.CANCELLED)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        raise AnnouncementError(
            f"announcement {announcement_id} is {announcement.status}: too late"
        )
    return announcement


def messages(announcement: Announcement) -> list[Message]:
    """What every recipient gets: the text, the image, a link button (as LINE messages)."""
    out: list[Message] = [{"type": "text", "text": announcement.text}]
    if announcement.image_url:
        out.append(
            {
                "type": "image",
                "originalContentUrl": announcement.image_url,
                "previewImageUrl": announcement.image_url,
            }
        )
    if announcement.link_url and announcement.link_label:
        out.append(
            {
                "type": "flex",
                "altText": announcement.link_label,
                "contents": {
                    "type": "bubble",
                    "body": {
                        "type": "box",
                        "layout": "vertical",
                        "contents": [
                            {
                                "type": "button",
                                "style": "primary",
                                "action": {
                                    "type": "uri",
                                    "label": announcement.link_label,
                                    "uri": announcement.link_url,
                                },
                            }
                        ],
                    },
                },
            }
        )
    assert len(out) <= MAX_MESSAGES_PER_REQUEST
    return out


# -- audience -----------------------------------------------------------------------------------


def resolve_audience(
    session: Session, directory: Directory, audience: dict[str, Any]
) -> list[str] | None:
    """Current followers in the audience, sorted; None means everyone (LINE's broadcast)."""
    kind, values = audience["kind"], audience.get("values") or []
    if kind == "all":
        return None
    coordinator_ids = select(Coordinator.line_user_id).where(Coordinator.line_user_id.is_not(None))
    if kind in ("provinces", "regions"):
        provinces = (
            values
            if kind == "provinces"
            else [p for r in values for p in directory.regions[r].provinces]
        )
        query = select(Volunteer.user_id).where(
            Volunteer.following.is_(True),
            Volunteer.province.in_(provinces),
            Volunteer.user_id.not_in(coordinator_ids),
        )
    elif kind == "coordinators":
        blocked = select(Volunteer.user_id).where(Volunteer.following.is_(False))
        query = select(Coordinator.line_user_id).where(
            Coordinator.level.in_(values),
            Coordinator.line_user_id.is_not(None),
            Coordinator.line_user_id.not_in(blocked),
        )
    else:
        blocked = set(
            session.scalars(
                select(Volunteer.user_id).where(
                    Volunteer.user_id.in_(values), Volunteer.following.is_(False)
                )
            )
        )
        return sorted(set(values) - blocked)
    return sorted(set(session.scalars(query)))


# -- starting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    limit: int | None  # None: no monthly limit
    used: int
    # LINE's count of the friends a broadcast to everyone reaches (None: not known)
    everyone: int | None = None

    def allows(self, count: int) -> bool:
        return self.limit is None or self.used + count <= self.limit


def batch_key(announcement: Announcement, seq: int) -> str:
    """Derived from (announcement, batch): the same after any restart, unique per batch."""
    return str(uuid.uuid5(uuid.UUID(announcement.uid), f"batch-{seq}"))


def start(
    session: Session,
    announcement_id: int,
    directory: Directory,
    quota: Quota,
    now: datetime | None = None,
) -> Announcement | None:
    """Take a due announcement: resolve the audience now, check the quota, plan the batches.
    None if another worker took it (or it was cancelled)."""
    now = now or utcnow()
    won = session.execute(
        update(Announcement)
        .where(Announcement.id == announcement_id, Announcement.status == Status.SCHEDULED)
        .values(status=Status.SENDING, started_at=now, claimed_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        return None
    announcement = session.get(Announcement, announcement_id)
    assert announcement is not None
    recipients = resolve_audience(session, directory, announcement.audience)
    if recipients is None and quota.everyone is not None:
        size = quota.everyone  # "everyone" as LINE counts them
    elif recipients is None:
        # LINE's statistics not ready: the followers this bot has met are the estimate.
        size = session.scalar(
            select(func.count()).select_from(Volunteer).where(Volunteer.following.is_(True))
        )
    else:
        size = len(recipients)
    announcement.audience_size = size
    if not quota.allows(size):
        announcement.status = Status.REFUSED
        announcement.finished_at = now
        announcement.error = (
            f"โควตาไม่พอ: ต้องส่ง {size:,} ข้อความ ใช้ไปแล้ว {quota.used:,} "
            f"จากโควตาเดือนนี้ {quota.limit:,} (เหลือ {max(0, (quota.limit or 0) - quota.used):,})"
        )
        return announcement
    chunks = (
        [[]]
        if recipients is None
        else [recipients[i : i + BATCH_SIZE] for i in range(0, len(recipients), BATCH_SIZE)]
    )
    session.add_all(
        Batch(
            announcement_id=announcement.id,
            seq=seq,
            recipients=chunk,
            retry_key=batch_key(announcement, seq),
        )
        for seq, chunk in enumerate(chunks)
    )
    if not chunks:
        announcement.status, announcement.finished_at = Status.SENT, now
    return announcement


def finish_if_done(
    session: Session, announcement_id: int, now: datetime | None = None
) -> str | None:
    """After sending: SENT, PARTIAL, or None while batches are still pending."""
    statuses = Counter(
        session.scalars(select(Batch.status).where(Batch.announcement_id == announcement_id))
    )
    if statuses["pending"]:
        return None
    final = Status.PARTIAL if statuses["failed"] else Status.SENT
    session.execute(
        update(Announcement)
        .where(Announcement.id == announcement_id, Announcement.status == Status.SENDING)
        .values(status=final, finished_at=now or utcnow(), claimed_at=None)
    )
    return final


def due(session: Session, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(Announcement.id).where(
                Announcement.status == Status.SCHEDULED, Announcement.scheduled_at <= now
            )
        )
    )


# -- report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    announcement: Announcement
    batches_total: int
    batches_sent: int
    batches_failed: int
    batches_pending: int
    errors_by_status: dict[int, int]


def report(session: Session, announcement_id: int) -> Report:
    announcement = session.get(Announcement, announcement_id)
    if announcement is None:
        raise AnnouncementError(f"no announcement {announcement_id}")
    rows = session.execute(
        select(Batch.status, Batch.status_code).where(Batch.announcement_id == announcement_id)
    ).all()
    statuses = Counter(status for status, _ in rows)
    errors = Counter(code for status, code in rows if status == "failed" and code is not None)
    return Report(
        announcement,
        len(rows),
        statuses["sent"],
        statuses["failed"],
        statuses["pending"],
        dict(errors),
    )
