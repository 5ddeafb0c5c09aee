"""The LINE side of tickets: the volunteer's and the coordinator's conversations.

Text and postbacks are translated into calls on `ticketing.service`; the notices it returns
become pushes in the same transaction (outbox), the answer to the sender a reply.
"""

from __future__ import annotations

import base64
import logging
import re

from sqlalchemy import select

from bot.line_client import LineRejected
from bot.media import image_type
from common.messages import quick_message, quick_postback, text
from common.thaidate import thai_datetime
from faq.models import FaqAnswer
from handlers import ticket_texts
from handlers.context import EventContext
from handlers.ticket_cards import LEVEL_NAMES, render
from ticketing import service
from ticketing.models import ChatState, TicketState, Volunteer, format_number
from ticketing.service import HeldByOther, Notice, TicketError

log = logging.getLogger(__name__)

FLOW_PROVINCE = "province"  # waiting for the volunteer's province
FLOW_DESCRIBE = "ticket-describe"  # waiting for the problem's description
FLOW_CONFIRM = "ticket-confirm"  # description given; confirm or cancel
FLOW_IMAGE_OFFER = "image-offer"  # a screenshot came with no ticket; offered to open one
FLOW_REPLY = "coord-reply"  # the coordinator's next text goes to the volunteer
FLOW_RESOLVE = "coord-resolve"  # the coordinator's next text is the resolution

REGISTER = re.compile(r"^ลงทะเบียนผู้ประสานงาน\s+([0-9A-Za-z-]{6,40})$")
SET_PROVINCE = re.compile(r"^(?:จังหวัด|จ\.)\s*(\S.*)$")
SET_DISTRICT = re.compile(r"^(?:อำเภอ|อ\.)\s*(\S.{0,60})$")
REPORT = re.compile(r"^แจ้งปัญหา\s*(.*)$", re.S)
CANCEL_WORDS = {"ยกเลิก", "cancel"}
MAX_IMAGE_BYTES = 2 * 1024 * 1024
IMAGE_RECEIVED = "ได้รับรูปภาพแล้วครับ 🙏 หากมีคำถาม พิมพ์เป็นข้อความได้เลย"
SCREENSHOT_ONLY = "(ภาพหน้าจอ)"  # the description of a problem shown only by a picture
MAX_IMAGES_PER_TICKET = 5  # one push is at most five messages: the card and four more

STATE_NAMES = {
    TicketState.NEW: "รอผู้รับเรื่อง",
    TicketState.CLAIMED: "ผู้ประสานงานรับเรื่องแล้ว",
    TicketState.WAITING: "รอคำตอบจากท่าน",
    TicketState.RESOLVED: "แก้ไขแล้ว",
    TicketState.CLOSED: "ปิดเรื่อง",
}
ASK_PROVINCE = "ท่านอยู่จังหวัดไหนครับ? พิมพ์ชื่อจังหวัดได้เลย (เช่น สุราษฎร์ธานี) เพื่อให้ส่งเรื่องถึงผู้ประสานงานที่ถูกต้อง"
CANCEL_BUTTON = quick_postback("ยกเลิก", "action=ticket-cancel", "ยกเลิก")


def send(ctx: EventContext, notices: list[Notice]) -> None:
    labels = ctx.services.faq.labels
    for notice in notices:
        ctx.push(notice.to, *render(ctx.session, notice, labels, ctx.services.media))


# -- text -----------------------------------------------------------------------------------------


def handle_text(ctx: EventContext, message: str) -> bool:
    """True if the text belonged to a ticket conversation (and was answered)."""
    user_id = ctx.user_id
    if not user_id:
        return False
    session = ctx.session
    flow = service.get_flow(session, user_id)
    if message in CANCEL_WORDS and flow is not None:
        service.clear_flow(session, user_id)
        ctx.reply(text("ยกเลิกแล้วครับ มีอะไรให้ช่วยพิมพ์มาได้เลย"))
        return True
    try:
        if match := REGISTER.match(message):
            person = service.link_coordinator(session, user_id, match.group(1))
            area = person.province or person.region or "ทั่วประเทศ"
            ctx.reply(
                text(
                    f"ลงทะเบียนเรียบร้อย: {person.name} ผู้ประสานงาน{LEVEL_NAMES[person.level]} "
                    f"({area})\nเรื่องใหม่และเรื่องที่ส่งต่อจะส่งถึงท่านทางแชตนี้"
                )
            )
            return True
        coordinator_flow = flow is not None and flow.flow in (FLOW_REPLY, FLOW_RESOLVE)
        if coordinator_flow and on_flow_text(ctx, flow.flow, dict(flow.data), message):
            return True
        if match := SET_PROVINCE.match(message):
            set_province_from_text(ctx, match.group(1), flow)
            return True
        if flow is not None and on_flow_text(ctx, flow.flow, dict(flow.data), message):
            return True
        if match := SET_DISTRICT.match(message):
            service.volunteer(session, user_id).district = match.group(1).strip()
            ctx.reply(text(f"บันทึกอำเภอ {match.group(1).strip()} แล้วครับ"))
            return True
        if message == "สถานะเรื่อง":  # the rich menu's button
            ctx.reply(text(status_text(ctx)))
            return True
        if match := REPORT.match(message):
            start_ticket(ctx, match.group(1).strip())
            return True
        if service.coordinator_for(session, user_id) is None:
            ticket = service.active_ticket(session, user_id)
            if ticket is not None:
                notices = service.volunteer_message(session, ticket, message)
                send(ctx, notices)
                ctx.reply(text(relayed(ticket.number, "ข้อความ", notices)))
                return True
    except TicketError as refused:
        ctx.reply(text(str(refused)))
        return True
    return False


