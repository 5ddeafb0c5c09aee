"""follow: a volunteer added @smartbmn (or unblocked it). Greet and say what the bot can do."""

from __future__ import annotations

from typing import Any

from handlers import Dispatcher, tickets
from handlers.context import EventContext, Fetched, LineReader, Reads
from handlers.texts import greeting
from ticketing import service


def on_follow(ctx: EventContext) -> None:
    """Greet; learn the display name; ask the province if we do not know it yet."""
    ctx.reply(greeting())
    if not ctx.user_id:
        return
    service.volunteer(ctx.session, ctx.user_id).following = True
    tickets.handle_follow(ctx)


def prefetch(event: dict[str, Any], line: LineReader, reads: Reads) -> Fetched:
    """The profile on every follow: the display name may have changed since."""
    user_id = tickets.sender(event)
    return Fetched(profile=tickets.fetch_profile(line, user_id) if user_id else None)


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on("follow")(on_follow)
    dispatcher.before("follow")(prefetch)
