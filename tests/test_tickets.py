"""Tickets end to end through the simulator, escalation, authority and crash recovery."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT
from bot.db import transaction
from bot.inbox import sweep as sweep_leftovers
from bot.media import MediaLinks
from bot.models import OutboundMessage, utcnow
from bot.ticket_sweep import sweep_tickets
from tests.conftest import befriend, sim_messages, sim_send
from ticketing import service
from ticketing.authority import line_actor
from ticketing.models import ChatState, Ticket, TicketEvent, TicketImage, TicketState

VOLUNTEER = "U" + "1" * 32
PROVINCE_COORD = "U" + "2" * 32
REGION_COORD = "U" + "3" * 32
CENTRAL_COORD = "U" + "4" * 32
OTHER_PROVINCE_COORD = "U" + "5" * 32


def link(runtime, user_id: str, level: str, province=None, region=None, name="ผู้ประสานงาน"):
    """A coordinator linked directly (in LINE they send the code): a friend of the bot."""
    befriend(runtime.settings.line_api_base, user_id)
    with transaction(runtime.sessions) as session:
        code = service.invite_coordinator(
            session, "cli", runtime.faq.directory, name, level, province, region
        )
    with transaction(runtime.sessions) as session:
        service.link_coordinator(session, user_id, code)
    return code


def open_ticket(runtime, sim, user=VOLUNTEER, province="สุราษฎร์ธานี", text="ส่งข้อมูลไม่ได้"):
    with transaction(runtime.sessions) as session:
        service.set_province(session, user, province, runtime.faq.directory)
    sim_send(sim[1].url, user=user, text=f"แจ้งปัญหา {text}")
    with runtime.sessions() as session:
        return session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()


def last(sim, user):
    messages = sim_messages(sim[1].url, user)
    assert messages, f"nothing delivered to {user}"
    return messages[-1]


def ticket(runtime, ticket_id):
    with runtime.sessions() as session:
        return session.get(Ticket, ticket_id)


def said_on(runtime, ticket_id) -> list[str]:
    """The texts of a ticket's conversation, oldest first."""
    with runtime.sessions() as session:
        return [m.text for m in service.messages(session, ticket_id)]


def cards_for(sim, user):
    return [m for m in sim_messages(sim[1].url, user) if m["type"] == "flex"]


# -- the whole life of a ticket, as people live it ------------------------------------------------


