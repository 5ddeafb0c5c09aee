"""The console's ticket page: the whole timeline, and every action through the same
`ticketing` functions LINE's buttons use — a claim or a reply on one side shows on the other
(through the simulator) — with ownership, area and closed-ticket refusals, merges decided by one
conditional UPDATE, internal notes that are never sent, and who else has the ticket open."""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from bot.db import transaction
from bot.models import OutboundMessage
from common.tables import utcnow
from common.thaidate import BANGKOK, BE_OFFSET
from tests.conftest import sim_messages, sim_send
from tests.console_support import csrf_token, make_coordinator, make_staff, sign_in_as
from tests.test_authority import VOLUNTEER, report, tap, texts
from tests.test_tickets import JPEG, PNG, link
from ticketing import desk, service
from ticketing.authority import actor_of
from ticketing.errors import TicketError
from ticketing.escalation import Timings, next_deadline
from ticketing.models import (
    AuditEntry,
    Coordinator,
    Snippet,
    Ticket,
    TicketMessage,
    TicketPresence,
    TicketState,
)

VOLUNTEER_2 = "U" + "a8" * 16
PROVINCE = "U" + "b7" * 16
PROVINCE_2 = "U" + "b8" * 16
REGION = "U" + "c7" * 16
SURAT = "สุราษฎร์ธานี"


def staff_id(runtime, line_user: str) -> int:
    with runtime.sessions() as session:
        return service.coordinator_for(session, line_user).id


def page(client, ticket_id: int) -> str:
    response = client.get(f"/console/tickets/{ticket_id}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def post(client, ticket_id: int, action: str, data=None, **kwargs):
    """An action's form, with the CSRF token a signed-in page carries."""
    token = csrf_token(client, "/console/queue")
    return client.post(
        f"/console/tickets/{ticket_id}/{action}",
        data={"csrf_token": token, **(data or {})},
        **kwargs,
    )


def outbox_count(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboundMessage))


def ticket_row(runtime, ticket_id: int) -> Ticket:
    with runtime.sessions() as session:
        return session.get(Ticket, ticket_id)


def refusal(response) -> str:
    found = re.search(r'id="refusal">([^<]*)<', response.get_data(as_text=True))
    assert found, "no refusal on the page"
    return found.group(1)


def two_coordinators(runtime):
    link(runtime, PROVINCE, "province", SURAT, name="นางจังหวัด")
    link(runtime, PROVINCE_2, "province", SURAT, name="นายสอง")
    return staff_id(runtime, PROVINCE), staff_id(runtime, PROVINCE_2)


# -- LINE and the console are one desk --------------------------------------------------------------


def test_a_claim_in_line_shows_here_and_a_claim_here_shows_in_line(runtime, bot, sim, client):
    _, second = two_coordinators(runtime)
    first_ticket = report(runtime, sim)
    sign_in_as(client, runtime, second)
    shown = page(client, first_ticket.id)
    assert "รอรับเรื่อง" in shown and f'action="/console/tickets/{first_ticket.id}/claim"' in shown

    tap(sim, PROVINCE, f"action=claim&t={first_ticket.id}")

    # The page open before the claim says so at its next refresh, without reloading itself.
    version = re.search(r'/timeline\?v=([^"]+)"', shown).group(1)
    refreshed = client.get(f"/console/tickets/{first_ticket.id}/timeline?v={version}")
    changed = refreshed.get_data(as_text=True)
    assert 'id="changed" hx-swap-oob="true"' in changed and "ผู้รับเรื่อง นางจังหวัด" in changed
    shown = page(client, first_ticket.id)
    assert re.search(r'id="claimer">นางจังหวัด<', shown)
    version = re.search(r'/timeline\?v=([^"]+)"', shown).group(1)
    unchanged = client.get(f"/console/tickets/{first_ticket.id}/timeline?v={version}")
    assert "hx-swap-oob" not in unchanged.get_data(as_text=True)
    assert "/take-over" in shown and "/reply" not in shown  # strict ownership

    other = report(runtime, sim, user=VOLUNTEER_2)
    assert post(client, other.id, "claim").status_code == 303
    assert "นายสอง" in texts(sim, VOLUNTEER_2)[-1] and other.number in texts(sim, VOLUNTEER_2)[-1]
    # In LINE the claim holds too: the colleague is offered only a take-over.
    tap(sim, PROVINCE, f"action=reply&t={other.id}")
    assert "นายสอง" in texts(sim, PROVINCE)[-1]


