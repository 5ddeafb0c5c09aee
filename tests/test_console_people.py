"""People in the console (admins only): the list and its filters, invites with a QR code that
work in LINE, deactivation (LINE and console end at once), moves between areas (tickets outside
the new area go back to the queue), and staff accounts (passwords, TOTP shown once)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import segno
from sqlalchemy import select

from bot.db import transaction
from tests.conftest import befriend, sim_messages, sim_send
from tests.console_support import (
    PASSWORD,
    csrf_token,
    make_coordinator,
    make_staff,
    sign_in_as,
    totp_now,
)
from ticketing import people, service
from ticketing.authority import actor_of
from ticketing.models import (
    AuditEntry,
    ConsoleSession,
    Coordinator,
    Ticket,
    TicketEvent,
    TicketState,
)

VOLUNTEER = "U" + "a7" * 16
SURAT = "U" + "b7" * 16  # a province coordinator in สุราษฎร์ธานี
SURAT_2 = "U" + "c7" * 16  # another one there
SONGKHLA = "U" + "d7" * 16
NEW_PHONE = "U" + "e7" * 16


def admin_client(app, runtime, username: str = "boss"):
    admin_id, _ = make_staff(runtime, "admin", username)
    client = app.test_client()
    sign_in_as(client, runtime, admin_id, method="password")
    return client, admin_id


def post(client, path: str, data: dict | None = None, token_from: str = "/console/queue"):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from), **(data or {})})


def person_row(runtime, person_id: int) -> Coordinator:
    with runtime.sessions() as session:
        return session.get(Coordinator, person_id)


def open_ticket(runtime, sim, province: str = "สุราษฎร์ธานี", user: str = VOLUNTEER) -> Ticket:
    with transaction(runtime.sessions) as session:
        service.set_province(session, user, province, runtime.faq.directory)
    sim_send(sim[1].url, user=user, text="แจ้งปัญหา ส่งข้อมูลไม่ได้ ขึ้น error ตลอด")
    with runtime.sessions() as session:
        return session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()


def cards(sim, user) -> list[str]:
    return [m["altText"] for m in sim_messages(sim[1].url, user) if m["type"] == "flex"]


def last_text(sim, user) -> str:
    texts = [m.get("text", "") for m in sim_messages(sim[1].url, user) if m["type"] == "text"]
    assert texts, f"nothing said to {user}"
    return texts[-1]


def linked(runtime, user: str, province: str = "สุราษฎร์ธานี", name: str = "นางจังหวัด") -> int:
    befriend(runtime.settings.line_api_base, user)
    return make_coordinator(runtime, "province", province, line_user_id=user, name=name)


# -- who may ------------------------------------------------------------------------------------


def people_and_audit_routes(app) -> list[tuple[str, str]]:
    """Every route of the two areas, as (method, path with a real person id placeholder)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ("console_people", "console_audit"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule.replace("<int:person_id>", "{pid}")))
    return sorted(found)


