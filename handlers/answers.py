"""The FAQ's answers as the bot gives them, one path whether typed or tapped.

A question typed, or a topic picked from "which did you mean?", ends in `act_on`: the one
place that decides what an answered topic does. Two topics are actions rather than texts:
"open-ticket" starts the report, "ticket-status" lists the volunteer's tickets.
"""

from __future__ import annotations

from common.messages import quick_message, text
from faq.records import record_chosen, record_reply, record_wrong_answer
from faq.service import NO_MATCH, NOT_THIS, TALK_TO_STAFF, WRONG_ANSWER, Kind, Reply
from handlers import tickets
from handlers.context import EventContext
from handlers.texts import faq_messages
from ticketing import conversation as c
from ticketing import service

MAX_QUESTION_CHARS = 1000  # longer texts are descriptions for a person, not FAQ questions
# Topics that do something rather than say something: what the conversation is given.
ACTIONS = {"open-ticket": c.ReportChosen, "ticket-status": c.StatusChosen}


def _registered_province(ctx: EventContext) -> str | None:
    return service.volunteer(ctx.session, ctx.user_id).province if ctx.user_id else None


def answer_question(ctx: EventContext, question: str) -> None:
    """A typed question (the conversation had no use for it)."""
    question = question[:MAX_QUESTION_CHARS]
    if question == NOT_THIS[1]:
        found = record_wrong_answer(ctx.session, ctx.user_id)
        ctx.reply(text(WRONG_ANSWER if found else NO_MATCH, [quick_message(*TALK_TO_STAFF)]))
        return
    reply = ctx.services.faq.respond(question, registered_province=_registered_province(ctx))
    record_reply(ctx.session, ctx.user_id, question, reply)
    act_on(ctx, reply)


def answer_chosen(ctx: EventContext, topic: str) -> None:
    """A topic tapped in a "which did you mean?" reply: as if its question had been typed."""
    record_chosen(ctx.session, ctx.user_id, topic)
    act_on(ctx, ctx.services.faq.answer(topic, registered_province=_registered_province(ctx)))


def act_on(ctx: EventContext, reply: Reply) -> None:
    """What an FAQ reply does. Only an answer acts: when "open-ticket" or "ticket-status" is
    merely the closer of two topics, the choice is offered like any other."""
    action = ACTIONS.get(reply.topic or "") if reply.kind is Kind.ANSWER else None
    if action is not None and ctx.user_id:
        tickets.converse(ctx, action())
    else:
        ctx.reply(*faq_messages(reply))