def test_a_reply_typed_here_reaches_the_volunteer_in_line(runtime, bot, sim, client):
    first, _ = two_coordinators(runtime)
    opened = report(runtime, sim)
    sign_in_as(client, runtime, first)
    post(client, opened.id, "claim")

    response = post(client, opened.id, "reply", {"text": "ลองออกจากระบบแล้วเข้าใหม่ครับ"})

    assert response.status_code == 303
    assert texts(sim, VOLUNTEER)[-1] == f"[{opened.number}] ลองออกจากระบบแล้วเข้าใหม่ครับ\n— นางจังหวัด"
    assert ticket_row(runtime, opened.id).state == TicketState.WAITING
    shown = page(client, opened.id)
    assert "ลองออกจากระบบแล้วเข้าใหม่ครับ" in shown and "ส่งคำตอบถึงผู้แจ้งแล้ว" in shown


def test_a_picture_reply_reaches_the_volunteer_and_shows_on_the_page(runtime, bot, sim, client):
    first, _ = two_coordinators(runtime)
    opened = report(runtime, sim)
    sign_in_as(client, runtime, first)
    post(client, opened.id, "claim")

    upload = {"text": "กดปุ่มนี้ครับ", "picture": (io.BytesIO(PNG), "hint.png")}
    response = post(client, opened.id, "reply", upload, content_type="multipart/form-data")

    assert response.status_code == 303
    picture, words = sim_messages(sim[1].url, VOLUNTEER)[-2:]
    assert picture["type"] == "image" and "กดปุ่มนี้ครับ" in words["text"]
    with runtime.sessions() as session:
        image_id = session.scalars(
            select(TicketMessage.image_id).where(TicketMessage.image_id.is_not(None))
        ).one()
    src = f"/console/tickets/{opened.id}/images/{image_id}"
    assert src in page(client, opened.id)
    shown = client.get(src)
    assert shown.status_code == 200 and shown.data == PNG and shown.mimetype == "image/png"


@pytest.mark.parametrize(
    ("content", "name", "words"),
    [
        (b"GIF89a" + b"x" * 10, "a.gif", "JPEG หรือ PNG"),
        (b"not a picture at all", "a.txt", "JPEG หรือ PNG"),
        (JPEG + b"x" * (2 * 1024 * 1024), "big.jpg", "ใหญ่เกินไป"),
    ],
)
def test_a_picture_must_be_a_small_jpeg_or_png(runtime, client, content, name, words):
    operator, _ = make_staff(runtime)
    opened = phone_free_ticket(runtime)
    sign_in_as(client, runtime, operator, "password")
    post(client, opened, "claim")
    upload = {"picture": (io.BytesIO(content), name)}
    response = post(client, opened, "reply", upload, content_type="multipart/form-data")
    assert response.status_code == 409 and words in refusal(response)
    assert ticket_row(runtime, opened).state == TicketState.CLAIMED


def test_a_body_past_the_upload_limit_is_refused_in_thai(runtime, client):
    operator, _ = make_staff(runtime)
    opened = phone_free_ticket(runtime)
    sign_in_as(client, runtime, operator, "password")
    post(client, opened, "claim")
    upload = {"picture": (io.BytesIO(JPEG + b"x" * (3 * 1024 * 1024)), "a.jpg")}
    response = post(client, opened, "reply", upload, content_type="multipart/form-data")
    assert response.status_code == 413 and "ใหญ่เกินไป" in response.get_data(as_text=True)


def phone_free_ticket(runtime, province: str = SURAT, user: str = VOLUNTEER) -> int:
    """A ticket opened in the domain (no simulator needed)."""
    with transaction(runtime.sessions) as session:
        service.set_province(session, user, province, runtime.faq.directory)
        ticket, _ = service.open_ticket(session, runtime.faq.directory, user, "ส่งข้อมูลไม่ได้")
        return ticket.id


# -- the timeline -------------------------------------------------------------------------------------