def test_volunteer_to_coordinator_and_back(runtime, bot, sim):
    url = sim[1].url
    with transaction(runtime.sessions) as session:
        code = service.invite_coordinator(
            session, "cli", runtime.faq.directory, "นางภัทรญา", "province", "สุราษฎร์ธานี"
        )
    sim_send(url, user=PROVINCE_COORD, text=f"ลงทะเบียนผู้ประสานงาน {code}")
    assert "ลงทะเบียนเรียบร้อย" in last(sim, PROVINCE_COORD)["text"]

    sim_send(url, user=VOLUNTEER, type="follow", name="สมศรี")
    assert "จังหวัดไหน" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=VOLUNTEER, text="สุราษ")  # shortened: confirmed with a quick reply
    confirm = last(sim, VOLUNTEER)
    assert "สุราษฎร์ธานี" in confirm["text"]
    data = confirm["quickReply"]["items"][0]["action"]["data"]
    sim_send(url, user=VOLUNTEER, postback=data)
    assert last(sim, VOLUNTEER)["text"] == "บันทึกจังหวัดสุราษฎร์ธานีแล้วครับ"  # no report begun

    sim_send(url, user=VOLUNTEER, text="อำเภอพุนพิน")
    assert "พุนพิน" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา")
    sim_send(url, user=VOLUNTEER, text="กดส่งข้อมูลแล้วขึ้น error ตลอด")
    assert "ยืนยัน" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=VOLUNTEER, postback="action=ticket-confirm")
    opened = last(sim, VOLUNTEER)["text"]
    assert "BMN-000001" in opened and "30 นาที" in opened

    (card,) = cards_for(sim, PROVINCE_COORD)
    assert "BMN-000001" in card["altText"]
    buttons = [b["action"]["label"] for b in card["contents"]["footer"]["contents"]]
    assert buttons == ["รับเรื่อง", "ตอบกลับ", "ส่งต่อ", "ปิดเรื่อง"]

    sim_send(url, user=PROVINCE_COORD, postback="action=claim&t=1")
    assert "นางภัทรญา" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=PROVINCE_COORD, postback="action=reply&t=1")
    sim_send(url, user=PROVINCE_COORD, text="ลองอัปเดตแอปแล้วส่งใหม่ครับ")
    assert last(sim, VOLUNTEER)["text"].startswith("[BMN-000001] ลองอัปเดตแอปแล้วส่งใหม่ครับ")

    sim_send(url, user=VOLUNTEER, text="ยังส่งไม่ได้ครับ")
    assert "ยังส่งไม่ได้ครับ" in last(sim, PROVINCE_COORD)["text"]

    sim_send(url, user=PROVINCE_COORD, postback="action=resolve&t=1")
    sim_send(url, user=PROVINCE_COORD, text="รีเซ็ตบัญชีให้แล้ว ส่งได้ตามปกติ")
    rating = last(sim, VOLUNTEER)
    assert "รีเซ็ตบัญชีให้แล้ว" in rating["text"] and len(rating["quickReply"]["items"]) == 5
    sim_send(url, user=VOLUNTEER, postback="action=rate&t=1&r=4")

    done = ticket(runtime, 1)
    assert (done.state, done.rating, done.province) == (TicketState.RESOLVED, 4, "สุราษฎร์ธานี")
    assert done.display_name == "สมศรี" and done.category == "upload-failed"
    district_row = card["contents"]["body"]["contents"][1]
    assert district_row["contents"][1]["text"] == "พุนพิน"
    category_row = card["contents"]["body"]["contents"][3]
    assert category_row["contents"][1]["text"] == "ส่งข้อมูลไม่ได้"  # the topic's Thai label
    with runtime.sessions() as session:
        states = session.scalars(
            select(TicketEvent.to_state).where(TicketEvent.ticket_id == 1).order_by(TicketEvent.id)
        ).all()
    assert states[0] == "new" and "claimed" in states and "waiting" in states
    assert states[-2:] == ["resolved", "resolved"]  # resolved, then the rating


