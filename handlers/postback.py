"""postback: a button was tapped (quick reply, Flex card, rich menu).

Postback data comes back from the user's phone: it is parsed strictly and checked against
what exists; anything else gets a polite refusal and changes nothing.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from common.messages import text
from handlers import Dispatcher, answers, tickets
from handlers.context import EventContext
from handlers.texts import FAQ_CHOICE

log = logging.getLogger(__name__)

UNKNOWN_ACTION = "ขออภัยครับ ปุ่มนี้ไม่สามารถใช้งานได้แล้ว กรุณาพิมพ์คำถามหรือเลือกเมนูใหม่อีกครั้ง"


def parse(data: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(data, strict_parsing=True, max_num_fields=10))
    except ValueError:
        return {}


def on_postback(ctx: EventContext) -> None:
    fields = parse(ctx.postback_data)
    if tickets.handle_postback(ctx, fields):
        return
    if fields.get("action") == FAQ_CHOICE and fields.get("topic") in ctx.services.faq.entries:
        answers.answer_chosen(ctx, fields["topic"])
        return
    log.info("postback without a known action: %r", ctx.postback_data[:100])
    ctx.reply(text(UNKNOWN_ACTION))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on("postback")(on_postback)
    dispatcher.before("postback")(tickets.prefetch_profile)