def test_the_page_shows_the_whole_timeline_in_order_with_thai_words(runtime, bot, sim, client):
    first, _ = two_coordinators(runtime)
    link(runtime, REGION, "region", region="ภาคใต้", name="นายภาค")
    url = sim[1].url
    with transaction(runtime.sessions) as session:
        service.set_province(session, VOLUNTEER, SURAT, runtime.faq.directory)
    sim_send(url, user=VOLUNTEER, text="ลืมรหัสผ่าน")  # answered by the FAQ first
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา")
    sim_send(url, user=VOLUNTEER, image=base64.b64encode(PNG).decode())
    sim_send(url, user=VOLUNTEER, text="กดรีเซ็ตแล้วไม่มีอีเมลมา")
    sim_send(url, user=VOLUNTEER, postback="action=ticket-confirm")
    opened = ticket_row(runtime, 1)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")
    sign_in_as(client, runtime, first)
    post(client, opened.id, "reply", {"text": "ตรวจอีเมลขยะด้วยครับ"})
    sim_send(url, user=VOLUNTEER, text="ไม่มีในอีเมลขยะครับ")
    sim_send(url, user=VOLUNTEER, image=base64.b64encode(JPEG).decode())
    post(client, opened.id, "note", {"text": "น่าจะต้องให้ส่วนกลางรีเซ็ต"})
    post(client, opened.id, "escalate")

    shown = page(client, opened.id)

    steps = [
        "ลืมรหัสผ่าน",  # asked before the ticket
        "กดรีเซ็ตแล้วไม่มีอีเมลมา",  # the report, with its screenshot
        "/images/1",
        "รับเรื่อง",
        "ตรวจอีเมลขยะด้วยครับ",
        "สถานะ → รออาสาสมัครตอบ",
        "ไม่มีในอีเมลขยะครับ",
        "/images/2",
        "น่าจะต้องให้ส่วนกลางรีเซ็ต",
        "ส่งต่อ: ส่งถึงระดับภาค",
    ]
    timeline = shown[shown.index('id="timeline"') :]
    positions = [timeline.find(s) for s in steps]
    assert all(p >= 0 for p in positions), dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions)
    assert "บันทึกภายใน (ไม่ส่งถึงผู้แจ้ง)" in timeline and "ถามระบบตอบอัตโนมัติ" in timeline
    year = utcnow().astimezone(BANGKOK).year + BE_OFFSET
    visible = re.sub(r'datetime="[^"]*"', "", timeline)
    assert str(year) in visible and str(year - BE_OFFSET) not in visible
    # The header: number, state, level, area, category, channel, claimer (now none: handed up).
    head = shown[: shown.index('id="timeline"')]
    category = runtime.faq.labels.get(opened.category or "", "ทั่วไป")
    for fact in (opened.number, "รอรับเรื่อง", "ภาค", SURAT, category, "LINE", "ยังไม่มี"):
        assert fact in head, fact
    # The echo of each message in the ticket log is not shown twice.
    assert timeline.count("ไม่มีในอีเมลขยะครับ") == 1
    fragment = client.get(f"/console/tickets/{opened.id}/timeline").get_data(as_text=True)
    assert "น่าจะต้องให้ส่วนกลางรีเซ็ต" in fragment and "<html" not in fragment
    assert client.get(f"/console/tickets/{opened.id}/images/1").data == PNG


def test_calls_and_call_backs_on_the_ticket_are_in_its_timeline(runtime, client):
    from ticketing.models import CallBack, PhoneCall

    operator, _ = make_staff(runtime)
    opened = phone_free_ticket(runtime)
    now = utcnow()
    with transaction(runtime.sessions) as session:
        session.add(
            PhoneCall(
                at=now,
                operator_id=operator,
                phone="0812345678",
                caller_name="สมชาย",
                question="ส่งข้อมูลไม่ได้",
                outcome="follow-up",
                ticket_id=opened,
            )
        )
        session.add(
            CallBack(
                ticket_id=opened,
                requested_by=operator,
                requested_at=now + timedelta(seconds=1),
                text="โทรบอกวิธีรีเซ็ต",
                done_by=operator,
                done_at=now + timedelta(seconds=2),
                note="โทรแล้ว ใช้ได้",
            )
        )
    sign_in_as(client, runtime, operator, "password")
    timeline = page(client, opened).split('id="timeline"')[1]
    order = [timeline.find(s) for s in ("สายโทรเข้า", "0812345678 สมชาย", "ต้องโทรกลับ", "โทรกลับแล้ว")]
    assert -1 not in order and order == sorted(order)
    assert "โทรแล้ว ใช้ได้" in timeline