def set_province_from_text(ctx: EventContext, name: str, flow) -> None:
    """ "จังหวัด <ชื่อ>": set or change the province in one message, then carry on."""
    assert ctx.user_id is not None
    province = ctx.services.faq.directory.match_province(name)
    if province is None:
        ctx.reply(text(f'ไม่พบจังหวัด "{name}" กรุณาพิมพ์ชื่อจังหวัดอีกครั้ง'))
        return
    service.set_province(ctx.session, ctx.user_id, province, ctx.services.faq.directory)
    ctx.reply(text(f"บันทึกจังหวัดของท่านเป็น {province} แล้วครับ"))
    if flow is not None and flow.flow == FLOW_PROVINCE:
        service.clear_flow(ctx.session, ctx.user_id)
        if not flow.data.get("soft"):  # a report was waiting for the province
            start_ticket(ctx, str(flow.data.get("detail", "")), flow.data.get("images", []))


def on_flow_text(ctx: EventContext, flow: str, data: dict, message: str) -> bool:
    session, user_id = ctx.session, ctx.user_id
    assert user_id is not None
    if flow == FLOW_REPLY:
        send(ctx, service.reply(session, user_id, int(data["ticket"]), message))
        service.clear_flow(session, user_id)
        ctx.reply(text("ส่งข้อความถึงอาสาสมัครแล้วครับ"))
        return True
    if flow == FLOW_RESOLVE:
        send(ctx, service.resolve(session, user_id, int(data["ticket"]), message))
        service.clear_flow(session, user_id)
        ctx.reply(text("ปิดเรื่องและแจ้งผลการแก้ไขถึงอาสาสมัครแล้วครับ"))
        return True
    if flow == FLOW_PROVINCE:
        province = ctx.services.faq.directory.match_province(message)
        if province is None and data.get("soft"):
            # Asked on follow, answered with a question: forget the ask, answer the question.
            service.clear_flow(session, user_id)
            return False
        if province is None:
            ctx.reply(text("ขออภัย ไม่พบจังหวัดนี้ " + ASK_PROVINCE, [CANCEL_BUTTON]))
        else:
            ctx.reply(
                text(
                    f"จังหวัด{province} ใช่ไหมครับ?",
                    [
                        quick_postback(
                            f"ใช่ {province}", f"action=set-province&p={province}", province
                        ),
                        quick_message("ไม่ใช่", "ไม่ใช่"),
                        CANCEL_BUTTON,
                    ],
                )
            )
        return True
    if flow == FLOW_DESCRIBE:
        data["description"] = message
        ask_confirm(ctx, data)
        return True
    if flow == FLOW_CONFIRM:
        said = data.get("description", "")
        said = "" if said == SCREENSHOT_ONLY else said  # the first words replace the stand-in
        data["description"] = f"{said}\n{message}".strip()
        ask_confirm(ctx, data)
        return True
    return False


def ask_confirm(ctx: EventContext, data: dict) -> None:
    assert ctx.user_id is not None
    service.set_flow(ctx.session, ctx.user_id, FLOW_CONFIRM, data)
    count = len(data.get("images", []))
    image = f"\n(แนบภาพหน้าจอ {count} ภาพ)" if count else ""
    ctx.reply(
        text(
            f"สรุปปัญหาที่จะแจ้ง:\n{data['description']}{image}\n\n"
            'กด "ยืนยัน" เพื่อส่งเรื่องถึงผู้ประสานงาน พิมพ์เพิ่มเติมหรือส่งภาพหน้าจอได้',
            [quick_postback("ยืนยัน", "action=ticket-confirm", "ยืนยันแจ้งปัญหา"), CANCEL_BUTTON],
        )
    )


