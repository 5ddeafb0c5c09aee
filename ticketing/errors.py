"""Refusals. Every message is Thai and can be shown to the person as it is."""

from __future__ import annotations


class TicketError(Exception):
    """A refused action."""


class HeldByOther(TicketError):
    """The ticket is another staff member's; the only way in is an explicit take-over."""

    def __init__(self, message: str, ticket_id: int) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id


class Refused(TicketError):
    """Not allowed for this person (role, deactivated). The console answers 403."""

    def __init__(self, message: str = "ท่านไม่มีสิทธิ์ดำเนินการนี้") -> None:
        super().__init__(message)


class OutOfArea(Refused):
    """The ticket does not exist or is outside the person's area: the console answers 404 for
    both, so a URL tells nothing about another area's tickets."""

    def __init__(self) -> None:
        super().__init__("ท่านไม่มีสิทธิ์ดำเนินการกับเรื่องนี้")