def test_the_countdown_is_to_the_next_escalation(runtime, client):
    operator, _ = make_staff(runtime)
    make_coordinator(runtime, "province", SURAT)  # the ticket starts at the province
    opened = phone_free_ticket(runtime)
    sign_in_as(client, runtime, operator, "password")
    shown = page(client, opened)
    created = ticket_row(runtime, opened).created_at
    deadline = created + runtime.timings.region_after
    assert f'data-deadline="{deadline.isoformat()}"' in shown, re.findall(
        "data-deadline=.{40}", shown
    )
    assert "ส่งต่อถึงระดับภาค" in shown
    # Four minutes left: amber.
    with transaction(runtime.sessions) as session:
        ticket = session.get(Ticket, opened)
        ticket.created_at = utcnow() - runtime.timings.region_after + timedelta(minutes=4)
    assert re.search(r'id="sla" class="sla amber"', page(client, opened))


def test_next_deadline_follows_the_sweeps_rules():
    t = Timings()
    created = utcnow()

    def at(**fields):
        values = {
            "state": "new",
            "level": "province",
            "created_at": created,
            "claimed_at": None,
            "last_reply_at": None,
            "reminded_at": None,
            **fields,
        }
        return next_deadline(Ticket(**values), t)

    assert (at().at, at().what) == (created + t.region_after, "region")
    assert (at(level="region").at, at(level="region").what) == (
        created + t.central_after,
        "central",
    )
    assert at(level="central") is None
    claimed = created + timedelta(minutes=5)
    assert at(state="claimed", claimed_at=claimed).at == claimed + t.remind_after
    assert at(state="claimed", claimed_at=claimed, last_reply_at=claimed) is None
    assert at(state="claimed", claimed_at=claimed, reminded_at=claimed) is None
    assert at(state="waiting", claimed_at=claimed) is None
    assert at(state="resolved") is None and at(state="closed") is None
    # Region after central (odd settings): the sweep sends it straight to central.
    odd = Timings(region_after=timedelta(hours=2), central_after=timedelta(hours=1))
    assert next_deadline(Ticket(state="new", level="province", created_at=created), odd).what == (
        "central"
    )


# -- internal notes -------------------------------------------------------------------------------


def test_internal_notes_are_shown_to_staff_and_never_sent(runtime, bot, sim, client):
    _, second = two_coordinators(runtime)
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")
    before_volunteer = len(sim_messages(sim[1].url, VOLUNTEER))
    before_outbox = outbox_count(runtime)
    sign_in_as(client, runtime, second)  # not the claimer: notes are for everyone who sees it

    response = post(client, opened.id, "note", {"text": "อาสาสมัครคนนี้เคยแจ้งเรื่องเดียวกัน"})

    assert response.status_code == 303
    assert outbox_count(runtime) == before_outbox
    assert len(sim_messages(sim[1].url, VOLUNTEER)) == before_volunteer
    with runtime.sessions() as session:
        note = session.scalars(select(TicketMessage).where(TicketMessage.internal)).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.note")).one()
    assert note.text == "อาสาสมัครคนนี้เคยแจ้งเรื่องเดียวกัน" and note.sender == f"coordinator:{second}"
    assert (entry.actor, entry.via) == (f"coordinator:{second}", "console")
    assert "อาสาสมัครคนนี้เคยแจ้งเรื่องเดียวกัน" in page(client, opened.id)
    assert post(client, opened.id, "note", {"text": "  "}).status_code == 409


# -- strict ownership -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data"),
    [("reply", {"text": "ข้อความที่ไม่ควรถึง"}), ("resolve", {"resolution": "ไม่ควรปิดได้"}),
     ("close", {"reason": "ไม่ควรปิดได้"}), ("escalate", {})],
)  # fmt: skip
def test_only_the_claimer_acts_others_get_a_take_over(runtime, bot, sim, client, action, data):
    two_coordinators(runtime)
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")
    operator, _ = make_staff(runtime)
    sign_in_as(client, runtime, operator, "password")
    before = outbox_count(runtime)

    response = post(client, opened.id, action, data)

    assert response.status_code == 409
    assert "นางจังหวัด" in refusal(response) and "รับช่วงต่อ" in refusal(response)
    assert "/take-over" in response.get_data(as_text=True)
    assert outbox_count(runtime) == before
    after = ticket_row(runtime, opened.id)
    assert (after.state, after.level) == (TicketState.CLAIMED, "province")