@pytest.mark.parametrize("role", ["operator", "coordinator"])
def test_only_admins_reach_people_and_audit_on_every_route(app, runtime, role):
    routes = people_and_audit_routes(app)
    assert len(routes) >= 12 and ("GET", "/console/audit") in routes
    assert ("POST", "/console/people/{pid}/deactivate") in routes
    target = make_coordinator(runtime, "province", "สงขลา", name="เป้าหมาย")
    if role == "operator":
        person_id, _ = make_staff(runtime, "operator", "desk")
    else:
        person_id = make_coordinator(runtime, "region", region="ภาคใต้", name="ภาค")
    client = app.test_client()
    sign_in_as(client, runtime, person_id)
    form = {
        "name": "ใหม่",
        "level": "province",
        "province": "สงขลา",
        "username": "newone",
        "role": "admin",
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    for method, path in routes:
        url = path.format(pid=target)
        response = client.get(url) if method == "GET" else post(client, url, form)
        assert response.status_code == 403, (method, url, response.status_code)
        assert "ไม่มีสิทธิ์" in response.get_data(as_text=True)
    # Nothing changed: no new person, the target still active, nobody audit-logged a change.
    with runtime.sessions() as session:
        assert session.get(Coordinator, target).active
        assert session.scalar(select(Coordinator).where(Coordinator.name == "ใหม่")) is None
        actions = set(session.scalars(select(AuditEntry.action)))
    assert actions <= {"person.create", "person.sign-in"}
    # The queue page shows neither link.
    page = client.get("/console/queue").get_data(as_text=True)
    assert "nav-people" not in page and "nav-audit" not in page


def test_admins_see_the_people_and_audit_links(app, runtime):
    client, _ = admin_client(app, runtime)
    page = client.get("/console/queue").get_data(as_text=True)
    assert 'id="nav-people"' in page and 'id="nav-audit"' in page


def test_signed_out_people_pages_go_to_sign_in(client):
    response = client.get("/console/people")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_a_demoted_admin_is_refused_on_their_next_request(app, runtime):
    client, admin_id = admin_client(app, runtime)
    assert client.get("/console/people").status_code == 200
    with transaction(runtime.sessions) as session:
        stale = actor_of(session.get(Coordinator, admin_id), "console")
        session.get(Coordinator, admin_id).role = "operator"
    with pytest.raises(people.Refused), runtime.sessions() as session:
        people.list_people(session, stale)  # the Actor still says admin; the database does not
    assert client.get("/console/people").status_code == 403


# -- the list -------------------------------------------------------------------------------------


def test_the_list_shows_area_link_activity_and_filters(app, runtime, bot, sim):
    client, _ = admin_client(app, runtime)
    surat = linked(runtime, SURAT, name="นางสุราษ")
    linked(runtime, SONGKHLA, "สงขลา", name="นายสงขลา")
    make_coordinator(runtime, "region", region="ภาคเหนือ", name="นายภาคเหนือ")
    with transaction(runtime.sessions) as session:
        service.invite_coordinator(session, "cli", runtime.faq.directory, "นางรอ", "central")
    open_ticket(runtime, sim)
    sim_send(sim[1].url, user=SURAT, postback="action=claim&t=1")

    page = client.get("/console/people").get_data(as_text=True)
    for name in ("นางสุราษ", "นายสงขลา", "นายภาคเหนือ", "นางรอ", "คุณadmin"):
        assert name in page
    assert "รอลงทะเบียน" in page  # the invited one has a code waiting
    row = re.search(r"นางสุราษ</a>.*?</tr>", page, re.S).group(0)
    assert "สุราษฎร์ธานี" in row and "เชื่อมแล้ว" in row and "2569" in row  # last action, BE
    assert re.search(r'data-label="เรื่องที่ถือ"><span>1<', row)

    def names(query: str) -> set[str]:
        body = client.get("/console/people?" + query).get_data(as_text=True)
        return set(re.findall(r'/console/people/\d+">([^<]+)</a>', body))

    assert names("province=สงขลา") == {"นายสงขลา"}
    assert names("level=region") == {"นายภาคเหนือ"}
    assert names("linked=no&level=central") == {"นางรอ", "คุณadmin"}
    assert "นางรอ" not in names("linked=yes")
    with transaction(runtime.sessions) as session:
        session.get(Coordinator, surat).active = False
    assert names("active=no") == {"นางสุราษ"}
    # Unknown filter values are ignored, never an error.
    assert client.get("/console/people?level=x'--&province=<b>&linked=maybe").status_code == 200


# -- invites ----------------------------------------------------------------------------------------


def test_an_invite_made_in_the_console_works_in_line_and_its_qr_opens_the_chat(
    app, runtime, bot, sim
):
    client, admin_id = admin_client(app, runtime)
    assert "ระดับ" in client.get("/console/people/invite").get_data(as_text=True)
    response = post(
        client,
        "/console/people/invite",
        {"name": "นางภัทรญา", "level": "province", "province": "สุราษ"},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    code = re.search(r'id="invite-code">([0-9A-F-]+)<', page).group(1)
    register = f"ลงทะเบียนผู้ประสานงาน {code}"
    assert register in page and "สุราษฎร์ธานี" in page and "2569" in page
    # The QR code is the deep link that opens a chat with @smartbmn, the command typed.
    link = "https://line.me/R/oaMessage/%40smartbmn/?" + quote(register, safe="")
    assert link.replace("&", "&amp;") in page or link in page
    qr = re.search(r'id="invite-qr" src="([^"]+)"', page).group(1)
    assert qr.startswith("data:image/svg+xml")
    assert qr == segno.make(link, error="m", micro=False).svg_data_uri(scale=5, border=2)
    assert " style=" not in page and "<script>" not in page

    sim_send(sim[1].url, user=SURAT, text=register)
    assert "ลงทะเบียนเรียบร้อย" in last_text(sim, SURAT)
    with runtime.sessions() as session:
        person = session.scalars(select(Coordinator).where(Coordinator.name == "นางภัทรญา")).one()
        assert (person.line_user_id, person.province) == (SURAT, "สุราษฎร์ธานี")
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "person.invite")
        ).one()
    assert (entry.actor, entry.via, entry.target) == (
        f"coordinator:{admin_id}",
        "console",
        f"person:{person.id}",
    )
    # The code was shown once: its hash is all that is kept.
    assert code not in client.get(f"/console/people/{person.id}").get_data(as_text=True)


