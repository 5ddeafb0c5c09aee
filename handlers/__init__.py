"""LINE event handlers, one module per event kind, registered on a dispatcher.

A handler translates a LINE event into calls on the domain packages (`faq/`, `ticketing/`,
`broadcast/`) and says what to answer through its `EventContext`. Unknown kinds are logged and
ignored, never an error: LINE adds event types over time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from handlers.context import EventContext, Fetched, LineReader, Reads

log = logging.getLogger(__name__)

Handler = Callable[[EventContext], None]
# Runs before the handler, outside any database transaction: the LINE calls a handler needs
# (content download, profile) happen here, so no transaction waits on the network. `Reads`
# allows a short read first (is the sender's name known already?), finished before any call.
Prefetcher = Callable[[dict[str, Any], LineReader, Reads], Fetched]


class Dispatcher:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._prefetchers: dict[str, Prefetcher] = {}

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if event_type in self._handlers:
                raise ValueError(f"two handlers for {event_type!r}")
            self._handlers[event_type] = handler
            return handler

        return register

    def before(self, event_type: str) -> Callable[[Prefetcher], Prefetcher]:
        """Register what to fetch from LINE for an event kind before its handler runs."""

        def register(prefetcher: Prefetcher) -> Prefetcher:
            if event_type in self._prefetchers:
                raise ValueError(f"two prefetchers for {event_type!r}")
            self._prefetchers[event_type] = prefetcher
            return prefetcher

        return register

    def prefetch(self, event: dict[str, Any], line: LineReader, reads: Reads) -> Fetched:
        """Called with no transaction open; the result reaches the handler as `ctx.fetched`."""
        prefetcher = self._prefetchers.get(str(event.get("type", "")))
        return prefetcher(event, line, reads) if prefetcher else Fetched()

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