def test_a_take_over_here_tells_the_claimer_in_line_and_then_the_reply_goes(
    runtime, bot, sim, client
):
    two_coordinators(runtime)
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")
    operator, _ = make_staff(runtime)
    sign_in_as(client, runtime, operator, "password")

    assert post(client, opened.id, "take-over").status_code == 303

    assert "รับช่วงต่อโดย คุณoperator" in texts(sim, PROVINCE)[-1]
    assert post(client, opened.id, "reply", {"text": "ส่วนกลางดูแลต่อครับ"}).status_code == 303
    assert texts(sim, VOLUNTEER)[-1].startswith(f"[{opened.number}] ส่วนกลางดูแลต่อครับ")


# -- resolve, escalate, close ---------------------------------------------------------------------


def test_the_claimer_resolves_and_the_volunteer_is_asked_to_rate(runtime, bot, sim, client):
    first, _ = two_coordinators(runtime)
    opened = report(runtime, sim)
    sign_in_as(client, runtime, first)
    post(client, opened.id, "claim")
    assert post(client, opened.id, "resolve", {"resolution": "รีเซ็ตให้แล้ว"}).status_code == 303
    rating = sim_messages(sim[1].url, VOLUNTEER)[-1]
    assert "รีเซ็ตให้แล้ว" in rating["text"] and len(rating["quickReply"]["items"]) == 5
    assert ticket_row(runtime, opened.id).state == TicketState.RESOLVED


def test_escalating_here_sends_the_card_up_in_line(runtime, bot, sim, client):
    first, _ = two_coordinators(runtime)
    link(runtime, REGION, "region", region="ภาคใต้")
    opened = report(runtime, sim)
    sign_in_as(client, runtime, first)
    assert post(client, opened.id, "escalate").status_code == 303
    assert ticket_row(runtime, opened.id).level == "region"
    assert [m for m in sim_messages(sim[1].url, REGION) if m["type"] == "flex"]


def test_closing_tells_the_volunteer_and_a_closed_ticket_refuses_every_change(
    runtime, bot, sim, client
):
    first, second = two_coordinators(runtime)
    opened = report(runtime, sim)
    target = report(runtime, sim, user=VOLUNTEER_2)
    sign_in_as(client, runtime, first)

    assert post(client, opened.id, "close", {"reason": "แจ้งซ้ำทางโทรศัพท์แล้ว"}).status_code == 303

    assert "ปิดแล้ว" in texts(sim, VOLUNTEER)[-1] and "แจ้งซ้ำทางโทรศัพท์แล้ว" in texts(sim, VOLUNTEER)[-1]
    closed = ticket_row(runtime, opened.id)
    assert closed.state == TicketState.CLOSED and closed.closed_at is not None
    before = outbox_count(runtime)
    for action, data in (
        ("claim", {}),
        ("take-over", {}),
        ("reply", {"text": "x"}),
        ("resolve", {"resolution": "x"}),
        ("escalate", {}),
        ("close", {"reason": "x"}),
        ("reassign", {"person": str(second)}),
        ("merge", {"into": target.number}),
    ):
        response = post(client, opened.id, action, data)
        assert response.status_code == 409, action
        assert "ปิดแล้ว" in refusal(response), action
    assert outbox_count(runtime) == before
    assert ticket_row(runtime, opened.id).state == TicketState.CLOSED
    assert "เรื่องนี้ปิดแล้ว" in page(client, opened.id)


# -- reassigning ------------------------------------------------------------------------------------


def test_reassigning_tells_the_old_and_the_new_claimer(runtime, bot, sim, client):
    _, second = two_coordinators(runtime)
    opened = report(runtime, sim)
    tap(sim, PROVINCE, f"action=claim&t={opened.id}")
    operator, _ = make_staff(runtime)
    sign_in_as(client, runtime, operator, "password")
    assert f'<option value="{second}">' in page(client, opened.id)

    response = post(client, opened.id, "reassign", {"person": str(second)})

    assert response.status_code == 303
    assert ticket_row(runtime, opened.id).claimed_by == second
    assert "ให้ นายสอง ดูแลแทน" in texts(sim, PROVINCE)[-1]
    handed = sim_messages(sim[1].url, PROVINCE_2)[-1]
    assert "มอบหมายเรื่อง" in handed["text"] and opened.number in handed["text"]
    assert handed["quickReply"]["items"][0]["action"]["data"] == f"action=reply&t={opened.id}"
    assert "นายสอง" in texts(sim, VOLUNTEER)[-1]
    # The new claimer answers in LINE; the old one cannot.
    tap(sim, PROVINCE_2, f"action=reply&t={opened.id}")
    sim_send(sim[1].url, user=PROVINCE_2, text="รับเรื่องต่อแล้วครับ")
    assert texts(sim, VOLUNTEER)[-1].startswith(f"[{opened.number}] รับเรื่องต่อแล้วครับ")
    with runtime.sessions() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "ticket.reassign")
        ).one()
    assert entry.actor == f"coordinator:{operator}" and "นายสอง" in entry.detail


