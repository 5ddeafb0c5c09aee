"""Turning the domain's `Notice`s into outbox rows, and having them sent.

The rows are added in the caller's transaction (a ticket and the messages about it commit
together); sending starts only after the commit, through the worker's queue or right here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.models import OutboundMessage
from handlers.ticket_cards import render
from ticketing.service import Notice

if TYPE_CHECKING:
    from bot.runtime import Runtime


def stage(session: Session, rt: Runtime, notices: Sequence[Notice]) -> list[int]:
    """Outbox rows for `notices` in `session`'s transaction; their ids."""
    rows = [
        OutboundMessage(
            user_id=n.to,
            messages=render(session, n, rt.faq.labels, rt.media, rt.timings.close_after),
        )
        for n in notices
        if n.to
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def send_soon(outbox_ids: Sequence[int]) -> None:
    """After the commit: the worker delivers them (the sweep would, had the queue lost them)."""
    if not outbox_ids:
        return
    from bot.worker import deliver_task

    for outbox_id in outbox_ids:
        deliver_task(outbox_id)