def test_status_lists_the_volunteers_tickets(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    open_ticket(runtime, sim)
    sim_send(sim[1].url, user=VOLUNTEER, text="เรื่องที่แจ้งไว้ไปถึงไหนแล้วครับ")
    assert "BMN-000001" in last(sim, VOLUNTEER)["text"]


def test_volunteer_can_cancel_while_describing(runtime, bot, sim):
    with transaction(runtime.sessions) as session:
        service.set_province(session, VOLUNTEER, "สงขลา", runtime.faq.directory)
    sim_send(sim[1].url, user=VOLUNTEER, text="แจ้งปัญหา")
    sim_send(sim[1].url, user=VOLUNTEER, text="ยกเลิก")
    assert "ยกเลิก" in last(sim, VOLUNTEER)["text"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0


PNG = b"\x89PNG\r\n\x1a\n" + b"screenshot"
JPEG = b"\xff\xd8\xff\xe0" + b"second screenshot"


def fetch(client, url: str):
    """GET one of the bot's media links through the Flask test client."""
    path = url.split("://", 1)[1].split("/", 1)[1]
    return client.get("/" + path)


def test_screenshots_are_stored_and_coordinators_see_them(runtime, bot, sim, client):
    link(runtime, PROVINCE_COORD, "province", "สงขลา")
    with transaction(runtime.sessions) as session:
        service.set_province(session, VOLUNTEER, "สงขลา", runtime.faq.directory)
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา")
    sim_send(url, user=VOLUNTEER, image=base64.b64encode(PNG).decode())
    sim_send(url, user=VOLUNTEER, image=base64.b64encode(JPEG).decode())
    assert "แนบภาพหน้าจอ 2 ภาพ" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=VOLUNTEER, text="แอปเด้งตอนกดบันทึก")
    sim_send(url, user=VOLUNTEER, postback="action=ticket-confirm")

    stored = ticket(runtime, 1)
    assert "แอปเด้ง" in stored.description
    with runtime.sessions() as session:
        images = session.scalars(select(TicketImage).order_by(TicketImage.id)).all()
        assert [(i.ticket_id, i.content, i.content_type) for i in images] == [
            (1, PNG, "image/png"),
            (1, JPEG, "image/jpeg"),
        ]
    card, second = sim_messages(url, PROVINCE_COORD)[-2:]
    assert "2 ภาพ" in str(card["contents"]["body"])
    hero = card["contents"]["hero"]["url"]
    assert second["type"] == "image"
    shown = fetch(client, hero)
    assert shown.status_code == 200 and shown.data == PNG and shown.mimetype == "image/png"
    assert fetch(client, second["originalContentUrl"]).data == JPEG
    # The link is signed: another id or a changed signature is refused.
    assert fetch(client, hero.replace("/ticket-images/1?", "/ticket-images/2?")).status_code == 403
    assert fetch(client, hero[:-4] + "0000").status_code == 403


def images_of(runtime, ticket_id: int) -> list[bytes]:
    with runtime.sessions() as session:
        rows = session.scalars(select(TicketImage).where(TicketImage.ticket_id == ticket_id))
        return [row.content for row in rows]


def test_a_screenshot_sent_out_of_the_blue_is_offered_as_a_ticket(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สงขลา")
    with transaction(runtime.sessions) as session:
        service.set_province(session, VOLUNTEER, "สงขลา", runtime.faq.directory)
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, image=base64.b64encode(PNG).decode())
    offer = last(sim, VOLUNTEER)
    assert offer["quickReply"]["items"][0]["action"]["data"] == "action=ticket-with-image"
    sim_send(url, user=VOLUNTEER, postback="action=ticket-with-image")
    assert "แนบภาพหน้าจอ 1 ภาพ" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=VOLUNTEER, text="กดบันทึกแล้วขึ้นแบบนี้")
    sim_send(url, user=VOLUNTEER, postback="action=ticket-confirm")
    opened = ticket(runtime, 1)
    assert opened.description == "กดบันทึกแล้วขึ้นแบบนี้"  # the words replace "(ภาพหน้าจอ)"
    assert images_of(runtime, 1) == [PNG]


def test_an_offered_screenshot_waits_while_the_faq_answers_then_joins_a_report(runtime, bot, sim):
    with transaction(runtime.sessions) as session:
        service.set_province(session, VOLUNTEER, "สงขลา", runtime.faq.directory)
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, image=base64.b64encode(PNG).decode())
    sim_send(url, user=VOLUNTEER, text="ลืมรหัสผ่าน")
    assert "รหัสผ่าน" in last(sim, VOLUNTEER)["text"]  # answered by the FAQ, not a ticket
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา รีเซ็ตรหัสแล้วก็ยังเข้าไม่ได้")
    assert "BMN-000001" in last(sim, VOLUNTEER)["text"]
    assert images_of(runtime, 1) == [PNG]


class Forgetful(dict):
    """The simulator's content store, losing everything: as if LINE's copy had expired."""

    def __setitem__(self, key, value) -> None:
        pass


def test_an_image_line_no_longer_has_gets_a_polite_answer(runtime, bot, sim):
    sim[0].content = Forgetful()
    sim_send(sim[1].url, user=VOLUNTEER, image=base64.b64encode(PNG).decode())
    assert "เปิดภาพนี้ไม่ได้" in last(sim, VOLUNTEER)["text"]


