"""The LINE side of tickets: parse → step → carry out and word.

A text, picture or button becomes an input of `ticketing.conversation`; its pure `step` says
what comes next and what to do. Each effect is carried out here through `ticketing.service`
(the notices it returns become pushes in the same transaction, via the outbox) or worded in
Thai as the answer to the sender. No LINE call happens here: pictures and profiles were fetched
before the transaction began (`prefetch`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from bot.line_client import LineContentTooLarge, LineRejected
from bot.media import image_type
from common.messages import Message, quick_message, quick_postback, text
from common.thaidate import thai_datetime
from faq.directory import Directory
from handlers import ticket_texts
from handlers.context import EventContext, Fetched, LineReader, Reads
from handlers.ticket_cards import LEVEL_NAMES, render
from ticketing import calls, service
from ticketing import conversation as c
from ticketing.authority import Actor, line_actor
from ticketing.models import Ticket, TicketState, Volunteer, format_number
from ticketing.service import HeldByOther, Notice, TicketError

log = logging.getLogger(__name__)

REGISTER = re.compile(r"^ลงทะเบียนผู้ประสานงาน\s+([0-9A-Za-z-]{6,40})$")
SET_PROVINCE = re.compile(r"^(?:จังหวัด|จ\.)\s*(\S.*)$")
SET_DISTRICT = re.compile(r"^(?:อำเภอ|อ\.)\s*(\S.{0,60})$")
REPORT = re.compile(r"^แจ้งปัญหา\s*(.*)$", re.S)
# "เบอร์โทร 081-234-5678": only when what follows is typed as a number ("เบอร์โทรผู้ประสานงาน"
# is a question for the FAQ).
SHARE_PHONE = re.compile(r"^(?:เบอร์โทรศัพท์|เบอร์โทร|เบอร์)\s*[:：]?\s*(\S.*)$")
CANCEL_WORDS = {"ยกเลิก", "cancel"}
MAX_IMAGE_BYTES = 2 * 1024 * 1024
IMAGE_RECEIVED = "ได้รับรูปภาพแล้วครับ 🙏 หากมีคำถาม พิมพ์เป็นข้อความได้เลย"

STATE_NAMES = {
    TicketState.NEW: "รอผู้รับเรื่อง",
    TicketState.CLAIMED: "ผู้ประสานงานรับเรื่องแล้ว",
    TicketState.WAITING: "รอคำตอบจากท่าน",
    TicketState.RESOLVED: "แก้ไขแล้ว",
    TicketState.CLOSED: "ปิดเรื่อง",
}
ASK_PROVINCE = "ท่านอยู่จังหวัดไหนครับ? พิมพ์ชื่อจังหวัดได้เลย (เช่น สุราษฎร์ธานี) เพื่อให้ส่งเรื่องถึงผู้ประสานงานที่ถูกต้อง"
CANCEL_BUTTON = quick_postback("ยกเลิก", "action=ticket-cancel", "ยกเลิก")
OFFER_PHONE = (
    'หากต้องการให้เจ้าหน้าที่โทรกลับ แจ้งเบอร์โทรได้ (ไม่บังคับ): กดปุ่มด้านล่าง หรือพิมพ์ "เบอร์โทร 081-234-5678"'
)
SHARE_PHONE_BUTTON = quick_postback(
    "แจ้งเบอร์โทรกลับ", "action=share-phone", "แจ้งเบอร์โทรให้เจ้าหน้าที่โทรกลับ"
)
ASK_PHONE = "พิมพ์เบอร์โทรที่เจ้าหน้าที่ติดต่อท่านได้ เช่น 081-234-5678"


# -- parse ----------------------------------------------------------------------------------------


def parse_text(message: str, state: c.State, directory: Directory) -> c.Input:
    """What typed words mean; free text is read as a province only while one is asked for."""
    if message in CANCEL_WORDS:
        return c.CancelWord(message)
    if match := REGISTER.match(message):
        return c.Register(match.group(1), message)
    if match := SET_PROVINCE.match(message):
        name = match.group(1)
        return c.ProvinceText(name, directory.match_province(name), message)
    if match := SET_DISTRICT.match(message):
        return c.DistrictText(match.group(1).strip(), message)
    if message == "สถานะเรื่อง":  # the rich menu's button
        return c.StatusAsked(message)
    if match := REPORT.match(message):
        return c.ReportAsked(match.group(1).strip(), message)
    if (match := SHARE_PHONE.match(message)) and calls.looks_like_phone(match.group(1)):
        return c.PhoneText(calls.phone_or_none(match.group(1)), message)
    if isinstance(state, c.AskingPhone) and calls.looks_like_phone(message):
        return c.PhoneText(calls.phone_or_none(message), message)
    asking = isinstance(state, c.AskingProvince)
    return c.Text(message, directory.match_province(message) if asking else None)


def _ticket(fields: dict[str, str]) -> int:
    return int(fields["t"]) if fields.get("t", "").isdigit() else 0


BUTTONS: dict[str, Callable[[dict[str, str]], c.Input]] = {
    "ticket-confirm": lambda f: c.Confirm(),
    "ticket-cancel": lambda f: c.CancelButton(),
    "ticket-with-image": lambda f: c.ReportWithImage(),
    "set-province": lambda f: c.ProvincePicked(f.get("p", "")),
    "share-phone": lambda f: c.SharePhoneAsked(),
    "claim": lambda f: c.Claim(_ticket(f)),
    "reply": lambda f: c.StartReply(_ticket(f)),
    "resolve": lambda f: c.StartResolve(_ticket(f)),
    "escalate": lambda f: c.Escalate(_ticket(f)),
    "takeover": lambda f: c.TakeOver(_ticket(f)),
    "rate": lambda f: c.Rate(_ticket(f), int(f["r"]) if f.get("r", "").isdigit() else 0),
}


def parse_image(fetched: Fetched) -> c.Image:
    return c.Image(fetched.content, too_large=fetched.content_error == "too-large")


# -- step -----------------------------------------------------------------------------------------


def facts(ctx: EventContext) -> c.Facts:
    assert ctx.user_id is not None
    person = service.volunteer(ctx.session, ctx.user_id)
    learn_name(ctx, person)
    coordinator = service.coordinator_for(ctx.session, ctx.user_id) is not None
    ticket = (
        None
        if coordinator
        else service.active_ticket(ctx.session, ctx.user_id, ctx.services.timings.close_after)
    )
    return c.Facts(person.province, coordinator, ticket.id if ticket else None)


def converse(ctx: EventContext, command: c.Input | Callable[[c.State], c.Input]) -> str | None:
    """Step the sender's conversation and carry out the effects. Returns the text the
    conversation leaves to the FAQ, if any. A refused effect (TicketError) leaves the state as
    it was and answers with the refusal instead."""
    assert ctx.user_id is not None
    before = service.get_state(ctx.session, ctx.user_id)
    given = command(before) if callable(command) else command
    after, effects = c.step(before, given, facts(ctx))
    replies, pushes = len(ctx.replies), len(ctx.pushes)
    for_faq = None
    try:
        for effect in effects:
            if isinstance(effect, c.AskFaq):
                for_faq = effect.text
            else:
                CARRY_OUT[type(effect)](ctx, effect)
    except TicketError as refused:
        del ctx.replies[replies:], ctx.pushes[pushes:]
        ctx.reply(refusal(refused))
        return None
    if after != before:
        service.save_state(ctx.session, ctx.user_id, after)
    return for_faq


def refusal(refused: TicketError) -> Message:
    """A refused action in Thai; a colleague's ticket comes with the way to take it over."""
    if isinstance(refused, HeldByOther):
        take = f"action=takeover&t={refused.ticket_id}"
        return text(str(refused), [quick_postback("รับช่วงต่อ", take, "รับช่วงต่อ"), CANCEL_BUTTON])
    return text(str(refused))