# -- opening ------------------------------------------------------------------------------------


def learn_display_name(ctx: EventContext, person: Volunteer) -> None:
    """The LINE display name, for coordinators' cards; nice to have, never a reason to fail."""
    try:
        person.display_name = ctx.line.get_profile(person.user_id).get("displayName")
    except Exception as exc:
        log.info("profile not available: %s", exc)


def start_ticket(ctx: EventContext, detail: str = "", images: list | None = None) -> None:
    """The "แจ้งปัญหา" flow: province first, then the description, then confirm.

    `images`: screenshots already sent (kept in the flow as base64 until the ticket exists);
    a pending image offer's screenshots are carried over too."""
    assert ctx.user_id is not None
    if images is None:
        pending = service.get_flow(ctx.session, ctx.user_id)
        offered = pending is not None and pending.flow == FLOW_IMAGE_OFFER
        images = list(pending.data.get("images", [])) if offered and pending else []
    person = service.volunteer(ctx.session, ctx.user_id)
    if person.display_name is None:
        learn_display_name(ctx, person)
    if not person.province:
        data = {"detail": detail, "images": images}
        service.set_flow(ctx.session, ctx.user_id, FLOW_PROVINCE, data)
        ctx.reply(text(ASK_PROVINCE, [CANCEL_BUTTON]))
        return
    if detail:
        create_ticket(ctx, detail, {"images": images})
        return
    if images:
        ask_confirm(ctx, {"description": SCREENSHOT_ONLY, "images": images})
        return
    service.set_flow(ctx.session, ctx.user_id, FLOW_DESCRIBE, {})
    ctx.reply(
        text(
            "กรุณาพิมพ์อธิบายปัญหาให้ละเอียด (เช่น เกิดตอนไหน ข้อความที่ขึ้น) และส่งภาพหน้าจอได้ครับ",
            [CANCEL_BUTTON],
        )
    )


def recent_questions(ctx: EventContext, limit: int = 5) -> list[dict]:
    rows = ctx.session.scalars(
        select(FaqAnswer)
        .where(FaqAnswer.user_id == ctx.user_id, FaqAnswer.question != "")
        .order_by(FaqAnswer.id.desc())
        .limit(limit)
    ).all()
    return [{"from": "volunteer", "text": r.question, "faq": r.topic_id} for r in reversed(rows)]


def create_ticket(ctx: EventContext, description: str, data: dict | None = None) -> None:
    assert ctx.user_id is not None
    data = data or {}
    match = ctx.services.faq.matcher.match(description)
    images = [(base64.b64decode(i["content"]), i["type"]) for i in data.get("images", [])]
    ticket, notices = service.open_ticket(
        ctx.session,
        ctx.services.faq.directory,
        ctx.user_id,
        description,
        category=match.best,
        conversation=recent_questions(ctx),
        images=images,
    )
    service.clear_flow(ctx.session, ctx.user_id)
    send(ctx, notices)
    where = service.where_is(ctx.session, ticket)
    ctx.reply(text(ticket_texts.opened(ticket, where, ctx.services.timings)))


def status_text(ctx: EventContext) -> str:
    assert ctx.user_id is not None
    tickets = service.tickets_of(ctx.session, ctx.user_id)
    if not tickets:
        return 'ท่านยังไม่มีเรื่องที่แจ้งไว้ครับ หากต้องการแจ้งปัญหา พิมพ์ "แจ้งปัญหา"'
    lines = [
        f"• {t.number} ({thai_datetime(t.created_at)}): {STATE_NAMES.get(t.state, t.state)}"
        for t in tickets
    ]
    return "เรื่องที่ท่านแจ้งไว้:\n" + "\n".join(lines)


def relayed(number: str, what: str, notices: list[Notice]) -> str:
    if notices:
        return f"ส่ง{what}ถึงผู้ประสานงานแล้วครับ (เรื่อง {number})"
    # Nobody linked at the ticket's level yet (central, say): kept for whoever takes it.
    return f"เพิ่ม{what}ในเรื่อง {number} แล้วครับ ผู้ประสานงานจะเห็นเมื่อรับเรื่อง"


# -- images -------------------------------------------------------------------------------------


COLLECTING = (FLOW_DESCRIBE, FLOW_CONFIRM, FLOW_IMAGE_OFFER)  # flows that gather screenshots


