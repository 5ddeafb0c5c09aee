"""follow: a volunteer added @smartbmn (or unblocked it). Greet and say what the bot can do."""

from __future__ import annotations

from common.messages import text
from handlers import Dispatcher, tickets
from handlers.context import EventContext
from handlers.texts import greeting
from ticketing import service


def on_follow(ctx: EventContext) -> None:
    """Greet; learn the display name; ask the province if we do not know it yet."""
    ctx.reply(greeting())
    if not ctx.user_id:
        return
    person = service.volunteer(ctx.session, ctx.user_id)
    person.following = True
    tickets.learn_display_name(ctx, person)
    if not person.province and service.coordinator_for(ctx.session, ctx.user_id) is None:
        service.set_flow(ctx.session, ctx.user_id, tickets.FLOW_PROVINCE, {"soft": True})
        ctx.reply(text(tickets.ASK_PROVINCE))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on("follow")(on_follow)