def test_a_replying_coordinator_can_send_a_picture(runtime, bot, sim, client):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    opened = open_ticket(runtime, sim)
    url = sim[1].url
    sim_send(url, user=PROVINCE_COORD, postback=f"action=claim&t={opened.id}")
    sim_send(url, user=PROVINCE_COORD, postback=f"action=reply&t={opened.id}")
    sim_send(url, user=PROVINCE_COORD, image=base64.b64encode(JPEG).decode())
    assert "ส่งภาพถึงอาสาสมัครแล้ว" in last(sim, PROVINCE_COORD)["text"]
    picture, caption = sim_messages(url, VOLUNTEER)[-2:]
    assert picture["type"] == "image" and opened.number in caption["text"]
    assert fetch(client, picture["originalContentUrl"]).data == JPEG
    sim_send(url, user=PROVINCE_COORD, text="ลองกดส่งใหม่ตามภาพนี้ครับ")  # the flow goes on
    assert "ลองกดส่งใหม่" in last(sim, VOLUNTEER)["text"]
    stored = ticket(runtime, opened.id)
    assert stored.state == TicketState.WAITING
    with runtime.sessions() as session:
        assert service.image_ids(session, opened.id) == []  # not counted as a screenshot


def test_without_links_the_media_route_serves_nothing(runtime, client):
    url = runtime.media.url(1)
    runtime.__dict__["media"] = None  # as on a real channel without an https PUBLIC_URL
    assert fetch(client, url).status_code == 404


def age_flow(runtime, user_id: str, hours: float) -> None:
    with transaction(runtime.sessions) as session:
        state = session.get(ChatState, user_id)
        state.updated_at = utcnow() - timedelta(hours=hours)


def test_a_forgotten_reply_step_expires(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    opened = open_ticket(runtime, sim)
    url = sim[1].url
    sim_send(url, user=PROVINCE_COORD, postback=f"action=claim&t={opened.id}")
    sim_send(url, user=PROVINCE_COORD, postback=f"action=reply&t={opened.id}")
    before = len(sim_messages(url, VOLUNTEER))
    age_flow(runtime, PROVINCE_COORD, hours=3)
    sim_send(url, user=PROVINCE_COORD, text="สวัสดีครับ")  # hours later, meant for nobody
    assert len(sim_messages(url, VOLUNTEER)) == before
    assert ticket(runtime, opened.id).state == TicketState.CLAIMED


def test_the_sweep_drops_expired_steps_and_the_screenshots_they_held(runtime, bot, sim):
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, image=base64.b64encode(PNG).decode())  # an offer, kept
    other = "U" + "9" * 32
    sim_send(url, user=other, image=base64.b64encode(PNG).decode())
    age_flow(runtime, VOLUNTEER, hours=3)
    sweep_tickets(runtime)
    with runtime.sessions() as session:
        assert session.get(ChatState, VOLUNTEER) is None
        assert session.get(ChatState, other) is not None  # still fresh


def test_media_links_expire_and_need_the_right_key():
    now = [1_000_000.0]
    links = MediaLinks("secret", "https://desk.example", ttl_s=60, clock=lambda: now[0])
    url = links.url(7)
    query = dict(part.split("=") for part in url.split("?", 1)[1].split("&"))
    assert url.startswith("https://desk.example/media/ticket-images/7?")
    assert links.verify(7, query["e"], query["s"])
    assert not links.verify(8, query["e"], query["s"])
    assert not MediaLinks("other", "https://desk.example").verify(7, query["e"], query["s"])
    now[0] += 61
    assert not links.verify(7, query["e"], query["s"])


def test_without_an_https_public_url_real_line_gets_no_image_links(settings):
    from dataclasses import replace

    from bot.runtime import Runtime

    real_line = replace(settings, line_api_base=None)
    assert Runtime.from_settings(real_line).media is None
    public = replace(real_line, public_url="https://desk.example")
    assert Runtime.from_settings(public).media.url(1).startswith("https://desk.example/media/")


