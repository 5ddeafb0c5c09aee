"""The platform's tables: what LINE sent us and what we send back.

The database is the record of what happened; the queue only makes work start sooner. Every row
here can be picked up again by the periodic sweep after a crash.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from common.tables import Base, utcnow


class WebhookEvent(Base):
    """One event of one webhook call, stored before LINE gets its 200."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # LINE's id for the event: a redelivered or duplicated event hits this unique key.
    webhook_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(64))
    # The chat the event belongs to (a user, group or room id): its events are handled one at
    # a time, in this table's id order. None: the event is a source of its own.
    source_key: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by the worker that is handling it; a stale claim (crashed worker) is taken over.
    claimed_at: Mapped[datetime | None]
    # After a transient failure: not tried again before this time (its source waits too).
    next_attempt_at: Mapped[datetime | None]
    # Set when handled, or when set aside (then `last_error` says why).
    handled_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_webhook_events_pending", "handled_at", "received_at"),
        # "Is an earlier event of this source still waiting?": only unhandled rows are indexed.
        Index(
            "ix_webhook_events_source_queue",
            "source_key",
            "id",
            postgresql_where=text("handled_at IS NULL"),
            sqlite_where=text("handled_at IS NULL"),
        ),
    )


class OutboundMessage(Base):
    """Messages to send to one user (the transactional outbox).

    Written in the same transaction as the effect that caused it, sent afterwards. `retry_key`
    exists before the first call, so a retry after a lost response is accepted by LINE once.
    """

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_events.id"))
    user_id: Mapped[str] = mapped_column(String(64))
    messages: Mapped[list[Any]]
    reply_token: Mapped[str | None] = mapped_column(String(255))
    # When the reply token was issued by LINE; too old means push instead.
    reply_token_at: Mapped[datetime | None]
    retry_key: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    sent_via: Mapped[str | None] = mapped_column(String(16))  # reply|push
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbound_messages_status", "status", "created_at"),)
