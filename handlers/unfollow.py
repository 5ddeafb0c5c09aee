"""unfollow: the user blocked @smartbmn. LINE gives no reply token; nothing to send."""

from __future__ import annotations

from handlers import Dispatcher
from handlers.context import EventContext
from ticketing import service


def on_unfollow(ctx: EventContext) -> None:
    """Announcements are sent to current followers only."""
    if ctx.user_id:
        service.volunteer(ctx.session, ctx.user_id).following = False


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on("unfollow")(on_unfollow)