def test_messages_on_an_unclaimed_ticket_reach_the_coordinators_it_is_addressed_to(
    runtime, bot, sim, client
):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    waiting = open_ticket(runtime, sim)
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="ขึ้นว่า error 500 ครับ")
    assert "ส่งข้อความถึงผู้ประสานงานแล้ว" in last(sim, VOLUNTEER)["text"]
    relay = last(sim, PROVINCE_COORD)
    assert waiting.number in relay["text"] and "error 500" in relay["text"]
    sim_send(url, user=VOLUNTEER, image=base64.b64encode(PNG).decode())
    picture, note = sim_messages(url, PROVINCE_COORD)[-2:]
    assert picture["type"] == "image" and "(ภาพหน้าจอ)" in note["text"]
    assert fetch(client, picture["originalContentUrl"]).data == PNG
    stored = ticket(runtime, waiting.id)
    assert stored.state == TicketState.NEW  # still waiting for someone to take it
    assert said_on(runtime, waiting.id)[-2:] == ["ขึ้นว่า error 500 ครับ", "(ภาพหน้าจอ)"]


def test_with_nobody_linked_the_message_is_kept_for_whoever_takes_the_ticket(runtime, bot, sim):
    waiting = open_ticket(runtime, sim, province="ยะลา")  # no coordinator linked anywhere
    sim_send(sim[1].url, user=VOLUNTEER, text="ลองใหม่แล้วก็ยังไม่ได้")
    assert f"เพิ่มข้อความในเรื่อง {waiting.number}" in last(sim, VOLUNTEER)["text"]
    assert said_on(runtime, waiting.id)[-1] == "ลองใหม่แล้วก็ยังไม่ได้"


# -- routing and escalation ---------------------------------------------------------------------


def test_no_provincial_coordinator_routes_to_the_region_then_central(runtime, bot, sim):
    link(runtime, REGION_COORD, "region", region="ภาคใต้")
    first = open_ticket(runtime, sim, province="ยะลา")
    assert first.level == "region" and len(cards_for(sim, REGION_COORD)) == 1
    second = open_ticket(runtime, sim, user="U" + "6" * 32, province="เชียงใหม่")
    assert second.level == "central"  # nobody linked in ภาคเหนือ or at central