def handle_image(ctx: EventContext) -> None:
    """Where a picture goes: a coordinator answering a ticket (ตอบกลับ) sends it to the
    volunteer; a volunteer's goes with the ticket being described, or onto their open ticket
    (relayed like a message); any other is kept and offered as a new ticket."""
    user_id = ctx.user_id
    if not user_id:
        ctx.reply(text(IMAGE_RECEIVED))
        return
    session = ctx.session
    flow = service.get_flow(session, user_id)
    collecting = flow if flow is not None and flow.flow in COLLECTING else None
    coordinator = service.coordinator_for(session, user_id) is not None
    answering = flow if coordinator and flow is not None and flow.flow == FLOW_REPLY else None
    if coordinator and not (collecting or answering):
        ctx.reply(text(IMAGE_RECEIVED))
        return
    ticket = None if collecting or coordinator else service.active_ticket(session, user_id)
    content = fetch_image(ctx, user_id)
    if content is None:
        return
    if answering is not None:
        picture_to_volunteer(ctx, user_id, int(answering.data["ticket"]), content)
    elif ticket is not None:
        image = service.attach_image(session, ticket, content, image_type(content))
        notices = service.volunteer_message(session, ticket, SCREENSHOT_ONLY, image=image)
        send(ctx, notices)
        ctx.reply(text(relayed(ticket.number, "ภาพ", notices)))
    else:
        keep_screenshot(ctx, user_id, collecting, content)


def fetch_image(ctx: EventContext, user_id: str) -> bytes | None:
    """The picture's bytes from LINE's content API; None (and the user told) when not usable."""
    ctx.line.show_loading(user_id, 10)
    try:
        content = ctx.line.get_content(str(ctx.message.get("id")))
    except LineRejected as refused:  # gone, or sent from another service (contentProvider)
        log.info("image content not available: %s", refused)
        ctx.reply(text("ขออภัยครับ เปิดภาพนี้ไม่ได้ กรุณาส่งภาพหน้าจออีกครั้ง"))
        return None
    if len(content) > MAX_IMAGE_BYTES:
        ctx.reply(text("ภาพใหญ่เกินไปครับ (เกิน 2 MB) กรุณาส่งภาพหน้าจอที่เล็กลง"))
        return None
    return content


def picture_to_volunteer(ctx: EventContext, user_id: str, ticket_id: int, content: bytes) -> None:
    picture = (content, image_type(content))
    try:
        notices = service.reply(ctx.session, user_id, ticket_id, "(ภาพ)", image=picture)
    except TicketError as refused:
        ctx.reply(text(str(refused)))
        return
    send(ctx, notices)
    # The answering flow stays open: a picture is usually followed by words.
    ctx.reply(text('ส่งภาพถึงอาสาสมัครแล้วครับ พิมพ์ข้อความต่อได้เลย หรือพิมพ์ "ยกเลิก" เมื่อเสร็จ'))


def keep_screenshot(
    ctx: EventContext, user_id: str, flow: ChatState | None, content: bytes
) -> None:
    """Add the screenshot to the ticket being described, or keep it and offer a ticket."""
    data = dict(flow.data) if flow is not None else {}
    images = list(data.get("images", []))
    if len(images) >= MAX_IMAGES_PER_TICKET:
        ctx.reply(text(f"แนบภาพได้สูงสุด {MAX_IMAGES_PER_TICKET} ภาพต่อเรื่องครับ"))
        return
    encoded = base64.b64encode(content).decode()
    data["images"] = [*images, {"content": encoded, "type": image_type(content)}]
    if flow is not None and flow.flow in (FLOW_DESCRIBE, FLOW_CONFIRM):
        data.setdefault("description", SCREENSHOT_ONLY)
        ask_confirm(ctx, data)
        return
    service.set_flow(ctx.session, user_id, FLOW_IMAGE_OFFER, data)
    ctx.reply(
        text(
            f"ได้รับภาพแล้วครับ ({len(data['images'])} ภาพ) หากเป็นภาพหน้าจอปัญหา "
            "กดแจ้งปัญหาเพื่อส่งภาพนี้ถึงผู้ประสานงาน หรือพิมพ์คำถามได้เลย",
            [
                quick_postback("แจ้งปัญหาพร้อมภาพนี้", "action=ticket-with-image", "แจ้งปัญหาพร้อมภาพ"),
                CANCEL_BUTTON,
            ],
        )
    )


# -- postbacks ----------------------------------------------------------------------------------