def test_an_invite_for_an_unknown_area_is_refused_with_the_reason(app, runtime):
    client, _ = admin_client(app, runtime)
    response = post(
        client, "/console/people/invite", {"name": "ก", "level": "province", "province": "ปารีส"}
    )
    assert response.status_code == 400
    assert "ไม่พบจังหวัด" in response.get_data(as_text=True)
    response = post(client, "/console/people/invite", {"name": "ก", "level": "region"})
    assert response.status_code == 400 and "ไม่พบภาค" in response.get_data(as_text=True)
    with runtime.sessions() as session:
        assert session.scalar(select(Coordinator).where(Coordinator.name == "ก")) is None


def test_a_new_code_replaces_the_old_one_and_links_a_new_phone(app, runtime, bot, sim):
    client, _ = admin_client(app, runtime)
    with transaction(runtime.sessions) as session:
        person, old = service.invite(
            session, "cli", runtime.faq.directory, "นางเปลี่ยนเครื่อง", "region", region="ภาคใต้"
        )
        person_id = person.id
    page = post(client, f"/console/people/{person_id}/invite").get_data(as_text=True)
    code = re.search(r'id="invite-code">([0-9A-F-]+)<', page).group(1)
    sim_send(sim[1].url, user=NEW_PHONE, text=f"ลงทะเบียนผู้ประสานงาน {old}")
    assert "ไม่ถูกต้อง" in last_text(sim, NEW_PHONE)
    sim_send(sim[1].url, user=NEW_PHONE, text=f"ลงทะเบียนผู้ประสานงาน {code}")
    assert "ลงทะเบียนเรียบร้อย" in last_text(sim, NEW_PHONE)
    assert person_row(runtime, person_id).line_user_id == NEW_PHONE


# -- deactivation -----------------------------------------------------------------------------------


