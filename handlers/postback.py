"""postback: a button was tapped (quick reply, Flex card, rich menu).

Postback data comes back from the user's phone: it is parsed strictly and checked against
what exists; anything else gets a polite refusal and changes nothing.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

from common.messages import text
from handlers import Dispatcher, answers, tickets
from handlers.context import EventContext
from handlers.texts import FAQ_CHOICE

log = logging.getLogger(__name__)

UNKNOWN_ACTION = "ขออภัยครับ ปุ่มนี้ไม่สามารถใช้งานได้แล้ว กรุณาพิมพ์คำถามหรือเลือกเมนูใหม่อีกครั้ง"


# Fields that carry a number, and the largest each may be: ticket ids live in 32-bit INTEGER
# columns; a rating is 1–5.
NUMBERS = {"t": 2**31 - 1, "r": 5}
ASCII_NUMBER = re.compile(r"[0-9]{1,10}")  # not str.isdigit(): "²" and "๑" are digits to it


def parse(data: str) -> dict[str, str]:
    """The postback's fields, or {} for data this bot never made.

    A number field that is not plain ASCII digits in range (`t=²`, a 23-digit ticket id) makes
    the whole postback unknown: the user is told at once that the button no longer works,
    instead of the event failing on every retry.
    """
    try:
        fields = dict(parse_qsl(data, strict_parsing=True, max_num_fields=10))
    except ValueError:
        return {}
    for name, largest in NUMBERS.items():
        value = fields.get(name)
        if value is not None and not (ASCII_NUMBER.fullmatch(value) and 1 <= int(value) <= largest):
            return {}
    return fields


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
