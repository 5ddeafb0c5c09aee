"""What a handler sees: the event, a database session, and a way to answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from common.messages import Message
from faq.service import FaqService
from ticketing.escalation import Timings


class LineReader(Protocol):
    """The read-only and free parts of the LINE adapter, for prefetchers (never inside a
    handler's transaction)."""

    def get_profile(self, user_id: str) -> dict[str, Any]: ...

    def get_content(self, message_id: str, max_bytes: int | None = None) -> bytes:
        """Raises a `LineRejected` (a `LineContentTooLarge` past `max_bytes`) when not usable."""
        ...

    def show_loading(self, user_id: str, seconds: int = 20) -> None: ...


# Opens a session for a short read before a LINE call; closed (its transaction ended) before
# the call is made.
Reads = Callable[[], Session]


class ImageLinks(Protocol):
    def url(self, image_id: int) -> str: ...


class Services(Protocol):
    """The domain services handlers call, built once per process (the Runtime provides them)."""

    @property
    def faq(self) -> FaqService: ...

    @property
    def timings(self) -> Timings: ...

    @property
    def media(self) -> ImageLinks | None: ...


@dataclass(frozen=True)
class Fetched:
    """What was fetched from LINE before the handler's transaction began (see
    `Dispatcher.prefetch`): a message's content, the sender's profile."""

    content: bytes | None = None
    content_error: str | None = None  # why the content is not usable: "gone" | "too-large"
    profile: dict[str, Any] | None = None


@dataclass
class EventContext:
    session: Session
    event: dict[str, Any]
    services: Services
    fetched: Fetched = field(default_factory=Fetched)
    # Filled by handlers; the inbox turns them into outbox rows in the same transaction.
    replies: list[Message] = field(default_factory=list)
    pushes: list[tuple[str, list[Message]]] = field(default_factory=list)

    @property
    def event_type(self) -> str:
        return str(self.event.get("type", ""))

    @property
    def user_id(self) -> str | None:
        return (self.event.get("source") or {}).get("userId")

    @property
    def message(self) -> dict[str, Any]:
        return self.event.get("message") or {}

    @property
    def text(self) -> str:
        return str(self.message.get("text", "")) if self.message.get("type") == "text" else ""

    @property
    def postback_data(self) -> str:
        return str((self.event.get("postback") or {}).get("data", ""))

    def reply(self, *messages: Message) -> None:
        """Answer the user who caused the event (reply token if fresh, else push)."""
        self.replies.extend(messages)

    def push(self, user_id: str, *messages: Message) -> None:
        """Send to someone else (a coordinator, say); always a push with a retry key."""
        self.pushes.append((user_id, list(messages)))