def test_deactivation_ends_line_actions_notices_and_console_at_once(app, runtime, bot, sim):
    client, _ = admin_client(app, runtime)
    surat = linked(runtime, SURAT, name="นางสุราษ")
    linked(runtime, SURAT_2, name="นายสุราษสอง")
    console = app.test_client()
    sign_in_as(console, runtime, surat)
    assert console.get("/console/queue").status_code == 200
    held = open_ticket(runtime, sim)
    sim_send(sim[1].url, user=SURAT, postback=f"action=claim&t={held.id}")
    assert "นางสุราษ" in last_text(sim, VOLUNTEER)

    response = post(client, f"/console/people/{surat}/deactivate")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ระงับการใช้งานแล้ว" in page and held.number in page

    # Console: the open session is refused on its next request.
    assert console.get("/console/queue").status_code == 302
    # The ticket they held is back in the queue at its level, and the colleague there has it.
    with runtime.sessions() as session:
        ticket = session.get(Ticket, held.id)
        assert (ticket.state, ticket.claimed_by) == (TicketState.NEW, None)
        notes = session.scalars(
            select(TicketEvent.note).where(TicketEvent.ticket_id == held.id)
        ).all()
    assert any("ปล่อยเรื่อง" in (n or "") for n in notes)
    assert any(held.number in alt for alt in cards(sim, SURAT_2)[1:])
    # LINE: a claim is refused, and a new ticket no longer reaches them.
    before = len(cards(sim, SURAT))
    sim_send(sim[1].url, user=SURAT, postback=f"action=claim&t={held.id}")
    assert "ไม่มีสิทธิ์" in last_text(sim, SURAT)
    assert person_row(runtime, surat).active is False
    with runtime.sessions() as session:
        assert session.get(Ticket, held.id).claimed_by is None
    second = open_ticket(runtime, sim, user="U" + "f7" * 16)
    assert len(cards(sim, SURAT)) == before
    assert any(second.number in alt for alt in cards(sim, SURAT_2))

    # Reactivated: they may act again (a new sign-in for the console).
    response = post(client, f"/console/people/{surat}/reactivate")
    assert "เปิดใช้งานอีกครั้งแล้ว" in client.get(response.headers["Location"]).get_data(as_text=True)
    sim_send(sim[1].url, user=SURAT, postback=f"action=claim&t={second.id}")
    with runtime.sessions() as session:
        assert session.get(Ticket, second.id).claimed_by == surat
    assert console.get("/console/queue").status_code == 302  # the old session stays ended


def test_a_deactivated_coordinators_unused_invite_stops_working(app, runtime, bot, sim):
    client, _ = admin_client(app, runtime)
    with transaction(runtime.sessions) as session:
        person, code = service.invite(session, "cli", runtime.faq.directory, "นางรอ", "central")
        person_id = person.id
    post(client, f"/console/people/{person_id}/deactivate")
    sim_send(sim[1].url, user=NEW_PHONE, text=f"ลงทะเบียนผู้ประสานงาน {code}")
    assert "ไม่ถูกต้อง" in last_text(sim, NEW_PHONE)
    assert person_row(runtime, person_id).line_user_id is None


def test_an_admin_cannot_deactivate_or_demote_themself(app, runtime):
    client, admin_id = admin_client(app, runtime)
    page = client.get(f"/console/people/{admin_id}").get_data(as_text=True)
    assert "ระงับการใช้งาน</button>" not in page and "เปลี่ยนบทบาท</button>" not in page
    assert post(client, f"/console/people/{admin_id}/deactivate").status_code == 403
    response = post(client, f"/console/people/{admin_id}/role", {"role": "operator"})
    assert response.status_code == 403
    row = person_row(runtime, admin_id)
    assert (row.active, row.role) == (True, "admin")
    assert client.get("/console/people").status_code == 200
    # The domain itself refuses, whichever page or command asks.
    with runtime.sessions() as session:
        me = actor_of(session.get(Coordinator, admin_id), "console")
        with pytest.raises(people.Refused, match="ของตนเอง"):
            people.set_role(session, me, admin_id, "operator")
        with pytest.raises(people.Refused, match="ของตนเอง"):
            people.deactivate(session, me, admin_id)


def test_another_person_id_that_does_not_exist_is_404(app, runtime):
    client, _ = admin_client(app, runtime)
    assert client.get("/console/people/999").status_code == 404
    assert post(client, "/console/people/999/deactivate").status_code == 404


# -- moving areas -----------------------------------------------------------------------------------