def handle_postback(ctx: EventContext, fields: dict[str, str]) -> bool:
    action = fields.get("action", "")
    user_id = ctx.user_id
    if not user_id or action not in POSTBACKS:
        return False
    ticket_id = int(fields["t"]) if fields.get("t", "").isdigit() else 0
    try:
        POSTBACKS[action](ctx, fields, ticket_id)
    except HeldByOther as refused:
        take = f"action=takeover&t={refused.ticket_id}"
        ctx.reply(text(str(refused), [quick_postback("รับช่วงต่อ", take, "รับช่วงต่อ"), CANCEL_BUTTON]))
    except TicketError as refused:
        ctx.reply(text(str(refused)))
    return True


def _confirm(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    flow = service.get_flow(ctx.session, ctx.user_id)
    if flow is None or flow.flow != FLOW_CONFIRM:
        raise TicketError('ไม่มีเรื่องที่รอยืนยันครับ พิมพ์ "แจ้งปัญหา" เพื่อเริ่มใหม่')
    create_ticket(ctx, str(flow.data.get("description", "")), dict(flow.data))


def _ticket_with_image(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    flow = service.get_flow(ctx.session, ctx.user_id)
    if flow is None or flow.flow != FLOW_IMAGE_OFFER:
        raise TicketError('ไม่พบภาพที่รอแจ้งครับ ส่งภาพอีกครั้ง หรือพิมพ์ "แจ้งปัญหา"')
    start_ticket(ctx)


def _cancel(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    service.clear_flow(ctx.session, ctx.user_id)
    ctx.reply(text("ยกเลิกแล้วครับ"))


def _set_province(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    directory = ctx.services.faq.directory
    service.set_province(ctx.session, ctx.user_id, fields.get("p", ""), directory)
    flow = service.get_flow(ctx.session, ctx.user_id)
    service.clear_flow(ctx.session, ctx.user_id)
    ctx.reply(text(f"บันทึกจังหวัด{fields['p']}แล้วครับ"))
    if flow is not None and flow.flow == FLOW_PROVINCE and not flow.data.get("soft"):
        # a report was waiting for it
        start_ticket(ctx, str(flow.data.get("detail", "")), flow.data.get("images", []))


def _claim(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    send(ctx, service.claim(ctx.session, ctx.user_id, ticket_id))
    number = format_number(ticket_id)
    ctx.reply(text(f"ท่านรับเรื่อง {number} แล้วครับ", owner_buttons(ticket_id)))


def owner_buttons(ticket_id: int) -> list:
    return [
        quick_postback("ตอบกลับ", f"action=reply&t={ticket_id}", "ตอบกลับ"),
        quick_postback("ปิดเรื่อง", f"action=resolve&t={ticket_id}", "ปิดเรื่อง"),
    ]


def _start_reply(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    service.own_ticket(ctx.session, ctx.user_id, ticket_id)
    service.set_flow(ctx.session, ctx.user_id, FLOW_REPLY, {"ticket": ticket_id})
    ctx.reply(
        text(
            f"พิมพ์ข้อความหรือส่งภาพที่จะส่งถึงอาสาสมัคร (เรื่อง {format_number(ticket_id)})",
            [CANCEL_BUTTON],
        )
    )


def _start_resolve(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    service.own_ticket(ctx.session, ctx.user_id, ticket_id)
    service.set_flow(ctx.session, ctx.user_id, FLOW_RESOLVE, {"ticket": ticket_id})
    ctx.reply(text("พิมพ์สรุปผลการแก้ไขหนึ่งบรรทัด เพื่อปิดเรื่องและแจ้งอาสาสมัคร", [CANCEL_BUTTON]))


def _escalate(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    send(ctx, service.escalate_now(ctx.session, ctx.user_id, ticket_id))
    ticket = service.ticket_by_id(ctx.session, ticket_id)
    ctx.reply(text(ticket_texts.escalated(ticket, service.where_is(ctx.session, ticket))))


def _take_over(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    send(ctx, service.take_over(ctx.session, ctx.user_id, ticket_id))
    ctx.reply(text(f"ท่านรับช่วงต่อเรื่อง {format_number(ticket_id)} แล้วครับ", owner_buttons(ticket_id)))


def _rate(ctx: EventContext, fields: dict[str, str], ticket_id: int) -> None:
    assert ctx.user_id is not None
    rating = int(fields["r"]) if fields.get("r", "").isdigit() else 0
    service.rate(ctx.session, ctx.user_id, ticket_id, rating)
    ctx.reply(text("ขอบคุณสำหรับคะแนนครับ 🙏"))


POSTBACKS = {
    "ticket-confirm": _confirm,
    "ticket-cancel": _cancel,
    "ticket-with-image": _ticket_with_image,
    "set-province": _set_province,
    "claim": _claim,
    "reply": _start_reply,
    "resolve": _start_resolve,
    "escalate": _escalate,
    "takeover": _take_over,
    "rate": _rate,
}
