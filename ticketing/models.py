"""Volunteers, coordinators, tickets and the append-only log of what happened to each ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from common.tables import Base, utcnow

LEVELS = ("province", "region", "central")


class TicketState:
    NEW = "new"  # waiting for a coordinator to take it
    CLAIMED = "claimed"  # a coordinator has it; the volunteer spoke last
    WAITING = "waiting"  # the coordinator answered; waiting for the volunteer
    RESOLVED = "resolved"  # a resolution was sent; reopens if the volunteer writes within 3 days
    CLOSED = "closed"

    OPEN = (NEW, CLAIMED, WAITING)


class Volunteer(Base):
    __tablename__ = "volunteers"
    # Covers the audience query: recipients come from the index alone.
    __table_args__ = (Index("ix_volunteers_audience", "following", "province", "user_id"),)

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(64))
    district: Mapped[str | None] = mapped_column(String(100))
    # False after an unfollow (blocked): announcements skip them until they follow again.
    following: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Coordinator(Base):
    __tablename__ = "coordinators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))  # province | region | central
    province: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    linked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_coordinators_area", "level", "province", "region"),)


class InviteCode(Base):
    __tablename__ = "coordinator_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    coordinator_id: Mapped[int] = mapped_column(ForeignKey("coordinators.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256: codes are secrets
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(64))  # FAQ topic of the description
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=TicketState.NEW)
    level: Mapped[str] = mapped_column(String(16))  # who it is addressed to now
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_reply_at: Mapped[datetime | None]  # the coordinator's last answer
    reminded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(Integer)

    # The escalation sweep's queries: unclaimed by level and age; claimed and silent; resolved.
    __table_args__ = (
        Index("ix_tickets_sweep", "state", "level", "created_at"),
        Index("ix_tickets_claimed", "state", "claimed_at"),
        Index("ix_tickets_resolved", "state", "resolved_at"),
        Index("ix_tickets_user", "user_id", "created_at"),
    )

    @property
    def number(self) -> str:
        return format_number(self.id)


def format_number(ticket_id: int) -> str:
    return f"BMN-{ticket_id:06d}"


def parse_number(text: str) -> int | None:
    text = text.strip().upper()
    if text.startswith("BMN-") and text[4:].isdigit():
        return int(text[4:])
    return int(text) if text.isdigit() else None


class TicketEvent(Base):
    """Append-only: every transition, who made it, when, and a note."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))  # volunteer | coordinator:<id> | system
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)


class TicketImage(Base):
    """A picture: the volunteer's screenshots (while describing the problem or later), or one
    a coordinator sent in a reply.

    A screenshot sent while a report is being written is a draft: no ticket yet, only its
    `owner`. Opening the ticket attaches the owner's drafts; cancelling or leaving the report
    (`FLOW_TTL`) drops them. Kept in the database with the ticket (the record of what
    happened); people see it through a signed link served by the web app (`bot.media`)."""

    __tablename__ = "ticket_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    owner: Mapped[str | None] = mapped_column(String(64))  # the LINE user who sent it
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(40))
    sender: Mapped[str] = mapped_column(String(40), default="volunteer")  # or coordinator:<id>
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_ticket_images_owner", "owner", "ticket_id"),)


class TicketMessage(Base):
    """Append-only: what was said on a ticket, in order. The questions that led to it first
    (with the FAQ topic each got), then the volunteer's messages and the coordinators' answers.
    Rows are only ever inserted, so two writers (the bot, a staff console) never lose one."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    sender: Mapped[str] = mapped_column(String(120))  # volunteer | coordinator:<id> | system
    text: Mapped[str] = mapped_column(Text)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_images.id"))
    faq_topic: Mapped[str | None] = mapped_column(String(64))  # a question asked before

    __table_args__ = (Index("ix_ticket_messages_ticket", "ticket_id", "id"),)


class ChatState(Base):
    """Where a user is in a multi-step conversation: a state of `ticketing.conversation`,
    stored as its type name, the version of that shape, and its fields."""

    __tablename__ = "chat_states"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LinkAttempt(Base):
    """One try of "ลงทะเบียนผู้ประสานงาน <code>" by a LINE user, right or wrong: wrong tries
    are counted per user to stop guessing (append-only)."""

    __tablename__ = "coordinator_link_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_link_attempts_user", "user_id", "at"),)
