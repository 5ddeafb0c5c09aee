"""The console's calls page: who may use it, the form, the caller's history as the number is
typed, call-backs marked done — authority decided in `ticketing.calls` on every route."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.db import transaction
from tests.conftest import sim_messages
from tests.console_support import csrf_token, make_coordinator, make_staff, sign_in_as
from tests.test_calls import PHONE, SURAT, count, get
from tests.test_tickets import OTHER_PROVINCE_COORD, PROVINCE_COORD, link
from ticketing import service
from ticketing.authority import line_actor
from ticketing.models import CallBack, PhoneCall, Ticket

FORM = {
    "phone": "081-234-5678",
    "caller_name": "สมชาย",
    "province": "สุราษ",
    "category": "upload-failed",
    "question": "ส่งข้อมูลไม่ได้",
}


def as_operator(client, runtime, role="operator"):
    person_id, _ = make_staff(runtime, role)
    sign_in_as(client, runtime, person_id, "password")
    return person_id


def post(client, path, data, token_from="/console/calls", **kw):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from), **data}, **kw)


def test_a_coordinator_without_log_call_gets_403_and_no_link(client, runtime):
    person = make_coordinator(runtime, "province", SURAT, line_user_id=PROVINCE_COORD)
    sign_in_as(client, runtime, person)
    assert client.get("/console/calls").status_code == 403
    token = csrf_token(client, "/console/queue")
    refused = client.post(
        "/console/calls", data={"csrf_token": token, **FORM, "outcome": "answered"}
    )
    assert refused.status_code == 403 and count(runtime, PhoneCall) == 0
    queue = client.get("/console/queue").get_data(as_text=True)
    assert 'href="/console/calls"' not in queue and "/console/call-backs" in queue


def test_the_page_asks_sign_in_first(client):
    response = client.get("/console/calls")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_the_form_offers_provinces_and_thai_categories(client, runtime):
    as_operator(client, runtime)
    page = client.get("/console/calls").get_data(as_text=True)
    assert 'href="/console/calls"' in page  # the nav link, for those who may log calls
    options = re.findall(
        r'<option value="([^"]+)">', page.split('id="provinces"')[1].split("</datalist>")[0]
    )
    assert len(options) == len(runtime.faq.directory.provinces) == 76
    assert '<option value="upload-failed">ส่งข้อมูลไม่ได้</option>' in page
    assert 'value="greeting"' not in page
    assert "ตอบทางโทรศัพท์แล้ว" in page and "ต้องติดตามต่อ (เปิดเรื่อง)" in page


def test_answered_and_follow_up_from_the_form(client, runtime, sim):
    link(runtime, PROVINCE_COORD, "province", SURAT)
    as_operator(client, runtime)
    answered = post(client, "/console/calls", {**FORM, "outcome": "answered"})
    assert answered.status_code == 302 and answered.headers["Location"] == "/console/calls"
    assert "บันทึกการโทรจาก 081-234-5678 แล้ว" in client.get("/console/calls").get_data(as_text=True)
    assert count(runtime, Ticket) == 0

    follow_up = post(client, "/console/calls", {**FORM, "outcome": "follow-up"})
    with runtime.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
    assert follow_up.status_code == 302
    assert follow_up.headers["Location"] == f"/console/tickets/{ticket.id}"
    assert (ticket.channel, ticket.phone, ticket.province) == ("phone", PHONE, SURAT)
    with client.session_transaction() as cookie:
        flashed = [m for _, m in cookie.get("_flashes", [])]
    assert flashed == [f"เปิดเรื่อง {ticket.number} จากการโทรแล้ว (ส่งถึงผู้ประสานงานแล้ว)"]
    (card,) = [m for m in sim_messages(sim[1].url, PROVINCE_COORD) if m["type"] == "flex"]
    assert ticket.number in card["altText"] and "(โทรศัพท์)" in card["altText"]


def test_a_refused_call_keeps_what_was_typed(client, runtime):
    as_operator(client, runtime)
    response = post(client, "/console/calls", {**FORM, "phone": "0812", "outcome": "follow-up"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "เบอร์โทรไม่ถูกต้อง" in page
    assert 'value="สมชาย"' in page and "ส่งข้อมูลไม่ได้</textarea>" in page
    assert count(runtime, PhoneCall) == 0


def test_the_form_needs_its_csrf_token(client, runtime):
    as_operator(client, runtime)
    response = client.post("/console/calls", data={**FORM, "outcome": "answered"})
    assert response.status_code == 400 and count(runtime, PhoneCall) == 0


def test_typing_the_number_shows_the_callers_history_in_the_area(client, runtime):
    as_operator(client, runtime)
    post(client, "/console/calls", {**FORM, "outcome": "follow-up"})
    post(client, "/console/calls", {**FORM, "question": "GPS ไม่ขึ้น", "outcome": "answered"})
    htmx = {"HX-Request": "true"}
    found = client.get("/console/calls/history?phone=%2B66812345678", headers=htmx)
    text = found.get_data(as_text=True)
    assert found.status_code == 200 and "BMN-000001" in text and "GPS ไม่ขึ้น" in text
    partial = client.get("/console/calls/history?phone=0812", headers=htmx).get_data(as_text=True)
    assert "BMN-" not in partial

    other = make_coordinator(runtime, "province", "สงขลา", line_user_id=OTHER_PROVINCE_COORD)
    sign_in_as(client, runtime, other)
    text = client.get(f"/console/calls/history?phone={PHONE}", headers=htmx).get_data(as_text=True)
    assert "BMN-000001" not in text and "GPS ไม่ขึ้น" not in text


def test_a_call_back_is_marked_done_by_someone_of_its_area_only(client, runtime):
    link(runtime, PROVINCE_COORD, "province", SURAT)
    as_operator(client, runtime)
    post(client, "/console/calls", {**FORM, "outcome": "follow-up"})
    with transaction(runtime.sessions) as session:
        coordinator = line_actor(session, PROVINCE_COORD)
        service.claim(session, coordinator, 1)
        service.reply(session, coordinator, 1, "ให้ลบแอปแล้วติดตั้งใหม่")
    with runtime.sessions() as session:
        call_back_id = session.scalars(select(CallBack.id)).one()
    done_path = f"/console/call-backs/{call_back_id}/done"

    other = make_coordinator(runtime, "province", "สงขลา", line_user_id=OTHER_PROVINCE_COORD)
    sign_in_as(client, runtime, other)
    assert "ให้ลบแอป" not in client.get("/console/call-backs").get_data(as_text=True)
    refused = post(client, done_path, {"note": "โทรแล้ว"}, "/console/call-backs")
    assert refused.status_code == 404
    missing = post(client, "/console/call-backs/999/done", {"note": "x"}, "/console/call-backs")
    assert missing.status_code == 404

    sign_in_as(client, runtime, coordinator.person_id)
    listed = client.get("/console/call-backs").get_data(as_text=True)
    assert "ให้ลบแอปแล้วติดตั้งใหม่" in listed and "081-234-5678" in listed
    htmx = {"HX-Request": "true"}
    empty = post(client, done_path, {"note": " "}, "/console/call-backs", headers=htmx)
    assert empty.status_code == 200 and "กรุณาบันทึก" in empty.get_data(as_text=True)
    done = post(client, done_path, {"note": "แจ้งแล้ว"}, "/console/call-backs", headers=htmx)
    fragment = done.get_data(as_text=True)
    assert done.status_code == 200 and "โทรแล้ว" in fragment and "แจ้งแล้ว" in fragment
    assert f'id="call-back-{call_back_id}"' in fragment and "<form" not in fragment
    assert get(runtime, CallBack, call_back_id).note == "แจ้งแล้ว"
    assert "ไม่มีงานโทรกลับค้าง" in client.get("/console/call-backs").get_data(as_text=True)
    again = post(client, done_path, {"note": "x", "back": "//evil.example"}, "/console/call-backs")
    assert again.status_code == 302 and again.headers["Location"] == "/console/call-backs"
