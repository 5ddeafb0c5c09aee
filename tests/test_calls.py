"""Phone calls: numbers read in every usual form, a call answered or opened as a ticket that is
routed and escalated like a LINE ticket, a volunteer's number shared in LINE (replies then reach
them there), call-backs for callers without LINE, the caller's history within the area."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.db import transaction
from bot.models import utcnow
from bot.notices import stage
from bot.outbox import deliver as send_now
from tests.conftest import sim_messages, sim_send
from tests.test_conversation import SAMPLE_INPUTS, SAMPLE_STATES
from tests.test_tickets import (
    CENTRAL_COORD,
    OTHER_PROVINCE_COORD,
    PROVINCE_COORD,
    REGION_COORD,
    VOLUNTEER,
    last,
    link,
)
from ticketing import calls, service
from ticketing import conversation as c
from ticketing.authority import actor_of, line_actor
from ticketing.errors import OutOfArea, Refused, TicketError
from ticketing.escalation import sweep
from ticketing.models import (
    AuditEntry,
    CallBack,
    Coordinator,
    PhoneCall,
    Ticket,
    TicketEvent,
    TicketState,
    Volunteer,
)

PHONE = "0812345678"
SURAT = "สุราษฎร์ธานี"


def make_person(runtime, role="operator", level="central", province=None, region=None, name=""):
    """A staff member as the domain sees them (`Actor`), acting in the console."""
    if level == "province":
        region = runtime.faq.directory.region_of[province]
    with transaction(runtime.sessions) as session:
        person = Coordinator(
            name=name or f"คุณ{role}", role=role, level=level, province=province, region=region
        )
        session.add(person)
        session.flush()
        return actor_of(person, "console", "127.0.0.1")


def topics(runtime):
    return calls.call_topics(runtime.faq.entries.values())


def log(runtime, who, outcome="follow-up", phone=PHONE, province=SURAT, now=None, **kw):
    """Log a call through the domain in its own transaction; (call id, ticket id, notices)."""
    fields = {
        "caller_name": "สมชาย",
        "category": "upload-failed",
        "question": "ส่งข้อมูลไม่ได้ ขึ้น error",
        **kw,
    }
    with transaction(runtime.sessions) as session:
        logged = calls.log_call(
            session,
            who,
            runtime.faq.directory,
            phone,
            fields["caller_name"],
            province,
            fields["category"],
            fields["question"],
            outcome,
            now,
            topics=topics(runtime),
        )
        return logged.call.id, (logged.ticket.id if logged.ticket else None), logged.notices


def deliver(runtime, notices) -> None:
    """Send the notices a domain call returned, as the console does after its commit."""
    with transaction(runtime.sessions) as session:
        outbox_ids = stage(session, runtime, notices)
    for outbox_id in outbox_ids:
        send_now(runtime, outbox_id)


def count(runtime, model) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def get(runtime, model, key):
    with runtime.sessions() as session:
        return session.get(model, key)


# -- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("0812345678", "0812345678"),
        ("081-234-5678", "0812345678"),
        ("081 234 5678", "0812345678"),
        ("+66 81 234 5678", "0812345678"),
        ("+66812345678", "0812345678"),
        ("66812345678", "0812345678"),
        ("+66 (0)81-234-5678", "0812345678"),
        ("๐๘๑-๒๓๔-๕๖๗๘", "0812345678"),
        ("02-123-4567", "021234567"),
        ("(02) 123 4567", "021234567"),
        ("044.123.456", "044123456"),
        ("0919493261", "0919493261"),
    ],
)
def test_a_thai_number_is_read_in_every_usual_form(typed, stored):
    assert calls.normalize_phone(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "12345", "081234567", "08123456789", "1111", "0112345678", "+1 202 555 0100", "abc"],
)
def test_anything_else_is_refused_in_thai(typed):
    with pytest.raises(TicketError) as refused:
        calls.normalize_phone(typed)
    assert str(refused.value) == calls.BAD_PHONE and "081-234-5678" in calls.BAD_PHONE


def test_numbers_are_shown_the_way_people_write_them():
    assert calls.format_phone("0812345678") == "081-234-5678"
    assert calls.format_phone("021234567") == "02-123-4567"
    assert calls.format_phone("044123456") == "044-123-456"


# -- logging a call ------------------------------------------------------------------------------


def test_a_call_is_checked_before_anything_is_kept(runtime):
    operator = make_person(runtime)
    bad = [
        ({"phone": "12345"}, calls.BAD_PHONE),
        ({"province": "ปารีส"}, 'ไม่พบจังหวัด "ปารีส"'),
        ({"province": ""}, "กรุณาระบุจังหวัด"),
        ({"category": "no-such-topic"}, "ไม่พบหมวดนี้"),
        ({"category": "greeting"}, "ไม่พบหมวดนี้"),  # conversation topics are no category
        ({"question": "   "}, "กรุณาบันทึกสิ่งที่ผู้โทรสอบถาม"),
        ({"outcome": "maybe"}, "กรุณาเลือก"),
    ]
    for change, message in bad:
        with pytest.raises(TicketError) as refused:
            log(runtime, operator, **change)
        assert message in str(refused.value), change
    assert count(runtime, PhoneCall) == count(runtime, Ticket) == 0


def test_a_province_is_read_as_the_bot_reads_it_and_may_be_left_out_of_an_answered_call(runtime):
    operator = make_person(runtime)
    call_id, _, _ = log(runtime, operator, "answered", province="โคราช")
    assert get(runtime, PhoneCall, call_id).province == "นครราชสีมา"
    call_id, _, _ = log(runtime, operator, "answered", province="", category="")
    kept = get(runtime, PhoneCall, call_id)
    assert kept.province is None and kept.category is None


def test_only_those_who_may_log_calls_do(runtime):
    coordinator = make_person(runtime, "coordinator", "province", SURAT)
    central = make_person(runtime, "coordinator", "central")
    for who in (coordinator, central):
        assert not who.may("log-call")
        with pytest.raises(Refused):
            log(runtime, who)
    assert make_person(runtime, "admin").may("log-call")
    assert count(runtime, PhoneCall) == 0


def test_answered_on_the_phone_is_kept_closed_and_nothing_else(runtime):
    link(runtime, PROVINCE_COORD, "province", SURAT)
    operator = make_person(runtime)
    call_id, ticket_id, notices = log(runtime, operator, "answered", phone="+66 81 234 5678")
    call = get(runtime, PhoneCall, call_id)
    assert (ticket_id, notices, call.outcome, call.phone) == (None, [], "answered", PHONE)
    assert call.operator_id == operator.person_id and call.category == "upload-failed"
    assert count(runtime, Ticket) == 0
    with runtime.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.actor == operator.tag)).one()
    assert (entry.action, entry.target, entry.via) == (
        "call.answered",
        f"call:{call_id}",
        "console",
    )


def test_a_follow_up_opens_a_phone_ticket_routed_like_a_line_ticket(runtime):
    link(runtime, PROVINCE_COORD, "province", SURAT)
    operator = make_person(runtime)
    call_id, ticket_id, notices = log(runtime, operator)
    opened = get(runtime, Ticket, ticket_id)
    assert (opened.channel, opened.phone, opened.user_id) == ("phone", PHONE, None)
    assert (opened.display_name, opened.province, opened.region) == ("สมชาย", SURAT, "ภาคใต้")
    assert (opened.category, opened.description) == ("upload-failed", "ส่งข้อมูลไม่ได้ ขึ้น error")
    assert (opened.state, opened.level) == (TicketState.NEW, "province")
    assert [(n.to, n.kind, n.ticket_id) for n in notices] == [(PROVINCE_COORD, "new", ticket_id)]
    assert get(runtime, PhoneCall, call_id).ticket_id == ticket_id
    with runtime.sessions() as session:
        event = session.scalars(select(TicketEvent)).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.actor == operator.tag)).one()
    assert event.actor == operator.tag and "081-234-5678" in event.note
    assert "ส่งถึงระดับจังหวัด" in event.note
    assert (entry.action, entry.target) == ("ticket.open", f"ticket:{ticket_id}")


def test_with_nobody_linked_the_phone_ticket_waits_at_central_like_a_line_ticket(runtime):
    link(runtime, REGION_COORD, "region", region="ภาคใต้")
    _, at_region, notices = log(runtime, make_person(runtime), province="ยะลา")
    assert get(runtime, Ticket, at_region).level == "region"
    assert [n.to for n in notices] == [REGION_COORD]
    _, nobody, notices = log(runtime, make_person(runtime), province="เชียงใหม่")
    assert get(runtime, Ticket, nobody).level == "central" and notices == []


def test_a_phone_ticket_escalates_with_the_sweep_exactly_like_a_line_ticket(runtime):
    link(runtime, PROVINCE_COORD, "province", SURAT)
    link(runtime, REGION_COORD, "region", region="ภาคใต้")
    link(runtime, CENTRAL_COORD, "central")
    t0 = utcnow().replace(microsecond=0)
    with transaction(runtime.sessions) as session:
        service.set_province(session, VOLUNTEER, SURAT, runtime.faq.directory)
        line_ticket, _ = service.open_ticket(
            session, runtime.faq.directory, VOLUNTEER, "ส่งข้อมูลไม่ได้", now=t0
        )
        line_id = line_ticket.id
    _, phone_id, _ = log(runtime, make_person(runtime), now=t0)

    def step(minutes):
        with transaction(runtime.sessions) as session:
            result = sweep(session, t0 + timedelta(minutes=minutes), runtime.timings)
            told = {(n.to, n.kind, n.ticket_id) for n in result.notices}
        levels = (get(runtime, Ticket, line_id).level, get(runtime, Ticket, phone_id).level)
        return levels, told

    assert step(29) == (("province", "province"), set())
    levels, told = step(31)
    assert levels == ("region", "region")
    assert told == {(REGION_COORD, "escalated", line_id), (REGION_COORD, "escalated", phone_id)}
    assert step(32) == (("region", "region"), set())
    levels, told = step(61)
    assert levels == ("central", "central")
    assert told == {(CENTRAL_COORD, "escalated", line_id), (CENTRAL_COORD, "escalated", phone_id)}


# -- call-backs ----------------------------------------------------------------------------------


def test_a_reply_to_a_caller_without_line_is_a_call_back_marked_done_with_a_note(runtime):
    link(runtime, PROVINCE_COORD, "province", SURAT)
    link(runtime, OTHER_PROVINCE_COORD, "province", "สงขลา")
    _, ticket_id, _ = log(runtime, make_person(runtime))
    with transaction(runtime.sessions) as session:
        coordinator = line_actor(session, PROVINCE_COORD)
        service.claim(session, coordinator, ticket_id)
        told = service.reply(session, coordinator, ticket_id, "ให้ลบแอปแล้วติดตั้งใหม่")
    assert told == []  # nobody to tell in LINE: a call to make instead
    with runtime.sessions() as session:
        call_back = session.scalars(select(CallBack)).one()
        mine = calls.open_call_backs(session, coordinator)
    assert (call_back.ticket_id, call_back.text) == (ticket_id, "ให้ลบแอปแล้วติดตั้งใหม่")
    assert call_back.requested_by == coordinator.person_id and call_back.done_at is None
    assert [cb.id for cb, _ in mine] == [call_back.id]
    assert get(runtime, Ticket, ticket_id).state == TicketState.WAITING

    with transaction(runtime.sessions) as session, pytest.raises(TicketError, match="ส่งภาพไม่ได้"):
        service.reply(session, coordinator, ticket_id, "(ภาพ)", image=(b"\x89PNG", "image/png"))
    with transaction(runtime.sessions) as session:
        other = line_actor(session, OTHER_PROVINCE_COORD)
    with transaction(runtime.sessions) as session, pytest.raises(OutOfArea):
        calls.call_back_done(session, other, call_back.id, "โทรแล้ว")
    with transaction(runtime.sessions) as session, pytest.raises(OutOfArea):
        calls.call_back_done(session, coordinator, call_back.id + 100, "โทรแล้ว")
    with transaction(runtime.sessions) as session, pytest.raises(TicketError, match="กรุณาบันทึก"):
        calls.call_back_done(session, coordinator, call_back.id, "  ")

    with transaction(runtime.sessions) as session:
        calls.call_back_done(session, coordinator, call_back.id, "แจ้งแล้ว ผู้โทรส่งได้แล้ว")
    done = get(runtime, CallBack, call_back.id)
    assert done.done_by == coordinator.person_id and done.note == "แจ้งแล้ว ผู้โทรส่งได้แล้ว"
    with runtime.sessions() as session:
        assert calls.open_call_backs(session, coordinator) == []
        notes = session.scalars(select(TicketEvent.note).order_by(TicketEvent.id)).all()
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert notes[-1] == "โทรกลับแล้ว: แจ้งแล้ว ผู้โทรส่งได้แล้ว"
    assert actions[-1] == "ticket.call-back-done"
    with transaction(runtime.sessions) as session, pytest.raises(TicketError, match="โทรแล้ว"):
        calls.call_back_done(session, coordinator, call_back.id, "อีกครั้ง")


def test_a_coordinator_replying_in_line_to_a_caller_without_line_is_told_to_call(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", SURAT)
    _, ticket_id, notices = log(runtime, make_person(runtime))
    deliver(runtime, notices)
    url = sim[1].url
    sim_send(url, user=PROVINCE_COORD, postback=f"action=claim&t={ticket_id}")
    sim_send(url, user=PROVINCE_COORD, postback=f"action=reply&t={ticket_id}")
    sim_send(url, user=PROVINCE_COORD, text="ลองอัปเดตแอปครับ")
    said = last(sim, PROVINCE_COORD)["text"]
    assert "งานโทรกลับ" in said and "081-234-5678" in said and "สมชาย" in said
    assert count(runtime, CallBack) == 1
    card = next(m for m in sim_messages(url, PROVINCE_COORD) if m["type"] == "flex")
    assert "(โทรศัพท์)" in card["altText"]
    rows = [r["contents"][1]["text"] for r in card["contents"]["body"]["contents"][:5]]
    assert "081-234-5678" in rows


# -- a volunteer's number, shared in LINE --------------------------------------------------------


def quick_replies(message):
    return [item["action"] for item in message.get("quickReply", {}).get("items", [])]


def test_a_volunteer_shares_a_number_after_opening_a_ticket_and_phone_replies_reach_them(
    runtime, bot, sim
):
    url = sim[1].url
    link(runtime, PROVINCE_COORD, "province", SURAT)
    with transaction(runtime.sessions) as session:
        service.set_province(session, VOLUNTEER, SURAT, runtime.faq.directory)
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา แอปค้าง")
    opened = last(sim, VOLUNTEER)
    assert "เบอร์โทร 081-234-5678" in opened["text"]
    (offer,) = [a for a in quick_replies(opened) if a["type"] == "postback"]
    sim_send(url, user=VOLUNTEER, postback=offer["data"])
    assert "พิมพ์เบอร์โทร" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=VOLUNTEER, text="๐๘๑-๒๓๔-๕๖๗๘")  # Thai digits and dashes
    assert "บันทึกเบอร์ 081-234-5678 แล้ว" in last(sim, VOLUNTEER)["text"]
    assert get(runtime, Volunteer, VOLUNTEER).phone == PHONE

    # The volunteer calls the Call Desk later: the follow-up is theirs in LINE.
    _, ticket_id, _ = log(runtime, make_person(runtime))
    assert get(runtime, Ticket, ticket_id).user_id == VOLUNTEER
    with transaction(runtime.sessions) as session:
        coordinator = line_actor(session, PROVINCE_COORD)
        service.claim(session, coordinator, ticket_id)
    sim_send(url, user=PROVINCE_COORD, postback=f"action=reply&t={ticket_id}")
    sim_send(url, user=PROVINCE_COORD, text="ติดตั้งแอปเวอร์ชันใหม่ได้เลยครับ")
    number = get(runtime, Ticket, ticket_id).number
    assert last(sim, VOLUNTEER)["text"].startswith(f"[{number}] ติดตั้งแอปเวอร์ชันใหม่ได้เลยครับ")
    assert "ส่งข้อความถึงอาสาสมัครแล้ว" in last(sim, PROVINCE_COORD)["text"]
    assert count(runtime, CallBack) == 0
    # With a number kept, a new ticket does not offer the step again.
    with transaction(runtime.sessions) as session:
        service.resolve(session, coordinator, ticket_id, "เรียบร้อย")
        for t in session.scalars(select(Ticket).where(Ticket.user_id == VOLUNTEER)):
            t.state = TicketState.CLOSED
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา GPS ไม่ขึ้น")
    assert quick_replies(last(sim, VOLUNTEER)) == []


def test_sharing_a_number_links_the_open_phone_tickets_of_that_number(runtime, bot, sim):
    url = sim[1].url
    link(runtime, PROVINCE_COORD, "province", SURAT)
    _, open_id, _ = log(runtime, make_person(runtime))
    _, closed_id, _ = log(runtime, make_person(runtime))
    _, other_id, _ = log(runtime, make_person(runtime), phone="0899999999")
    with transaction(runtime.sessions) as session:
        session.get(Ticket, closed_id).state = TicketState.CLOSED
    sim_send(url, user=VOLUNTEER, text="เบอร์โทร 081 234 5678")
    said = last(sim, VOLUNTEER)["text"]
    number = get(runtime, Ticket, open_id).number
    assert f"เชื่อมเรื่องที่ท่านโทรแจ้งไว้ ({number})" in said and "ทางแชตนี้" in said
    linked = [get(runtime, Ticket, i).user_id for i in (open_id, closed_id, other_id)]
    assert linked == [VOLUNTEER, None, None]

    with transaction(runtime.sessions) as session:
        coordinator = line_actor(session, PROVINCE_COORD)
        service.claim(session, coordinator, open_id)
        told = service.reply(session, coordinator, open_id, "แก้ไขให้แล้วครับ")
    assert [(n.to, n.kind) for n in told] == [(VOLUNTEER, "reply")]
    assert count(runtime, CallBack) == 0
    with runtime.sessions() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "ticket.link-line" in actions


def test_one_number_one_line_account(runtime):
    with transaction(runtime.sessions) as session:
        calls.share_phone(session, VOLUNTEER, "0812345678")
    with transaction(runtime.sessions) as session:
        calls.share_phone(session, "U" + "9" * 32, "081-234-5678")
    assert get(runtime, Volunteer, VOLUNTEER).phone is None
    assert get(runtime, Volunteer, "U" + "9" * 32).phone == PHONE


def test_a_malformed_number_in_line_gets_a_clear_thai_message(runtime, bot, sim):
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="เบอร์โทร 12345")
    assert last(sim, VOLUNTEER)["text"] == calls.BAD_PHONE
    assert get(runtime, Volunteer, VOLUNTEER).phone is None
    # Words after "เบอร์โทร" are a question for the FAQ, not a number.
    sim_send(url, user=VOLUNTEER, text="เบอร์โทรผู้ประสานงานส่วนกลาง")
    assert last(sim, VOLUNTEER)["text"] != calls.BAD_PHONE


def test_the_offered_step_never_blocks_the_ticket(runtime, bot, sim):
    url = sim[1].url
    link(runtime, PROVINCE_COORD, "province", SURAT)
    with transaction(runtime.sessions) as session:
        service.set_province(session, VOLUNTEER, SURAT, runtime.faq.directory)
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา แอปค้าง")
    sim_send(url, user=VOLUNTEER, postback="action=share-phone")
    sim_send(url, user=VOLUNTEER, text="0812")  # a wrong number: said so, still asked
    assert last(sim, VOLUNTEER)["text"] == calls.BAD_PHONE
    sim_send(url, user=VOLUNTEER, text="ค้างที่หน้าแรกครับ")  # words: they join the ticket
    assert "ค้างที่หน้าแรกครับ" in last(sim, PROVINCE_COORD)["text"]
    with runtime.sessions() as session:
        assert service.get_state(session, VOLUNTEER) == c.Idle()


# -- the state machine, with plain values ----------------------------------------------------------


def test_the_phone_step_in_the_state_machine():
    known = c.Facts(province="สงขลา", active_ticket=5)
    assert c.step(c.Idle(), c.SharePhoneAsked(), known) == (c.AskingPhone(), [c.AskPhone()])
    assert c.step(c.AskingPhone(), c.PhoneText(PHONE, PHONE), known) == (
        c.Idle(),
        [c.SavePhone(PHONE)],
    )
    assert c.step(c.AskingPhone(), c.PhoneText(None, "0812"), known) == (
        c.AskingPhone(),
        [c.PhoneInvalid()],
    )
    # Words instead of a number: handled as when idle (they join the open ticket).
    assert c.step(c.AskingPhone(), c.Text("ยังค้าง"), known) == (
        c.Idle(),
        [c.AddToTicket(5, "ยังค้าง")],
    )
    # The command in the middle of a report keeps the report.
    assert c.step(c.Confirming("x"), c.PhoneText(PHONE, "เบอร์โทร " + PHONE), known) == (
        c.Confirming("x"),
        [c.SavePhone(PHONE)],
    )
    assert c.step(c.Describing(), c.SharePhoneAsked(), known) == (
        c.Describing(),
        [c.AskPhone(command=True)],
    )
    # A coordinator's answer that begins with "เบอร์โทร" is the answer.
    state, effects = c.step(c.Replying(3), c.PhoneText(PHONE, "เบอร์โทร 0812345678"), known)
    assert state == c.Idle() and effects[0] == c.Answer(3, "เบอร์โทร 0812345678")


def test_every_input_has_a_rule_in_every_state_with_the_phone_step():
    inputs = [
        *SAMPLE_INPUTS,
        c.PhoneText(PHONE, PHONE),
        c.PhoneText(None, "1"),
        c.SharePhoneAsked(),
    ]
    for state in [*SAMPLE_STATES, c.AskingPhone()]:
        for facts in (
            c.Facts(),
            c.Facts("สงขลา"),
            c.Facts(coordinator=True),
            c.Facts("x", False, 9),
        ):
            for given in inputs:
                after, effects = c.step(state, given, facts)
                assert type(after).__name__ in c.STATES and isinstance(effects, list)
    assert c.load(*c.dump(c.AskingPhone())) == c.AskingPhone()


# -- the caller's history ------------------------------------------------------------------------


def test_the_callers_history_is_what_the_person_may_see(runtime):
    operator = make_person(runtime)
    mine = make_person(runtime, "coordinator", "province", SURAT)
    region = make_person(runtime, "coordinator", "region", region="ภาคใต้")
    north = make_person(runtime, "coordinator", "region", region="ภาคเหนือ")
    surat_call, surat_ticket, _ = log(runtime, operator)
    north_call, north_ticket, _ = log(runtime, operator, province="เชียงใหม่", phone="081 234 5678")
    answered_surat, _, _ = log(runtime, operator, "answered")
    answered_songkhla, _, _ = log(runtime, operator, "answered", province="สงขลา")
    answered_nowhere, _, _ = log(runtime, operator, "answered", province="")
    with transaction(runtime.sessions) as session:
        calls.share_phone(session, VOLUNTEER, PHONE)
        service.set_province(session, VOLUNTEER, SURAT, runtime.faq.directory)
        line_ticket, _ = service.open_ticket(session, runtime.faq.directory, VOLUNTEER, "GPS")
        line_id = line_ticket.id

    def seen(who, phone="+66812345678"):
        with runtime.sessions() as session:
            found = calls.caller_history(session, who, phone, runtime.faq.directory)
            return {t.id for t in found.tickets}, {c.id for c in found.calls}, found.volunteer

    tickets, seen_calls, volunteer = seen(operator)
    assert tickets == {surat_ticket, north_ticket, line_id}
    assert len(seen_calls) == 5 and volunteer.user_id == VOLUNTEER
    tickets, seen_calls, volunteer = seen(mine)
    assert tickets == {surat_ticket, line_id} and volunteer is None
    assert seen_calls == {
        surat_call,
        answered_surat,
    }  # the call that opened its ticket, and its own
    tickets, seen_calls, _ = seen(region)
    assert tickets == {surat_ticket, line_id}
    assert seen_calls == {surat_call, answered_surat, answered_songkhla}
    tickets, seen_calls, _ = seen(north)
    assert tickets == {north_ticket} and seen_calls == {north_call}
    assert answered_nowhere not in seen(region)[1]
    with runtime.sessions() as session:
        assert calls.caller_history(session, operator, "0812").phone is None
        assert calls.caller_history(session, operator, "0899999999").empty