def handle_text(ctx: EventContext, message: str) -> str | None:
    """A text through the conversation; what it leaves for the FAQ (None when answered)."""
    if not ctx.user_id:
        return message
    directory = ctx.services.faq.directory
    return converse(ctx, lambda state: parse_text(message, state, directory))


def handle_image(ctx: EventContext) -> None:
    if not ctx.user_id:
        ctx.reply(text(IMAGE_RECEIVED))
        return
    converse(ctx, parse_image(ctx.fetched))


def handle_postback(ctx: EventContext, fields: dict[str, str]) -> bool:
    """True if the button was a ticket's (and was answered)."""
    parse = BUTTONS.get(fields.get("action", ""))
    if not ctx.user_id or parse is None:
        return False
    converse(ctx, parse(fields))
    return True


def handle_follow(ctx: EventContext) -> None:
    if ctx.user_id:
        converse(ctx, c.Followed())


# -- carry out ------------------------------------------------------------------------------------


def send(ctx: EventContext, notices: list[Notice]) -> None:
    labels = ctx.services.faq.labels
    for notice in notices:
        reopen = ctx.services.timings.close_after
        ctx.push(notice.to, *render(ctx.session, notice, labels, ctx.services.media, reopen))


def _user(ctx: EventContext) -> str:
    assert ctx.user_id is not None
    return ctx.user_id


