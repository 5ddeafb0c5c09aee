"""Thai wording and message shapes shared by several handlers. Everything a user reads is Thai."""

from __future__ import annotations

from common.messages import Message, quick_message, quick_postback, text
from faq.service import GREETING, Reply

__all__ = ["faq_messages", "greeting"]

FAQ_CHOICE = "faq-topic"  # postback action: the user picked a topic from a choice


def greeting() -> Message:
    return text(
        GREETING,
        [quick_message("ช่องทางติดต่อ"), quick_message("แจ้งปัญหา"), quick_message("ลืมรหัสผ่าน")],
    )


def faq_messages(reply: Reply) -> list[Message]:
    """An FAQ reply as LINE messages: the text, with its follow-ups as quick replies."""
    items = [
        quick_postback(label, f"action={FAQ_CHOICE}&topic={topic}", display_text=question)
        for topic, label, question in reply.choices
    ]
    items += [quick_message(label, send) for label, send in reply.follow_ups]
    return [text(reply.text, items)]
