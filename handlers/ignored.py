"""Event kinds this help line receives but has nothing to do with (groups, beacons, …).

They are stored like every event and acknowledged; registering them here says "known, on
purpose no action", so the log can tell them from types LINE added that we have never seen.
"""

from __future__ import annotations

from handlers import Dispatcher
from handlers.context import EventContext

IGNORED = (
    "join",
    "leave",
    "memberJoined",
    "memberLeft",
    "unsend",
    "videoPlayComplete",
    "beacon",
    "accountLink",
    "messageEdited",
)


def ignore(ctx: EventContext) -> None:
    return None


def register(dispatcher: Dispatcher) -> None:
    for event_type in IGNORED:
        dispatcher.on(event_type)(ignore)