def _staff(ctx: EventContext) -> Actor:
    """The staff member tapping in LINE; refused when this LINE account is no (active) one."""
    who = line_actor(ctx.session, ctx.user_id)
    if who is None:
        raise TicketError("ท่านไม่มีสิทธิ์ดำเนินการกับเรื่องนี้")
    return who


def link_coordinator(ctx: EventContext, effect: c.LinkCoordinator) -> None:
    person = service.link_coordinator(ctx.session, _user(ctx), effect.code)
    area = person.province or person.region or "ทั่วประเทศ"
    ctx.reply(
        text(
            f"ลงทะเบียนเรียบร้อย: {person.name} ผู้ประสานงาน{LEVEL_NAMES[person.level]} "
            f"({area})\nเรื่องใหม่และเรื่องที่ส่งต่อจะส่งถึงท่านทางแชตนี้"
        )
    )


def set_province(ctx: EventContext, effect: c.SetProvince) -> None:
    service.set_province(ctx.session, _user(ctx), effect.province, ctx.services.faq.directory)


def set_district(ctx: EventContext, effect: c.SetDistrict) -> None:
    service.volunteer(ctx.session, _user(ctx)).district = effect.district
    ctx.reply(text(f"บันทึกอำเภอ {effect.district} แล้วครับ"))


def show_status(ctx: EventContext, effect: c.ShowStatus) -> None:
    ctx.reply(text(status_text(ctx)))


def open_ticket(ctx: EventContext, effect: c.OpenTicket) -> None:
    user_id = _user(ctx)
    ticket, notices = service.open_ticket(
        ctx.session,
        ctx.services.faq.directory,
        user_id,
        effect.description,
        category=ctx.services.faq.matcher.match(effect.description).best,
        asked=service.questions_before(ctx.session, user_id),
    )
    send(ctx, notices)
    where = service.where_is(ctx.session, ticket)
    opened = ticket_texts.opened(ticket, where, ctx.services.timings)
    if service.volunteer(ctx.session, user_id).phone:
        ctx.reply(text(opened))
    else:  # one optional step: a number staff may call back on
        ctx.reply(text(opened + "\n\n" + OFFER_PHONE, [SHARE_PHONE_BUTTON]))


def save_phone(ctx: EventContext, effect: c.SavePhone) -> None:
    linked = calls.share_phone(ctx.session, _user(ctx), effect.phone)
    said = f"บันทึกเบอร์ {calls.format_phone(effect.phone)} แล้วครับ เจ้าหน้าที่จะโทรกลับเบอร์นี้ได้เมื่อจำเป็น"
    if linked:
        numbers = ", ".join(t.number for t in linked)
        said += f"\nเชื่อมเรื่องที่ท่านโทรแจ้งไว้ ({numbers}) กับ LINE นี้แล้ว คำตอบของเจ้าหน้าที่จะส่งถึงท่านทางแชตนี้"
    ctx.reply(text(said))


def keep_draft_image(ctx: EventContext, effect: c.KeepDraftImage) -> None:
    content = effect.content
    service.keep_draft_image(ctx.session, _user(ctx), content, image_type(content))


def drop_drafts(ctx: EventContext, effect: c.DropDrafts) -> None:
    service.drop_drafts(ctx.session, _user(ctx))


def add_to_ticket(ctx: EventContext, effect: c.AddToTicket) -> None:
    ticket = ctx.session.get(Ticket, effect.ticket)
    assert ticket is not None
    image = None
    if effect.image is not None:
        image = service.add_screenshot(ctx.session, ticket, effect.image, image_type(effect.image))
    notices = service.volunteer_message(ctx.session, ticket, effect.text, image=image)
    send(ctx, notices)
    ctx.reply(text(relayed(ticket.number, "ภาพ" if image else "ข้อความ", notices)))


