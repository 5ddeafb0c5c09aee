"""Writing the FAQ's records in the caller's transaction (the event's unit of work)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from faq.models import FaqAnswer, UnansweredQuestion
from faq.service import Kind, Reply


def record_reply(session: Session, user_id: str | None, question: str, reply: Reply) -> None:
    session.add(
        FaqAnswer(
            user_id=user_id,
            question=question,
            outcome=str(reply.kind),
            topic_id=reply.topic,
            score=reply.score,
            runner_up=reply.runner_up,
            runner_up_score=reply.runner_up_score,
        )
    )
    if reply.kind is Kind.UNKNOWN:
        session.add(
            UnansweredQuestion(
                user_id=user_id,
                question=question,
                reason="no-match",
                best_guess=reply.runner_up,
                score=reply.score,
            )
        )


def record_chosen(session: Session, user_id: str | None, topic: str) -> None:
    session.add(
        FaqAnswer(user_id=user_id, question="", outcome="chosen", topic_id=topic, score=1.0)
    )


def record_wrong_answer(session: Session, user_id: str | None) -> bool:
    """The user said the last answer missed: keep that question for staff. False if none."""
    last = session.scalars(
        select(FaqAnswer)
        .where(FaqAnswer.user_id == user_id, FaqAnswer.outcome == "answer")
        .order_by(FaqAnswer.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return False
    session.add(
        UnansweredQuestion(
            user_id=user_id,
            question=last.question,
            reason="wrong-answer",
            best_guess=last.topic_id,
            score=last.score,
        )
    )
    return True
