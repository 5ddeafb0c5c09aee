"""LINE event handlers, one module per event kind, registered on a dispatcher.

A handler translates a LINE event into calls on the domain packages (`faq/`, `ticketing/`,
`broadcast/`) and says what to answer through its `EventContext`. Unknown kinds are logged and
ignored, never an error: LINE adds event types over time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from handlers.context import EventContext

log = logging.getLogger(__name__)

Handler = Callable[[EventContext], None]


class Dispatcher:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if event_type in self._handlers:
                raise ValueError(f"two handlers for {event_type!r}")
            self._handlers[event_type] = handler
            return handler

        return register

    def dispatch(self, ctx: EventContext) -> bool:
        handler = self._handlers.get(ctx.event_type)
        if handler is None:
            log.info("no handler for event type %r; ignored", ctx.event_type)
            return False
        handler(ctx)
        return True


def build_dispatcher() -> Dispatcher:
    from handlers import follow, ignored, message, postback, unfollow

    dispatcher = Dispatcher()
    for module in (follow, unfollow, message, postback, ignored):
        module.register(dispatcher)
    return dispatcher