def test_reassigning_only_to_active_staff_who_may_see_the_ticket(runtime, client):
    operator, _ = make_staff(runtime)
    elsewhere = make_coordinator(runtime, "province", "เชียงใหม่", name="คนเชียงใหม่")
    gone = make_coordinator(runtime, "province", SURAT, name="คนที่ลาออก")
    with transaction(runtime.sessions) as session:
        session.get(Coordinator, gone).active = False
    opened = phone_free_ticket(runtime)
    sign_in_as(client, runtime, operator, "password")
    shown = page(client, opened)
    assert "คนเชียงใหม่" not in shown and "คนที่ลาออก" not in shown
    for person in (elsewhere, gone, 999999):
        response = post(client, opened, "reassign", {"person": str(person)})
        assert response.status_code == 409 and "มอบหมายให้ท่านนี้ไม่ได้" in refusal(response)
    assert ticket_row(runtime, opened).claimed_by is None


# -- merging a duplicate -----------------------------------------------------------------------------


def test_a_duplicate_merges_into_another_ticket(runtime, bot, sim, client):
    first, _ = two_coordinators(runtime)
    target = report(runtime, sim)
    duplicate = report(runtime, sim, user=VOLUNTEER_2)
    sim_send(sim[1].url, user=VOLUNTEER_2, text="รายละเอียดเพิ่มเติมของเรื่องซ้ำ")
    sign_in_as(client, runtime, first)

    response = post(client, duplicate.id, "merge", {"into": target.number})

    assert response.status_code == 303
    merged = ticket_row(runtime, duplicate.id)
    assert (merged.state, merged.merged_into) == (TicketState.CLOSED, target.id)
    said = texts(sim, VOLUNTEER_2)[-1]
    assert duplicate.number in said and target.number in said and "รวม" in said
    # Its messages stay with it; both pages say what happened.
    with runtime.sessions() as session:
        kept = [m.text for m in service.messages(session, duplicate.id)]
    assert "รายละเอียดเพิ่มเติมของเรื่องซ้ำ" in kept
    assert f"รวมเรื่อง {duplicate.number} เข้ามา" in page(client, target.id)
    assert f'href="/console/tickets/{duplicate.id}"' in page(client, target.id)
    assert f"รวมเข้ากับเรื่อง {target.number}" in page(client, duplicate.id)


def test_merging_into_itself_a_closed_or_an_unseen_ticket_is_refused(runtime, client):
    coordinator = make_coordinator(runtime, "province", SURAT)
    one = phone_free_ticket(runtime)
    two = phone_free_ticket(runtime, user=VOLUNTEER_2)
    elsewhere = phone_free_ticket(runtime, "เชียงใหม่", user="U" + "f1" * 16)
    sign_in_as(client, runtime, coordinator)
    assert "ตัวเอง" in refusal(post(client, one, "merge", {"into": str(one)}))
    # Another area's ticket as the target: the same words as no ticket at all.
    assert "ไม่พบเรื่อง" in refusal(post(client, one, "merge", {"into": str(elsewhere)}))
    assert "ไม่พบเรื่อง" in refusal(post(client, one, "merge", {"into": "BMN-999999"}))
    assert "เลขที่เรื่อง" in refusal(post(client, one, "merge", {"into": "ไม่ใช่เลข"}))
    with transaction(runtime.sessions) as session:
        desk.close(session, actor_of(session.get(Coordinator, coordinator), "cli"), two, "ทดสอบ")
    assert "ปิดแล้ว" in refusal(post(client, one, "merge", {"into": str(two)}))
    assert ticket_row(runtime, one).state == TicketState.NEW


