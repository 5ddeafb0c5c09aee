"""Volunteers, staff, tickets and the append-only logs of what happened.

Staff are one table, `Coordinator` (the name it had when every staff member was a coordinator in
LINE): province and region coordinators, central coordinators, call-desk operators and central
admins. `level` and the area say which tickets a person may see; `role` says what else they may
do (see `ticketing.authority`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from common.tables import Base, utcnow

LEVELS = ("province", "region", "central")
ROLES = ("coordinator", "operator", "admin")  # operators and admins are central
CHANNELS = ("line", "phone")


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
    # Shared by the volunteer in LINE: links their phone calls to this LINE account.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Coordinator(Base):
    """A staff member (see the module docstring)."""

    __tablename__ = "coordinators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))  # province | region | central
    province: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(
        String(16), default="coordinator", server_default="coordinator"
    )
    line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    linked_at: Mapped[datetime | None]
    # Deactivated people act nowhere: LINE postbacks and console sessions are refused at once.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    last_action_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_coordinators_area", "level", "province", "region"),)


class InviteCode(Base):
    __tablename__ = "coordinator_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    coordinator_id: Mapped[int] = mapped_column(ForeignKey("coordinators.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256: codes are secrets
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class StaffLogin(Base):
    """A console password for a staff member (central staff; coordinators use LINE Login).
    argon2id hash; a TOTP secret once the second factor is set up (required for admins)."""

    __tablename__ = "staff_logins"

    person_id: Mapped[int] = mapped_column(ForeignKey("coordinators.id"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleSession(Base):
    """A signed-in console session; the browser holds only a random token (its hash is here).
    Ended on sign-out, idle timeout, deactivation or a password change."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("coordinators.id"))
    method: Mapped[str] = mapped_column(String(16))  # password | line
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_console_sessions_person", "person_id", "ended_at"),)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64))  # None: a phone-only caller
    channel: Mapped[str] = mapped_column(String(8), default="line", server_default="line")
    phone: Mapped[str | None] = mapped_column(String(20))  # the caller's number (phone tickets)
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
    merged_into: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", name="fk_tickets_merged_into")
    )  # closed as duplicate

    # The escalation sweep's queries: unclaimed by level and age; claimed and silent; resolved.
    __table_args__ = (
        Index("ix_tickets_sweep", "state", "level", "created_at"),
        Index("ix_tickets_claimed", "state", "claimed_at"),
        Index("ix_tickets_resolved", "state", "resolved_at"),
        Index("ix_tickets_user", "user_id", "created_at"),
        Index("ix_tickets_phone", "phone", "created_at"),
        # The console's queue: open tickets by area.
        Index("ix_tickets_queue_province", "state", "province", "created_at"),
        Index("ix_tickets_queue_region", "state", "region", "created_at"),
        # Covers the queue's counts and its most-pressing-first order (ticketing.queue).
        Index(
            "ix_tickets_queue",
            "state",
            "level",
            "province",
            "region",
            "claimed_by",
            "created_at",
            "claimed_at",
            "last_reply_at",
        ),
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
    # An internal note between staff: shown in the console, never sent to the volunteer.
    internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())

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


class CallBack(Base):
    """A reply to a phone-only caller: a call to make. Done when the coordinator marks it so,
    with a note of what was said."""

    __tablename__ = "call_backs"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("coordinators.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)  # what to tell the caller
    done_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    done_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class PhoneCall(Base):
    """A call to the Call Desk, logged by an operator: answered on the phone, or a ticket."""

    __tablename__ = "phone_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    operator_id: Mapped[int] = mapped_column(ForeignKey("coordinators.id"))
    phone: Mapped[str] = mapped_column(String(20))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))  # answered | follow-up
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))

    __table_args__ = (Index("ix_phone_calls_phone", "phone", "at"),)


class TicketPresence(Base):
    """Who has a ticket open in the console right now, and who is typing (collision notice).
    Refreshed by the open page every few seconds; stale rows mean nothing."""

    __tablename__ = "ticket_presence"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("coordinators.id"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    typing_at: Mapped[datetime | None]


class Snippet(Base):
    """A saved reply staff can insert (canned replies; FAQ answers are the other kind)."""

    __tablename__ = "snippets"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coordinators.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Append-only: every action on a ticket or an account — who, what, when, from where
    (`via` line | console | cli | system, and the address for the console)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))  # coordinator:<id> | volunteer | system
    actor_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))  # e.g. ticket.claim, person.deactivate
    target: Mapped[str] = mapped_column(String(64))  # ticket:<id> | person:<id>
    detail: Mapped[str | None] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_target", "target", "id"), Index("ix_audit_at", "at"))
