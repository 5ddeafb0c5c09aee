"""Ticket notices as LINE messages: Flex cards for coordinators, texts for volunteers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from common.messages import Message, quick_postback, text
from common.thaidate import thai_datetime, thai_duration
from handlers.context import ImageLinks
from ticketing.calls import format_phone
from ticketing.models import Ticket, Volunteer
from ticketing.service import LEVEL_WORDS, Notice, image_ids

# "ระดับจังหวัด", "ระดับภาค", "ส่วนกลาง": from the domain's one list of level words.
LEVEL_NAMES = {
    level: word if level == "central" else "ระดับ" + word for level, word in LEVEL_WORDS.items()
}
TITLES = {
    "new": "เรื่องใหม่",
    "escalated": "ส่งต่อถึงท่าน",
    "reminder": "เตือน: ยังไม่ได้ตอบอาสาสมัคร",
}


def _postback_button(label: str, data: str, style: str = "secondary") -> dict[str, Any]:
    return {
        "type": "button",
        "style": style,
        "height": "sm",
        "action": {"type": "postback", "label": label, "data": data, "displayText": label},
    }


def _row(label: str, value: str) -> dict[str, Any]:
    return {
        "type": "box",
        "layout": "baseline",
        "contents": [
            {"type": "text", "text": label, "size": "sm", "color": "#888888", "flex": 2},
            {"type": "text", "text": value or "-", "size": "sm", "wrap": True, "flex": 5},
        ],
    }


def image_message(url: str) -> Message:
    return {"type": "image", "originalContentUrl": url, "previewImageUrl": url}


def coordinator_card(
    ticket: Ticket,
    kind: str,
    labels: Mapping[str, str] | None,
    district: str | None = None,
    screenshots: int = 0,
    screenshot_url: str | None = None,
) -> Message:
    title = f"{TITLES.get(kind, 'เรื่อง')} {ticket.number}"
    if ticket.channel == "phone":
        title += " (โทรศัพท์)"
    description = (
        ticket.description if len(ticket.description) <= 300 else ticket.description[:299] + "…"
    )
    bubble = {
        "type": "bubble",
        "header": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": title, "weight": "bold", "size": "lg"}],
        },
        "body": {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                _row("จังหวัด", f"{ticket.province} ({ticket.region})"),
                _row("อำเภอ", district or "-"),
                _row("ผู้แจ้ง", ticket.display_name or "อาสาสมัคร"),
                *([_row("โทร", format_phone(ticket.phone))] if ticket.phone else []),
                _row("หมวด", (labels or {}).get(ticket.category or "", "ทั่วไป")),
                _row("ถึง", LEVEL_NAMES.get(ticket.level, ticket.level)),
                _row("เวลา", thai_datetime(ticket.created_at)),
                *([_row("ภาพหน้าจอ", f"{screenshots} ภาพ")] if screenshots else []),
                {"type": "separator"},
                {"type": "text", "text": description, "wrap": True, "size": "sm"},
            ],
        },
        "footer": {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                _postback_button("รับเรื่อง", f"action=claim&t={ticket.id}", "primary"),
                _postback_button("ตอบกลับ", f"action=reply&t={ticket.id}"),
                _postback_button("ส่งต่อ", f"action=escalate&t={ticket.id}"),
                _postback_button("ปิดเรื่อง", f"action=resolve&t={ticket.id}"),
            ],
        },
    }
    if screenshot_url:
        bubble["hero"] = {
            "type": "image",
            "url": screenshot_url,
            "size": "full",
            "aspectRatio": "4:3",
            "aspectMode": "fit",
            "action": {"type": "uri", "label": "ดูภาพหน้าจอ", "uri": screenshot_url},
        }
    return {"type": "flex", "altText": f"{title}: {description[:60]}", "contents": bubble}


def rating_message(ticket: Ticket, resolution: str, reopen_within: timedelta) -> Message:
    stars = [
        quick_postback(f"{'⭐' * n} {n}", f"action=rate&t={ticket.id}&r={n}", f"ให้คะแนน {n}/5")
        for n in range(5, 0, -1)
    ]
    return text(
        f"เรื่อง {ticket.number} ได้รับการแก้ไขแล้วครับ\nผลการแก้ไข: {resolution}\n\n"
        f"หากยังมีปัญหา พิมพ์ตอบกลับได้ภายใน {thai_duration(reopen_within.total_seconds())} "
        "เรื่องจะถูกเปิดอีกครั้ง\n"
        "กรุณาให้คะแนนการช่วยเหลือครั้งนี้ด้วยครับ",
        stars,
    )


def render(
    session: Session,
    notice: Notice,
    labels: Mapping[str, str] | None,
    media: ImageLinks | None,
    reopen_within: timedelta,
) -> list[Message]:
    """`labels`: FAQ topic id → Thai label, for the card's category; `media`: links to the
    ticket's screenshots (without it, cards and relays go out as text only); `reopen_within`:
    how long a resolved ticket reopens on a message (`Timings.close_after`)."""
    ticket = session.get(Ticket, notice.ticket_id)
    assert ticket is not None
    answer_button = [quick_postback("ตอบกลับ", f"action=reply&t={ticket.id}", "ตอบกลับ")]
    relayed_image = notice.extra.get("image")
    image = [image_message(media.url(relayed_image))] if media and relayed_image else []
    match notice.kind:
        case "new" | "escalated" | "reminder":
            person = session.get(Volunteer, ticket.user_id) if ticket.user_id else None
            ids = image_ids(session, ticket.id)
            with_images = media is not None and notice.kind != "reminder"
            urls = [media.url(i) for i in ids] if with_images else []
            card = coordinator_card(
                ticket,
                notice.kind,
                labels,
                person.district if person else None,
                len(ids),
                urls[0] if urls else None,
            )
            # The first screenshot is the card's picture; the rest follow it (≤ 5 per push).
            return [card, *(image_message(url) for url in urls[1:5])]
        case "relay":
            said = f"[{ticket.number}] ข้อความจากอาสาสมัคร:\n{notice.text}"
            return [*image, text(said, answer_button)]
        case "reopened":
            said = f"[{ticket.number}] อาสาสมัครเปิดเรื่องอีกครั้ง:\n{notice.text}"
            return [*image, text(said, answer_button)]
        case "reply":
            sender = notice.extra.get("from", "ผู้ประสานงาน")
            return [*image, text(f"[{ticket.number}] {notice.text}\n— {sender}")]
        case "taken-over":
            return [
                text(
                    f"เรื่อง {ticket.number} ถูกรับช่วงต่อโดย {notice.text} แล้วครับ ท่านไม่ต้องดำเนินการต่อ",
                )
            ]
        case "claimed-by":
            return [
                text(f"ผู้ประสานงาน {notice.text} รับเรื่อง {ticket.number} แล้วครับ จะติดต่อกลับทางแชตนี้")
            ]
        case "resolved":
            return [rating_message(ticket, notice.text, reopen_within)]
        case "closed":
            return [text(f"เรื่อง {ticket.number} ปิดแล้วครับ\nเหตุผล: {notice.text}")]
        case "merged":
            return [
                text(
                    f"เรื่อง {ticket.number} ซ้ำกับเรื่อง {notice.text} จึงรวมเป็นเรื่องเดียวกันแล้วครับ "
                    f"ผู้ประสานงานจะดำเนินการต่อในเรื่อง {notice.text}"
                )
            ]
        case "reassigned":
            return [
                text(
                    f"{notice.text} มอบหมายเรื่อง {ticket.number} ให้ท่านดูแลแล้วครับ\n"
                    f"ปัญหา: {ticket.description[:300]}",
                    [
                        quick_postback("ตอบกลับ", f"action=reply&t={ticket.id}", "ตอบกลับ"),
                        quick_postback("ปิดเรื่อง", f"action=resolve&t={ticket.id}", "ปิดเรื่อง"),
                    ],
                )
            ]
        case "reassigned-away":
            by = notice.extra.get("by", "เจ้าหน้าที่")
            return [
                text(
                    f"{by} มอบหมายเรื่อง {ticket.number} ให้ {notice.text} ดูแลแทนแล้วครับ "
                    "ท่านไม่ต้องดำเนินการต่อ"
                )
            ]
    raise ValueError(f"unknown notice kind {notice.kind!r}")