def test_unclaimed_goes_to_region_then_central_and_a_claimed_one_stays(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    link(runtime, REGION_COORD, "region", region="ภาคใต้")
    link(runtime, CENTRAL_COORD, "central")
    waiting = open_ticket(runtime, sim)
    taken = open_ticket(runtime, sim, user="U" + "7" * 32, text="ลืมรหัสผ่าน")
    with transaction(runtime.sessions) as session:
        service.claim(session, line_actor(session, PROVINCE_COORD), taken.id)
    t0 = waiting.created_at

    assert sweep_tickets(runtime, t0 + timedelta(minutes=29)) == 0
    sweep_tickets(runtime, t0 + timedelta(minutes=31))
    assert ticket(runtime, waiting.id).level == "region"
    assert len(cards_for(sim, REGION_COORD)) == 1
    sweep_tickets(runtime, t0 + timedelta(minutes=32))  # again: nothing new
    assert len(cards_for(sim, REGION_COORD)) == 1

    sweep_tickets(runtime, t0 + timedelta(minutes=61))
    assert ticket(runtime, waiting.id).level == "central"
    assert len(cards_for(sim, CENTRAL_COORD)) == 1
    assert ticket(runtime, taken.id).level == "province"  # claimed: never escalated


def test_durations_come_from_settings_in_seconds(runtime, bot, sim):
    from dataclasses import replace

    runtime.settings = replace(
        runtime.settings, escalate_region_after_s=5, escalate_central_after_s=10
    )
    runtime.__dict__.pop("timings", None)
    link(runtime, REGION_COORD, "region", region="ภาคใต้")
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    opened = open_ticket(runtime, sim)
    sweep_tickets(runtime, opened.created_at + timedelta(seconds=6))
    assert ticket(runtime, opened.id).level == "region"


def test_after_downtime_an_old_ticket_goes_straight_to_central(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    link(runtime, REGION_COORD, "region", region="ภาคใต้")
    link(runtime, CENTRAL_COORD, "central")
    opened = open_ticket(runtime, sim)
    sweep_tickets(runtime, opened.created_at + timedelta(hours=5))
    assert ticket(runtime, opened.id).level == "central"
    assert len(cards_for(sim, CENTRAL_COORD)) == 1 and cards_for(sim, REGION_COORD) == []


def test_two_sweeps_at_once_escalate_once(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    link(runtime, REGION_COORD, "region", region="ภาคใต้")
    opened = [open_ticket(runtime, sim, user=f"U{n:032x}", text=f"ปัญหา {n}") for n in range(5)]
    when = max(t.created_at for t in opened) + timedelta(minutes=31)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def run() -> None:
        barrier.wait()
        try:
            sweep_tickets(runtime, when)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cards_for(sim, REGION_COORD)) == 5
    with runtime.sessions() as session:
        escalations = session.scalar(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.actor == "system")
        )
    assert escalations == 5


def test_claimed_but_silent_gets_one_reminder(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    opened = open_ticket(runtime, sim)
    with transaction(runtime.sessions) as session:
        service.claim(
            session, line_actor(session, PROVINCE_COORD), opened.id, now=opened.created_at
        )
    sweep_tickets(runtime, opened.created_at + timedelta(minutes=31))
    sweep_tickets(runtime, opened.created_at + timedelta(minutes=45))
    assert sum("เตือน" in m.get("altText", "") for m in cards_for(sim, PROVINCE_COORD)) == 1


def test_resolved_closes_after_three_days_and_a_message_before_reopens(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    first = open_ticket(runtime, sim)
    second = open_ticket(runtime, sim, user="U" + "8" * 32)
    now = utcnow()
    with transaction(runtime.sessions) as session:
        for t in (first, second):
            service.claim(session, line_actor(session, PROVINCE_COORD), t.id)
            service.resolve(session, line_actor(session, PROVINCE_COORD), t.id, "แก้แล้ว", now=now)
    sim_send(sim[1].url, user=VOLUNTEER, text="ยังเป็นอยู่ครับ")  # within 3 days: reopens
    assert ticket(runtime, first.id).state == TicketState.CLAIMED
    assert "เปิดเรื่องอีกครั้ง" in last(sim, PROVINCE_COORD)["text"]
    sweep_tickets(runtime, now + timedelta(days=3, minutes=1))
    assert ticket(runtime, second.id).state == TicketState.CLOSED
    assert ticket(runtime, first.id).state == TicketState.CLAIMED  # reopened: not closed


# -- authority ----------------------------------------------------------------------------------


def test_another_provinces_coordinator_cannot_claim(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    link(runtime, OTHER_PROVINCE_COORD, "province", "สงขลา")
    opened = open_ticket(runtime, sim)
    sim_send(sim[1].url, user=OTHER_PROVINCE_COORD, postback=f"action=claim&t={opened.id}")
    assert "ไม่มีสิทธิ์" in last(sim, OTHER_PROVINCE_COORD)["text"]
    assert ticket(runtime, opened.id).state == TicketState.NEW


@pytest.mark.parametrize(
    "data",
    [
        "action=claim&t=1",
        "action=resolve&t=1",
        "action=escalate&t=1",
        "action=rate&t=1&r=5",
        "action=claim&t=abc",
        "action=reply&t=999",
    ],
)
def test_a_volunteers_forged_postback_changes_nothing(runtime, bot, sim, data):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    opened = open_ticket(runtime, sim)
    sim_send(sim[1].url, user=VOLUNTEER, postback=data)
    after = ticket(runtime, opened.id)
    assert (after.state, after.level, after.rating, after.claimed_by) == (
        "new",
        "province",
        None,
        None,
    )


def test_an_invite_code_works_once_and_expires(runtime):
    with transaction(runtime.sessions) as session:
        code = service.invite_coordinator(session, "cli", runtime.faq.directory, "ก", "central")
    with transaction(runtime.sessions) as session:
        service.link_coordinator(session, CENTRAL_COORD, code)
    with pytest.raises(service.TicketError), transaction(runtime.sessions) as session:
        service.link_coordinator(session, OTHER_PROVINCE_COORD, code)
    with transaction(runtime.sessions) as session:
        late = service.invite_coordinator(session, "cli", runtime.faq.directory, "ข", "central")
    with pytest.raises(service.TicketError), transaction(runtime.sessions) as session:
        service.link_coordinator(
            session, OTHER_PROVINCE_COORD, late, now=utcnow() + timedelta(hours=25)
        )


# -- nothing lost ---------------------------------------------------------------------------------


def test_a_crash_after_commit_resends_notifications_once(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    link(runtime, REGION_COORD, "region", region="ภาคใต้")
    opened = open_ticket(runtime, sim)
    later = opened.created_at + timedelta(minutes=31)
    sweep_tickets(runtime, later, send=False)  # committed, then the worker died
    assert cards_for(sim, REGION_COORD) == []
    sweep_leftovers(runtime, utcnow() + timedelta(minutes=5))  # after restart
    sweep_leftovers(runtime, utcnow() + timedelta(minutes=10))
    assert len(cards_for(sim, REGION_COORD)) == 1
    with runtime.sessions() as session:
        statuses = session.scalars(select(OutboundMessage.status)).all()
    assert set(statuses) == {"sent"}


# -- staff CLI ----------------------------------------------------------------------------------


def test_cli_invite_prints_the_code_alone_on_the_last_line(tmp_path):
    env_url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": env_url, "DOTENV_PATH": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    flask = [sys.executable, "-m", "flask", "--app", "bot"]

    def run(*args: str) -> str:
        result = subprocess.run(
            [*flask, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("db", "upgrade")
    out = run(
        "coordinator", "invite", "--name", "นางภัทรญา", "--level", "province", "--province", "สุราษ"
    )
    code = out.strip().splitlines()[-1]
    assert len(code) == 14 and code.count("-") == 2
    assert "สุราษฎร์ธานี" in out
    assert "no tickets" in run("ticket", "list")


def test_province_in_one_message_then_a_report_right_after_follow(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, type="follow")
    sim_send(url, user=VOLUNTEER, text="จังหวัด สุราษ")
    assert "สุราษฎร์ธานี แล้ว" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา ล็อกอินไม่ได้")
    assert "BMN-000001" in last(sim, VOLUNTEER)["text"]
    assert len(cards_for(sim, PROVINCE_COORD)) == 1


def test_a_report_before_the_province_waits_for_it(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สงขลา")
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา แอปค้าง")
    assert "จังหวัดไหน" in last(sim, VOLUNTEER)["text"]
    sim_send(url, user=VOLUNTEER, text="จ.สงขลา")
    assert "BMN-000001" in last(sim, VOLUNTEER)["text"]
    assert ticket(runtime, 1).description == "แอปค้าง"


def test_a_report_waiting_for_the_province_opens_after_the_confirm_button(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สงขลา")
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา GPS ไม่ขึ้น")
    sim_send(url, user=VOLUNTEER, text="สงขล")
    data = last(sim, VOLUNTEER)["quickReply"]["items"][0]["action"]["data"]
    sim_send(url, user=VOLUNTEER, postback=data)
    assert "BMN-000001" in last(sim, VOLUNTEER)["text"]
    assert ticket(runtime, 1).description == "GPS ไม่ขึ้น"
