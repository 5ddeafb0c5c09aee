"""message: text goes through the ticket conversation, then the FAQ; images to the ticket
conversation; stickers and the rest get a polite note."""

from __future__ import annotations

from common.messages import text
from handlers import Dispatcher, answers, tickets
from handlers.context import EventContext

OTHER_RECEIVED = "ขออภัยครับ ตอนนี้ผมอ่านได้เฉพาะข้อความตัวอักษรและรูปภาพ กรุณาพิมพ์คำถามเป็นข้อความนะครับ"
STICKER_RECEIVED = "😊 พิมพ์คำถามเกี่ยวกับ Smart Survey หรือการจัดเก็บข้อมูล จปฐ. ได้เลยครับ"


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
    """Whole, as typed: a description or an answer to a volunteer keeps every character (LINE
    allows 5,000 per message); only a question for the FAQ is cut."""
    question = tickets.handle_text(ctx, ctx.text.strip())
    if question is not None:
        answers.answer_question(ctx, question)


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on("message")(on_message)
    dispatcher.before("message")(tickets.prefetch_message)
