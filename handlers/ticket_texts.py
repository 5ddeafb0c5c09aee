"""What a volunteer or coordinator reads about where a ticket went: one true sentence each.

`ticketing.service.Route` says where a ticket is addressed and who can see it there; these
functions word it. No promise is made that the data cannot keep (a level with nobody linked is
never named as the one that "has" the ticket).
"""

from __future__ import annotations

from datetime import timedelta

from common.thaidate import thai_duration
from ticketing.escalation import Timings
from ticketing.models import Ticket
from ticketing.service import Route

CALL_DESK = "Call Desk 091-949-3261 หรือ 091-949-3262 (ตลอด 24 ชั่วโมง)"
WHO = {
    "province": "ผู้ประสานงานจังหวัด{province}",
    "region": "ผู้ประสานงาน{region}",
    "central": "ผู้ประสานงานส่วนกลาง",
}


def who(level: str, ticket: Ticket) -> str:
    return WHO[level].format(province=ticket.province, region=ticket.region)


def opened(ticket: Ticket, routed: Route, timings: Timings) -> str:
    """The volunteer's answer when their ticket opens."""
    head = f"รับเรื่องแล้วครับ หมายเลข {ticket.number}\n"
    track = '\nพิมพ์ "สถานะเรื่อง" เพื่อติดตามได้ตลอดเวลา'
    if routed.unattended:
        return (
            head + "ขณะนี้ยังไม่มีผู้ประสานงานที่รับเรื่องทาง LINE ได้ "
            "เรื่องของท่านบันทึกไว้แล้วและรอเจ้าหน้าที่ส่วนกลางรับเรื่อง "
            f"หากเร่งด่วนโทร {CALL_DESK}" + track
        )
    sent = f"ส่งถึง{who(routed.level, ticket)}แล้ว"
    if routed.level == "central":
        return head + sent + track
    # The sweep moves an unclaimed ticket up at `region_after` (from province) and to central
    # at `central_after` (from opening), skipping levels where nobody is linked.
    after = timings.region_after if routed.level == "province" else timings.central_after
    return head + sent + " " + moves_up(after) + track


def moves_up(after: timedelta) -> str:
    if after.total_seconds() <= 0:  # a test setting: the next sweep moves it
        return "หากยังไม่มีผู้รับเรื่อง ระบบจะส่งต่อขึ้นไปอีกระดับทันที"
    return (
        f"หากยังไม่มีผู้รับเรื่องภายใน {thai_duration(after.total_seconds())} ระบบจะส่งต่อขึ้นไปอีกระดับโดยอัตโนมัติ"
    )


def escalated(ticket: Ticket, routed: Route) -> str:
    """The coordinator's answer after ส่งต่อ."""
    if routed.unattended:
        return (
            f"ส่งต่อเรื่อง {ticket.number} ถึงส่วนกลางแล้ว แต่ยังไม่มีผู้ประสานงานส่วนกลางใน LINE "
            "เรื่องจะรอเจ้าหน้าที่ส่วนกลางรับเรื่องในรายการเรื่องที่ยังไม่มีผู้รับ"
        )
    return f"ส่งต่อเรื่อง {ticket.number} ถึง{who(routed.level, ticket)}แล้วครับ"