def test_a_move_keeps_tickets_inside_the_new_area_and_releases_the_rest(app, runtime, bot, sim):
    client, admin_id = admin_client(app, runtime)
    surat = linked(runtime, SURAT, name="นางสุราษ")
    linked(runtime, SURAT_2, name="นายสุราษสอง")
    held = open_ticket(runtime, sim)
    sim_send(sim[1].url, user=SURAT, postback=f"action=claim&t={held.id}")

    # To the southern region, which holds สุราษฎร์ธานี: the ticket stays theirs.
    response = post(client, f"/console/people/{surat}/move", {"level": "region", "region": "ภาคใต้"})
    assert "ย้ายพื้นที่แล้ว" in client.get(response.headers["Location"]).get_data(as_text=True)
    row = person_row(runtime, surat)
    assert (row.level, row.province, row.region) == ("region", None, "ภาคใต้")
    with runtime.sessions() as session:
        assert session.get(Ticket, held.id).claimed_by == surat

    # To a northern province: the ticket goes back to the queue at province level and the
    # colleague in สุราษฎร์ธานี gets it again in LINE.
    response = post(
        client, f"/console/people/{surat}/move", {"level": "province", "province": "เชียงใหม่"}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ย้ายพื้นที่แล้ว" in page and held.number in page
    with runtime.sessions() as session:
        ticket = session.get(Ticket, held.id)
        assert (ticket.state, ticket.claimed_by, ticket.level) == ("new", None, "province")
        moved = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "person.move").order_by(AuditEntry.id)
        ).all()
        released = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "ticket.release")
        ).one()
    assert [m.actor for m in moved] == [f"coordinator:{admin_id}"] * 2
    assert "เชียงใหม่" in moved[-1].detail and released.target == f"ticket:{held.id}"
    assert any(held.number in alt for alt in cards(sim, SURAT_2)[1:])
    # In LINE they now act in เชียงใหม่ only.
    sim_send(sim[1].url, user=SURAT, postback=f"action=claim&t={held.id}")
    assert "ไม่มีสิทธิ์" in last_text(sim, SURAT)
    chiang_mai = open_ticket(runtime, sim, province="เชียงใหม่", user="U" + "f7" * 16)
    assert any(chiang_mai.number in alt for alt in cards(sim, SURAT))


def test_a_move_to_an_unknown_area_or_of_central_staff_changes_nothing(app, runtime):
    client, _ = admin_client(app, runtime)
    surat = make_coordinator(runtime, "province", "สุราษฎร์ธานี")
    operator, _ = make_staff(runtime, "operator", "desk")
    response = post(
        client, f"/console/people/{surat}/move", {"level": "province", "province": "ปารีส"}
    )
    assert "ไม่พบจังหวัด" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert person_row(runtime, surat).province == "สุราษฎร์ธานี"
    response = post(
        client, f"/console/people/{operator}/move", {"level": "region", "region": "ภาคใต้"}
    )
    assert "ย้ายพื้นที่ไม่ได้" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert person_row(runtime, operator).level == "central"


# -- staff accounts -------------------------------------------------------------------------------


def sign_in(app, username: str, password: str = PASSWORD, code: str = ""):
    client = app.test_client()
    response = client.post(
        "/console/login",
        data={
            "csrf_token": csrf_token(client),
            "username": username,
            "password": password,
            "code": code,
        },
    )
    return client, response.status_code


