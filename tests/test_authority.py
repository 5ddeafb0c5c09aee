"""Who may do what with a ticket, and telling people truthfully where a ticket went.

Rules (ticketing.service): a claimed ticket is its claimer's — only they answer, resolve or hand
it up (ส่งต่อ); anyone else with authority over the ticket may take it over only explicitly
(รับช่วงต่อ), and the claimer and the volunteer are told. Routing skips levels where nobody has
linked LINE and says so; a ticket nobody can see is "unattended" and the volunteer reads one
true sentence about it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import transaction
from common.tables import utcnow
from tests.conftest import sim_messages, sim_send
from tests.test_tickets import link
from ticketing import service
from ticketing.models import Ticket, TicketEvent, TicketState

VOLUNTEER = "U" + "a1" * 16
PROVINCE = "U" + "b2" * 16
REGION = "U" + "c3" * 16
REGION_2 = "U" + "d4" * 16
CENTRAL = "U" + "e5" * 16


def report(runtime, sim, province="สุราษฎร์ธานี", user=VOLUNTEER) -> Ticket:
    with transaction(runtime.sessions) as session:
        service.set_province(session, user, province, runtime.faq.directory)
    sim_send(sim[1].url, user=user, text="แจ้งปัญหา ส่งข้อมูลไม่ได้ ขึ้น error ตลอด")
    with runtime.sessions() as session:
        return session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()


def texts(sim, user) -> list[str]:
    return [m.get("text", "") for m in sim_messages(sim[1].url, user) if m["type"] == "text"]


def state_of(runtime, ticket_id) -> Ticket:
    with runtime.sessions() as session:
        return session.get(Ticket, ticket_id)


def tap(sim, user, data):
    sim_send(sim[1].url, user=user, postback=data)


# -- strict ownership ---------------------------------------------------------------------------


def test_a_colleagues_claimed_ticket_cannot_be_handed_up_by_someone_else(runtime, bot, sim):
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี", name="นางจังหวัด")
    link(runtime, CENTRAL, "central", name="นายกลาง")
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")

    tap(sim, CENTRAL, f"action=escalate&t={opened.id}")

    after = state_of(runtime, opened.id)
    assert (after.state, after.level) == (TicketState.CLAIMED, "province")
    refusal = sim_messages(sim[1].url, CENTRAL)[-1]
    assert "นางจังหวัด" in refusal["text"]
    offered = [item["action"]["data"] for item in refusal["quickReply"]["items"]]
    assert f"action=takeover&t={opened.id}" in offered


@pytest.mark.parametrize("action", ["reply", "resolve"])
def test_only_the_claimer_answers_or_resolves(runtime, bot, sim, action):
    link(runtime, REGION, "region", region="ภาคใต้", name="คนแรก")
    link(runtime, REGION_2, "region", region="ภาคใต้", name="คนที่สอง")
    opened = report(runtime, sim, province="ยะลา")
    tap(sim, REGION, f"action=claim&t={opened.id}")

    tap(sim, REGION_2, f"action={action}&t={opened.id}")
    sim_send(sim[1].url, user=REGION_2, text="ข้อความที่ไม่ควรถึงอาสาสมัคร")

    assert "คนแรก" in texts(sim, REGION_2)[-2]
    assert not any("ไม่ควรถึง" in t for t in texts(sim, VOLUNTEER))
    assert state_of(runtime, opened.id).state == TicketState.CLAIMED


def test_a_take_over_tells_the_claimer_and_the_volunteer(runtime, bot, sim):
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี", name="นางจังหวัด")
    link(runtime, REGION, "region", region="ภาคใต้", name="นายภาค")
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")

    tap(sim, REGION, f"action=takeover&t={opened.id}")

    after = state_of(runtime, opened.id)
    with runtime.sessions() as session:
        region_id = service.coordinator_for(session, REGION).id
    assert after.claimed_by == region_id and after.state == TicketState.CLAIMED
    assert any("รับช่วงต่อโดย นายภาค" in t for t in texts(sim, PROVINCE))
    assert "นายภาค" in texts(sim, VOLUNTEER)[-1]
    # Now the new claimer answers, and the old one cannot.
    tap(sim, PROVINCE, f"action=reply&t={opened.id}")
    assert "นายภาค" in texts(sim, PROVINCE)[-1]
    tap(sim, REGION, f"action=reply&t={opened.id}")
    sim_send(sim[1].url, user=REGION, text="ลองออกจากระบบแล้วเข้าใหม่ครับ")
    assert "ลองออกจากระบบ" in texts(sim, VOLUNTEER)[-1]
    with runtime.sessions() as session:
        notes = session.scalars(
            select(TicketEvent.note).where(TicketEvent.ticket_id == opened.id)
        ).all()
    assert any("รับช่วงต่อจาก นางจังหวัด" in (n or "") for n in notes)


def test_nobody_outside_the_area_can_take_over(runtime, bot, sim):
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี")
    link(runtime, REGION, "region", region="ภาคเหนือ")
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")
    tap(sim, REGION, f"action=takeover&t={opened.id}")
    assert "ไม่มีสิทธิ์" in texts(sim, REGION)[-1]
    with runtime.sessions() as session:
        owner = service.coordinator_for(session, PROVINCE).id
    assert state_of(runtime, opened.id).claimed_by == owner


def test_the_claimer_can_hand_up_their_own_ticket(runtime, bot, sim):
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี")
    link(runtime, REGION, "region", region="ภาคใต้")
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")
    tap(sim, PROVINCE, f"action=escalate&t={opened.id}")
    after = state_of(runtime, opened.id)
    assert (after.state, after.level, after.claimed_by) == (TicketState.NEW, "region", None)
    assert "ผู้ประสานงานภาคใต้" in texts(sim, PROVINCE)[-1]


# -- telling the truth about where a ticket went ------------------------------------------------


def test_a_ticket_nobody_can_see_says_so_and_is_unattended(runtime, bot, sim):
    opened = report(runtime, sim)
    said = texts(sim, VOLUNTEER)[-1]
    assert opened.number in said
    assert "ยังไม่มีผู้ประสานงาน" in said and "091-949-3261" in said
    assert "ส่งถึงผู้ประสานงาน" not in said and "ภาค" not in said
    with runtime.sessions() as session:
        ticket = session.get(Ticket, opened.id)
        assert service.unattended(session, ticket)
        assert service.where_is(session, ticket).skipped == ("province", "region")


def test_a_skipped_level_is_not_named_as_the_one_that_has_the_ticket(runtime, bot, sim):
    link(runtime, REGION, "region", region="ภาคใต้")
    opened = report(runtime, sim, province="ยะลา")
    said = texts(sim, VOLUNTEER)[-1]
    assert "ส่งถึงผู้ประสานงานภาคใต้แล้ว" in said
    assert "จังหวัดยะลา" not in said
    with runtime.sessions() as session:
        assert not service.unattended(session, session.get(Ticket, opened.id))
        notes = session.scalars(
            select(TicketEvent.note).where(TicketEvent.ticket_id == opened.id)
        ).all()
    assert any("ข้ามระดับจังหวัด" in (n or "") for n in notes)


def test_handing_up_over_an_empty_level_names_where_it_went(runtime, bot, sim):
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี")
    link(runtime, CENTRAL, "central")
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=escalate&t={opened.id}")  # nobody linked in ภาคใต้
    assert state_of(runtime, opened.id).level == "central"
    assert "ถึงผู้ประสานงานส่วนกลางแล้ว" in texts(sim, PROVINCE)[-1]
    assert len([m for m in sim_messages(sim[1].url, CENTRAL) if m["type"] == "flex"]) == 1


def test_handing_up_to_nobody_says_the_ticket_waits_unattended(runtime, bot, sim):
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี")
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=escalate&t={opened.id}")
    assert "ยังไม่มีผู้ประสานงานส่วนกลาง" in texts(sim, PROVINCE)[-1]
    with runtime.sessions() as session:
        assert service.unattended(session, session.get(Ticket, opened.id))


# -- invite codes ---------------------------------------------------------------------------------


def test_wrong_invite_codes_are_limited_per_line_user(runtime, bot, sim):
    with transaction(runtime.sessions) as session:
        code = service.invite_coordinator(session, "cli", runtime.faq.directory, "ก", "central")
    for n in range(service.LINK_TRIES):
        sim_send(sim[1].url, user=CENTRAL, text=f"ลงทะเบียนผู้ประสานงาน AAAA-BBBB-{n:04d}")
    sim_send(sim[1].url, user=CENTRAL, text=f"ลงทะเบียนผู้ประสานงาน {code}")
    assert "หลายครั้งเกินไป" in texts(sim, CENTRAL)[-1]
    with runtime.sessions() as session:
        assert service.coordinator_for(session, CENTRAL) is None
    # Another LINE user is not held back by the first one's guesses, and the code still works
    # for its owner once the window has passed.
    later = utcnow() + service.LINK_WINDOW + timedelta(minutes=1)
    with transaction(runtime.sessions) as session:
        person = service.link_coordinator(session, CENTRAL, code, now=later)
    assert person.line_user_id == CENTRAL


def test_staff_list_the_unattended_tickets(runtime, app):
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี")
    directory = runtime.faq.directory
    with transaction(runtime.sessions) as session:
        for user, province in ((VOLUNTEER, "สุราษฎร์ธานี"), (REGION_2, "เชียงใหม่")):
            service.set_province(session, user, province, directory)
            service.open_ticket(session, directory, user, f"ปัญหาที่{province}")
    with runtime.sessions() as session:
        assert [t.province for t in service.unattended_tickets(session)] == ["เชียงใหม่"]

    result = app.test_cli_runner().invoke(args=["ticket", "list", "--unattended"])
    assert result.exit_code == 0, result.output
    assert "เชียงใหม่" in result.output and "ไม่มีผู้รับ" in result.output
    assert "สุราษฎร์ธานี" not in result.output
    # A central coordinator linking later makes it attended: the state is computed, not stored.
    link(runtime, CENTRAL, "central")
    with runtime.sessions() as session:
        assert service.unattended_tickets(session) == []


# -- the reopen window follows TICKET_CLOSE_AFTER -----------------------------------------------


def test_the_reopen_window_and_its_words_follow_the_close_setting(runtime, bot, sim):
    from dataclasses import replace

    runtime.settings = replace(runtime.settings, ticket_close_after_s=2 * 3600)
    runtime.__dict__.pop("timings", None)
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี")
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")
    tap(sim, PROVINCE, f"action=resolve&t={opened.id}")
    sim_send(sim[1].url, user=PROVINCE, text="รีเซ็ตรหัสผ่านให้แล้วครับ")
    rating = sim_messages(sim[1].url, VOLUNTEER)[-1]["text"]
    assert "ภายใน 2 ชั่วโมง" in rating and "3 วัน" not in rating

    # Three hours after resolution the ticket no longer reopens: the message is read afresh.
    with transaction(runtime.sessions) as session:
        session.get(Ticket, opened.id).resolved_at = utcnow() - timedelta(hours=3)
    sim_send(sim[1].url, user=VOLUNTEER, text="ยังเป็นอยู่ครับ")
    assert state_of(runtime, opened.id).state == TicketState.RESOLVED
