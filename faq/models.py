"""What the FAQ records: every answer given (for reports) and the questions it could not answer
(for staff to review and to grow the knowledge base)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.tables import Base, utcnow


class FaqAnswer(Base):
    __tablename__ = "faq_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))  # answer | choose | unknown | chosen
    topic_id: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    runner_up: Mapped[str | None] = mapped_column(String(64))
    runner_up_score: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_faq_answers_user", "user_id", "created_at"),)


class UnansweredQuestion(Base):
    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    # Why it is here: the matcher abstained, or the user said the answer missed.
    reason: Mapped[str] = mapped_column(String(16))  # no-match | wrong-answer
    best_guess: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