def test_an_admin_creates_an_operator_and_an_admin_whose_totp_is_shown_once(app, runtime):
    client, _ = admin_client(app, runtime)
    assert "ชื่อผู้ใช้" in client.get("/console/people/staff/new").get_data(as_text=True)
    form = {"name": "นางโทรศัพท์", "username": "Phone1", "role": "operator"}
    response = post(
        client, "/console/people/staff", {**form, "password": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 303
    assert sign_in(app, "phone1")[1] == 302

    response = post(
        client,
        "/console/people/staff",
        {
            "name": "นายแอดมิน",
            "username": "admin2",
            "role": "admin",
            "password": PASSWORD,
            "password2": PASSWORD,
        },
    )
    page = response.get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert re.search(r'id="totp-qr" src="data:image/svg\+xml', page)
    assert "แสดงเพียงครั้งนี้" in page
    assert sign_in(app, "admin2")[1] == 401
    assert sign_in(app, "admin2", code=totp_now(secret))[1] == 302
    with runtime.sessions() as session:
        person_id = session.scalars(
            select(Coordinator.id).where(Coordinator.name == "นายแอดมิน")
        ).one()
    assert secret not in client.get(f"/console/people/{person_id}").get_data(as_text=True)


def test_a_bad_staff_form_says_why(app, runtime):
    client, _ = admin_client(app, runtime)
    base = {"name": "ก", "username": "abc", "role": "operator"}
    short = post(
        client, "/console/people/staff", {**base, "password": "short", "password2": "short"}
    )
    assert short.status_code == 400 and "อย่างน้อย 12" in short.get_data(as_text=True)
    differ = post(
        client, "/console/people/staff", {**base, "password": PASSWORD, "password2": PASSWORD + "x"}
    )
    assert differ.status_code == 400 and "ไม่ตรงกัน" in differ.get_data(as_text=True)
    taken = post(
        client,
        "/console/people/staff",
        {**base, "username": "boss", "password": PASSWORD, "password2": PASSWORD},
    )
    assert taken.status_code == 400 and "มีชื่อผู้ใช้ boss แล้ว" in taken.get_data(as_text=True)


def test_a_password_reset_ends_their_sessions(app, runtime):
    client, _ = admin_client(app, runtime)
    operator, _ = make_staff(runtime, "operator", "desk")
    theirs, status = sign_in(app, "desk")
    assert status == 302 and theirs.get("/console/queue").status_code == 200
    new = "another long passphrase"
    response = post(
        client, f"/console/people/{operator}/password", {"password": new, "password2": new}
    )
    assert "ตั้งรหัสผ่านใหม่แล้ว" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert theirs.get("/console/queue").status_code == 302
    assert sign_in(app, "desk")[1] == 401
    assert sign_in(app, "desk", new)[1] == 302


def test_a_new_totp_and_a_promotion_to_admin_show_the_secret_once(app, runtime):
    client, _ = admin_client(app, runtime)
    operator, _ = make_staff(runtime, "operator", "desk")
    theirs, _ = sign_in(app, "desk")
    page = post(client, f"/console/people/{operator}/role", {"role": "admin"}).get_data(
        as_text=True
    )
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert theirs.get("/console/queue").status_code == 302  # signs in again, as admin now
    assert sign_in(app, "desk")[1] == 401
    admin_again, status = sign_in(app, "desk", code=totp_now(secret))
    assert status == 302 and 'id="nav-people"' in admin_again.get("/console/queue").get_data(
        as_text=True
    )

    page = post(client, f"/console/people/{operator}/totp").get_data(as_text=True)
    fresh = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert fresh != secret
    assert admin_again.get("/console/queue").status_code == 302
    assert sign_in(app, "desk", code=totp_now(fresh))[1] == 302
    with runtime.sessions() as session:
        live = session.scalars(
            select(ConsoleSession).where(ConsoleSession.ended_at.is_(None))
        ).all()
    assert {s.person_id for s in live} >= {operator}


def test_a_deactivated_staff_account_cannot_sign_in(app, runtime):
    client, _ = admin_client(app, runtime)
    operator, _ = make_staff(runtime, "operator", "desk")
    post(client, f"/console/people/{operator}/deactivate")
    assert sign_in(app, "desk")[1] == 401
    page = client.get(f"/console/people/{operator}").get_data(as_text=True)
    assert "ถูกระงับ" in page and "เปิดใช้งานอีกครั้ง" in page