def answer(ctx: EventContext, effect: c.Answer) -> None:
    picture = (effect.image, image_type(effect.image)) if effect.image is not None else None
    send(ctx, service.reply(ctx.session, _staff(ctx), effect.ticket, effect.text, image=picture))


def resolve(ctx: EventContext, effect: c.Resolve) -> None:
    send(ctx, service.resolve(ctx.session, _staff(ctx), effect.ticket, effect.resolution))


def must_own(ctx: EventContext, effect: c.MustOwn) -> None:
    service.own_ticket(ctx.session, _staff(ctx), effect.ticket)


def owner_buttons(ticket_id: int) -> list[dict[str, Any]]:
    return [
        quick_postback("ตอบกลับ", f"action=reply&t={ticket_id}", "ตอบกลับ"),
        quick_postback("ปิดเรื่อง", f"action=resolve&t={ticket_id}", "ปิดเรื่อง"),
    ]


def claim(ctx: EventContext, effect: c.ClaimTicket) -> None:
    send(ctx, service.claim(ctx.session, _staff(ctx), effect.ticket))
    ctx.reply(
        text(f"ท่านรับเรื่อง {format_number(effect.ticket)} แล้วครับ", owner_buttons(effect.ticket))
    )


def take_over(ctx: EventContext, effect: c.TakeOverTicket) -> None:
    send(ctx, service.take_over(ctx.session, _staff(ctx), effect.ticket))
    number = format_number(effect.ticket)
    ctx.reply(text(f"ท่านรับช่วงต่อเรื่อง {number} แล้วครับ", owner_buttons(effect.ticket)))


def escalate(ctx: EventContext, effect: c.EscalateTicket) -> None:
    send(ctx, service.escalate_now(ctx.session, _staff(ctx), effect.ticket))
    ticket = service.ticket_by_id(ctx.session, effect.ticket)
    ctx.reply(text(ticket_texts.escalated(ticket, service.where_is(ctx.session, ticket))))


def rate(ctx: EventContext, effect: c.RateTicket) -> None:
    service.rate(ctx.session, _user(ctx), effect.ticket, effect.rating)
    ctx.reply(text("ขอบคุณสำหรับคะแนนครับ 🙏"))


# -- word -----------------------------------------------------------------------------------------


def ask_province(ctx: EventContext, said: c.AskProvince) -> None:
    if said.soft:
        ctx.reply(text(ASK_PROVINCE))
    elif said.again:
        ctx.reply(text("ขออภัย ไม่พบจังหวัดนี้ " + ASK_PROVINCE, [CANCEL_BUTTON]))
    elif said.images:
        kept = f"ได้รับภาพแล้วครับ ({said.images} ภาพ) จะแนบไปกับเรื่องที่แจ้ง\n"
        ctx.reply(text(kept + ASK_PROVINCE, [CANCEL_BUTTON]))
    else:
        ctx.reply(text(ASK_PROVINCE, [CANCEL_BUTTON]))


def confirm_province(ctx: EventContext, said: c.ConfirmProvince) -> None:
    province = said.province
    ctx.reply(
        text(
            f"จังหวัด{province} ใช่ไหมครับ?",
            [
                quick_postback(f"ใช่ {province}", f"action=set-province&p={province}", province),
                quick_message("ไม่ใช่", "ไม่ใช่"),
                CANCEL_BUTTON,
            ],
        )
    )


def province_saved(ctx: EventContext, said: c.ProvinceSaved) -> None:
    if said.typed:
        ctx.reply(text(f"บันทึกจังหวัดของท่านเป็น {said.province} แล้วครับ"))
    else:
        ctx.reply(text(f"บันทึกจังหวัด{said.province}แล้วครับ"))


def show_draft(ctx: EventContext, said: c.ShowDraft) -> None:
    image = f"\n(แนบภาพหน้าจอ {said.images} ภาพ)" if said.images else ""
    ctx.reply(
        text(
            f"สรุปปัญหาที่จะแจ้ง:\n{said.description}{image}\n\n"
            'กด "ยืนยัน" เพื่อส่งเรื่องถึงผู้ประสานงาน พิมพ์เพิ่มเติมหรือส่งภาพหน้าจอได้',
            [quick_postback("ยืนยัน", "action=ticket-confirm", "ยืนยันแจ้งปัญหา"), CANCEL_BUTTON],
        )
    )