@pytest.mark.parametrize(
    "meanwhile",
    [
        "UPDATE tickets SET state = 'closed' WHERE id = {target}",
        "UPDATE tickets SET state = 'claimed' WHERE id = {duplicate}",
    ],
)
def test_the_merge_is_decided_by_one_conditional_update(runtime, meanwhile):
    """Another writer changes a ticket between the merge's reads and its UPDATE: the UPDATE
    itself refuses (the same on SQLite, where rows are not locked, and PostgreSQL)."""
    coordinator = make_coordinator(runtime, "province", SURAT)
    target = phone_free_ticket(runtime)
    duplicate = phone_free_ticket(runtime, user=VOLUNTEER_2)
    sql = meanwhile.format(target=target, duplicate=duplicate)
    fired: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not fired and statement.startswith("UPDATE tickets") and "merged_into" in statement:
            fired.append(statement)
            cursor.execute(sql)

    event.listen(runtime.engine, "before_cursor_execute", before)
    try:
        with (
            pytest.raises(TicketError, match="เพิ่งมีการเปลี่ยนแปลง"),
            transaction(runtime.sessions) as session,
        ):
            who = actor_of(session.get(Coordinator, coordinator), "console")
            desk.merge(session, who, duplicate, target)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", before)
    assert fired
    assert ticket_row(runtime, duplicate).merged_into is None


# -- another area's ticket: 404 everywhere ------------------------------------------------------------


ACTIONS = [
    ("claim", {}),
    ("take-over", {}),
    ("reply", {"text": "x"}),
    ("note", {"text": "x"}),
    ("escalate", {}),
    ("resolve", {"resolution": "x"}),
    ("close", {"reason": "x"}),
    ("reassign", {"person": "1"}),
    ("merge", {"into": "1"}),
    ("presence", {"typing": "1"}),
]


def test_another_areas_ticket_is_404_on_the_page_every_action_and_its_images(runtime, client):
    mine = phone_free_ticket(runtime)
    with transaction(runtime.sessions) as session:
        image = service.attach_image(session, session.get(Ticket, mine), PNG, "image/png")
        image_id = image.id
    outsider = make_coordinator(runtime, "province", "เชียงใหม่")
    sign_in_as(client, runtime, outsider)
    base = f"/console/tickets/{mine}"
    for path in ("", "/timeline", f"/images/{image_id}", "/canned?key=faq:forgot-password"):
        assert client.get(base + path).status_code == 404, path
    for action, data in ACTIONS:
        assert post(client, mine, action, data).status_code == 404, action
        assert post(client, mine, action, {}).status_code == 404, f"{action} (empty form)"
    with runtime.sessions() as session:
        logged = select(AuditEntry.action).where(AuditEntry.target == f"ticket:{mine}")
        assert session.scalars(logged).all() == ["ticket.open"]
        assert session.scalar(select(func.count()).select_from(TicketPresence)) == 0
    assert ticket_row(runtime, mine).state == TicketState.NEW
    # An image of another ticket through a visible ticket's URL is 404 too.
    own = phone_free_ticket(runtime, "เชียงใหม่", user="U" + "f2" * 16)
    assert client.get(f"/console/tickets/{own}/images/{image_id}").status_code == 404
    assert client.get(f"/console/tickets/{own}").status_code == 200
    assert client.get(f"/console/tickets/{2**40}").status_code == 404


def test_a_signed_out_visitor_is_sent_to_sign_in(runtime, client):
    opened = phone_free_ticket(runtime)
    response = client.get(f"/console/tickets/{opened}")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_an_action_without_its_csrf_token_is_refused(runtime, client):
    operator, _ = make_staff(runtime)
    opened = phone_free_ticket(runtime)
    sign_in_as(client, runtime, operator, "password")
    for action, data in ACTIONS:
        response = client.post(f"/console/tickets/{opened}/{action}", data=data)
        assert response.status_code == 400, action
    assert ticket_row(runtime, opened).state == TicketState.NEW


# -- collision notice ---------------------------------------------------------------------------------


def test_others_on_the_ticket_and_their_typing_are_shown(runtime, app, client):
    operator, _ = make_staff(runtime)
    coordinator = make_coordinator(runtime, "province", SURAT, name="นางจังหวัด")
    opened = phone_free_ticket(runtime)
    sign_in_as(client, runtime, operator, "password")
    other = app.test_client()
    sign_in_as(other, runtime, coordinator)
    shown = page(client, opened)
    assert f'hx-post="/console/tickets/{opened}/presence"' in shown and "every 3s" in shown

    assert "นางจังหวัด" not in post(client, opened, "presence").get_data(as_text=True)
    seen = post(other, opened, "presence", {"typing": "0"}).get_data(as_text=True)
    assert "คุณoperator" in seen and "กำลังพิมพ์" not in seen
    post(other, opened, "presence", {"typing": "1"})
    seen = post(client, opened, "presence").get_data(as_text=True)
    assert "นางจังหวัด" in seen and "กำลังพิมพ์" in seen
    assert "นางจังหวัด" in page(client, opened)
    # Ten seconds without a poll: gone.
    with transaction(runtime.sessions) as session:
        row = session.get(TicketPresence, (opened, coordinator))
        row.seen_at = utcnow() - timedelta(seconds=11)
    assert "นางจังหวัด" not in post(client, opened, "presence").get_data(as_text=True)


