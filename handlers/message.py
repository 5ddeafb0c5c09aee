"""message: text goes to the FAQ; images, stickers and the rest get a polite note."""

from __future__ import annotations

from common.messages import quick_message, text
from faq.records import record_reply, record_wrong_answer
from faq.service import NO_MATCH, NOT_THIS, TALK_TO_STAFF, WRONG_ANSWER
from handlers import Dispatcher, tickets
from handlers.context import EventContext
from handlers.texts import faq_messages
from ticketing import service

OTHER_RECEIVED = "ขออภัยครับ ตอนนี้ผมอ่านได้เฉพาะข้อความตัวอักษรและรูปภาพ กรุณาพิมพ์คำถามเป็นข้อความนะครับ"
STICKER_RECEIVED = "😊 พิมพ์คำถามเกี่ยวกับ Smart Survey หรือการจัดเก็บข้อมูล จปฐ. ได้เลยครับ"
MAX_QUESTION_CHARS = 1000  # longer texts are descriptions for a person, not FAQ questions


def on_message(ctx: EventContext) -> None:
    kind = ctx.message.get("type")
    if kind == "text":
        on_text(ctx)
    elif kind == "image":
        tickets.handle_image(ctx)
    elif kind == "sticker":
        ctx.reply(text(STICKER_RECEIVED))
    else:
        ctx.reply(text(OTHER_RECEIVED))


def on_text(ctx: EventContext) -> None:
    question = ctx.text.strip()[:MAX_QUESTION_CHARS]
    if tickets.handle_text(ctx, question):
        return
    offer = [quick_message(*TALK_TO_STAFF)]
    if question == NOT_THIS[1]:
        found = record_wrong_answer(ctx.session, ctx.user_id)
        ctx.reply(text(WRONG_ANSWER if found else NO_MATCH, offer))
        return
    registered = service.volunteer(ctx.session, ctx.user_id).province if ctx.user_id else None
    reply = ctx.services.faq.respond(question, registered_province=registered)
    record_reply(ctx.session, ctx.user_id, question, reply)
    if reply.topic == "open-ticket":
        tickets.start_ticket(ctx)
    elif reply.topic == "ticket-status":
        ctx.reply(text(tickets.status_text(ctx)))
    else:
        ctx.reply(*faq_messages(reply))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on("message")(on_message)