def offer_report(ctx: EventContext, said: c.OfferReport) -> None:
    ctx.reply(
        text(
            f"ได้รับภาพแล้วครับ ({said.images} ภาพ) หากเป็นภาพหน้าจอปัญหา "
            "กดแจ้งปัญหาเพื่อส่งภาพนี้ถึงผู้ประสานงาน หรือพิมพ์คำถามได้เลย",
            [
                quick_postback("แจ้งปัญหาพร้อมภาพนี้", "action=ticket-with-image", "แจ้งปัญหาพร้อมภาพ"),
                CANCEL_BUTTON,
            ],
        )
    )


def image_unusable(ctx: EventContext, said: c.ImageUnusable) -> None:
    if said.too_large:
        limit = MAX_IMAGE_BYTES // (1024 * 1024)
        ctx.reply(text(f"ภาพใหญ่เกินไปครับ (เกิน {limit} MB) กรุณาส่งภาพหน้าจอที่เล็กลง"))
    else:  # gone, or sent from another service (contentProvider)
        ctx.reply(text("ขออภัยครับ เปิดภาพนี้ไม่ได้ กรุณาส่งภาพหน้าจออีกครั้ง"))


def answer_sent(ctx: EventContext, said: c.AnswerSent) -> None:
    ticket = ctx.session.get(Ticket, said.ticket) if said.ticket else None
    if ticket is not None and not ticket.user_id:  # a caller without LINE
        who = ticket.display_name or "ผู้โทร"
        ctx.reply(
            text(
                f"เรื่อง {ticket.number} เป็นผู้โทรที่ไม่มี LINE: บันทึกเป็นงานโทรกลับแล้วครับ\n"
                f"กรุณาโทรแจ้ง{who} {calls.format_phone(ticket.phone)} "
                'แล้วบันทึกว่าโทรแล้วในหน้า "งานโทรกลับ" ของ Call Desk'
            )
        )
        return
    if said.picture:
        ctx.reply(text('ส่งภาพถึงอาสาสมัครแล้วครับ พิมพ์ข้อความต่อได้เลย หรือพิมพ์ "ยกเลิก" เมื่อเสร็จ'))
    else:
        ctx.reply(text("ส่งข้อความถึงอาสาสมัครแล้วครับ"))


def _says(words: str, buttons: bool = False) -> Callable[[EventContext, Any], None]:
    return lambda ctx, said: ctx.reply(text(words, [CANCEL_BUTTON] if buttons else None))


CARRY_OUT: dict[type, Callable[[EventContext, Any], None]] = {
    c.LinkCoordinator: link_coordinator,
    c.SetProvince: set_province,
    c.SetDistrict: set_district,
    c.ShowStatus: show_status,
    c.OpenTicket: open_ticket,
    c.KeepDraftImage: keep_draft_image,
    c.DropDrafts: drop_drafts,
    c.AddToTicket: add_to_ticket,
    c.Answer: answer,
    c.Resolve: resolve,
    c.MustOwn: must_own,
    c.ClaimTicket: claim,
    c.EscalateTicket: escalate,
    c.TakeOverTicket: take_over,
    c.RateTicket: rate,
    c.SavePhone: save_phone,
    c.AskPhone: lambda ctx, said: ctx.reply(
        text('พิมพ์ "เบอร์โทร" ตามด้วยเบอร์ เช่น เบอร์โทร 081-234-5678')
        if said.command
        else text(ASK_PHONE, [CANCEL_BUTTON])
    ),
    c.PhoneInvalid: lambda ctx, said: ctx.reply(text(calls.BAD_PHONE, [CANCEL_BUTTON])),
    c.AskProvince: ask_province,
    c.ConfirmProvince: confirm_province,
    c.ProvinceSaved: province_saved,
    c.ProvinceNotFound: lambda ctx, said: ctx.reply(
        text(f'ไม่พบจังหวัด "{said.name}" กรุณาพิมพ์ชื่อจังหวัดอีกครั้ง')
    ),
    c.AskDescription: _says(
        "กรุณาพิมพ์อธิบายปัญหาให้ละเอียด (เช่น เกิดตอนไหน ข้อความที่ขึ้น) และส่งภาพหน้าจอได้ครับ", True
    ),
    c.ShowDraft: show_draft,
    c.OfferReport: offer_report,
    c.Cancelled: _says("ยกเลิกแล้วครับ มีอะไรให้ช่วยพิมพ์มาได้เลย"),
    c.NothingToConfirm: _says('ไม่มีเรื่องที่รอยืนยันครับ พิมพ์ "แจ้งปัญหา" เพื่อเริ่มใหม่'),
    c.NoImageOffered: _says('ไม่พบภาพที่รอแจ้งครับ ส่งภาพอีกครั้ง หรือพิมพ์ "แจ้งปัญหา"'),
    c.AskAnswer: lambda ctx, said: ctx.reply(
        text(
            f"พิมพ์ข้อความหรือส่งภาพที่จะส่งถึงอาสาสมัคร (เรื่อง {format_number(said.ticket)})",
            [CANCEL_BUTTON],
        )
    ),
    c.AskResolution: _says("พิมพ์สรุปผลการแก้ไขหนึ่งบรรทัด เพื่อปิดเรื่องและแจ้งอาสาสมัคร", True),
    c.AnswerSent: answer_sent,
    c.Resolved: _says("ปิดเรื่องและแจ้งผลการแก้ไขถึงอาสาสมัครแล้วครับ"),
    c.ImageNoted: _says(IMAGE_RECEIVED),
    c.ImageUnusable: image_unusable,
}