def test_presence_is_one_conditional_upsert_that_never_goes_back(runtime):
    coordinator = make_coordinator(runtime, "province", SURAT)
    opened = phone_free_ticket(runtime)
    now = utcnow()
    with transaction(runtime.sessions) as session:
        who = actor_of(session.get(Coordinator, coordinator), "console")
        desk.here(session, who, opened, typing=True, now=now)
        desk.here(session, who, opened, now=now + timedelta(seconds=3))
        desk.here(session, who, opened, typing=True, now=now + timedelta(seconds=1))  # late
    with runtime.sessions() as session:
        row = session.scalars(select(TicketPresence)).one()
    assert row.seen_at == now + timedelta(seconds=3) and row.typing_at == now


# -- canned replies -------------------------------------------------------------------------------------


def test_canned_replies_insert_faq_answers_and_saved_snippets(runtime, client, app):
    operator, _ = make_staff(runtime)
    opened = phone_free_ticket(runtime)
    sign_in_as(client, runtime, operator, "password")
    token = csrf_token(client, "/console/snippets")
    response = client.post(
        "/console/snippets",
        data={"csrf_token": token, "title": "ขอภาพหน้าจอ", "text": "รบกวนส่งภาพหน้าจอที่ขึ้น error ครับ"},
    )
    assert response.status_code == 303
    with runtime.sessions() as session:
        snippet = session.scalars(select(Snippet)).one()
    post(client, opened, "claim")
    shown = page(client, opened)
    assert f'value="snippet:{snippet.id}"' in shown and 'value="faq:forgot-password"' in shown
    assert 'value="faq:greeting"' not in shown  # small talk is not an answer

    canned = f"/console/tickets/{opened}/canned?key="
    assert client.get(canned + f"snippet:{snippet.id}").json == {"text": snippet.text}
    assert client.get(canned + "faq:forgot-password").json["text"] == (
        runtime.faq.entries["forgot-password"].answer
    )
    # An answer about coordinators names the ticket's province.
    assert SURAT in client.get(canned + "faq:coordinator-province").json["text"]
    for key in ("faq:greeting", "faq:nope", "snippet:999", "snippet:x", "other"):
        assert client.get(canned + key).status_code == 400, key

    # Coordinators use snippets but do not keep the list.
    coordinator = make_coordinator(runtime, "province", SURAT)
    other = app.test_client()
    sign_in_as(other, runtime, coordinator)
    assert "เพิ่มข้อความ" not in other.get("/console/snippets").get_data(as_text=True)
    token = csrf_token(other, "/console/snippets")
    refused = other.post("/console/snippets", data={"csrf_token": token, "title": "a", "text": "b"})
    assert refused.status_code == 403
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Snippet)) == 1


# -- polling keeps no idle session alive ------------------------------------------------------------


def test_the_pages_own_polling_does_not_keep_an_idle_session_alive(runtime, client):
    from ticketing.models import ConsoleSession

    operator, _ = make_staff(runtime)
    opened = phone_free_ticket(runtime)
    sign_in_as(client, runtime, operator, "password")
    token = csrf_token(client, "/console/queue")
    poll = {"HX-Request": "true", "X-CSRFToken": token}

    def last_seen(minutes_ago: float | None = None):
        with transaction(runtime.sessions) as session:
            row = session.scalars(select(ConsoleSession)).one()
            if minutes_ago is not None:
                row.last_seen_at = utcnow() - timedelta(minutes=minutes_ago)
            return row.last_seen_at

    before = last_seen(5)
    assert client.post(f"/console/tickets/{opened}/presence", headers=poll).status_code == 200
    assert client.get(f"/console/tickets/{opened}/timeline", headers=poll).status_code == 200
    assert last_seen() == before
    page(client, opened)  # the person, not the page
    assert last_seen() > before

    last_seen(runtime.settings.console_idle_s / 60 + 1)
    response = client.post(f"/console/tickets/{opened}/presence", headers=poll)
    assert response.status_code == 401 and "/console/login" in response.headers["HX-Redirect"]
