"""Announcements and the batches they are sent in: progress is stored per batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.tables import Base, utcnow


class Status:
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"  # every batch accepted by LINE
    PARTIAL = "partial"  # finished, some batches refused (see the report)
    CANCELLED = "cancelled"
    REFUSED = "refused"  # not started: it would exceed the month's quota


class Announcement(Base):
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # batch retry keys derive from it
    text: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(1000))
    link_label: Mapped[str | None] = mapped_column(String(40))
    link_url: Mapped[str | None] = mapped_column(String(1000))
    # {"kind": "all" | "provinces" | "regions" | "coordinators" | "users", "values": [...]}
    audience: Mapped[dict[str, Any]]
    scheduled_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=Status.SCHEDULED)
    created_by: Mapped[str] = mapped_column(String(120), default="staff")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]  # the sending worker's lease
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    audience_size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # Deadline reminders: "<deadline>/<rule>/<date>"; a changed date makes a new key.
    reminder_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    __table_args__ = (Index("ix_announcements_due", "status", "scheduled_at"),)


class Batch(Base):
    __tablename__ = "announcement_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id"))
    seq: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[list[Any]]  # empty: LINE's broadcast endpoint (every follower)
    retry_key: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    status_code: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("announcement_id", "seq"),
        Index("ix_batches_progress", "announcement_id", "status"),
    )