def status_text(ctx: EventContext) -> str:
    tickets = service.tickets_of(ctx.session, _user(ctx))
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


# -- before the transaction: what LINE must give first ------------------------------------------


def learn_name(ctx: EventContext, person: Volunteer) -> None:
    """The LINE display name (for coordinators' cards), when it was fetched."""
    name = (ctx.fetched.profile or {}).get("displayName")
    if name:
        person.display_name = str(name)[:200]


def fetch_profile(line: LineReader, user_id: str) -> dict[str, Any] | None:
    """Nice to have, never a reason to fail."""
    try:
        return line.get_profile(user_id)
    except Exception as exc:
        log.info("profile not available: %s", exc)
        return None


def name_unknown(reads: Reads, user_id: str) -> bool:
    with reads() as session:
        person = session.get(Volunteer, user_id)
        return person is None or not person.display_name


def sender(event: dict[str, Any]) -> str | None:
    source = event.get("source")
    user_id = source.get("userId") if isinstance(source, dict) else None
    return user_id if isinstance(user_id, str) and user_id else None


def may_open_ticket(event: dict[str, Any]) -> bool:
    """Whether this event's step could open a ticket, whose card shows the sender's name:
    "แจ้งปัญหา <รายละเอียด>", a province given (a report may be waiting for it), ยืนยัน.
    Errs on the side of yes; other events need no profile."""
    message = event.get("message")
    if isinstance(message, dict) and message.get("type") == "text":
        typed = str(message.get("text", "")).strip()
        report = REPORT.match(typed)
        return bool(report and report.group(1).strip()) or bool(SET_PROVINCE.match(typed))
    data = str((event.get("postback") or {}).get("data", ""))
    return "action=ticket-confirm" in data or "action=set-province" in data


def prefetch_profile(event: dict[str, Any], line: LineReader, reads: Reads) -> Fetched:
    """The sender's profile when a ticket may open and their display name is not known yet."""
    user_id = sender(event)
    if user_id is None or not may_open_ticket(event) or not name_unknown(reads, user_id):
        return Fetched()
    return Fetched(profile=fetch_profile(line, user_id))


def prefetch_message(event: dict[str, Any], line: LineReader, reads: Reads) -> Fetched:
    """A picture's bytes (at most MAX_IMAGE_BYTES), and the profile as for any event."""
    fetched = prefetch_profile(event, line, reads)
    message = event.get("message")
    if not isinstance(message, dict) or message.get("type") != "image":
        return fetched
    user_id = sender(event)
    if user_id is not None:
        line.show_loading(user_id, 10)
    try:
        content = line.get_content(str(message.get("id")), max_bytes=MAX_IMAGE_BYTES)
    except LineContentTooLarge:
        return Fetched(content_error="too-large", profile=fetched.profile)
    except LineRejected as refused:  # gone, or sent from another service (contentProvider)
        log.info("image content not available: %s", refused)
        return Fetched(content_error="gone", profile=fetched.profile)
    if len(content) > MAX_IMAGE_BYTES:  # an adapter that does not stop at the cap
        return Fetched(content_error="too-large", profile=fetched.profile)
    return Fetched(content=content, profile=fetched.profile)
