"""Console sign-in: passwords with argon2id, TOTP for admins, sessions that end at once,
CSRF on every form, sign-in attempts limited, security headers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db import transaction
from common.tables import utcnow
from tests.console_support import (
    PASSWORD,
    csrf_token,
    make_coordinator,
    make_staff,
    post_form,
    sign_in_as,
    totp_now,
)
from ticketing import staff
from ticketing.authority import actor_of
from ticketing.models import AuditEntry, ConsoleSession, Coordinator, StaffLogin


def sign_in(client, username: str, password: str = PASSWORD, code: str = ""):
    return post_form(
        client, "/console/login", {"username": username, "password": password, "code": code}
    )


def test_the_console_asks_for_sign_in_first(client):
    response = client.get("/console/queue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")


def test_an_operator_signs_in_with_a_password_stored_as_argon2id(client, runtime):
    make_staff(runtime, "operator", "somsri")
    with runtime.sessions() as session:
        stored = session.scalars(select(StaffLogin)).one().password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    response = sign_in(client, "Somsri")
    assert response.status_code == 302 and response.headers["Location"] == "/console/queue"
    assert "คิวงาน" in client.get("/console/queue").get_data(as_text=True)


def test_a_wrong_password_or_unknown_name_gets_one_message(client, runtime):
    make_staff(runtime, "operator", "somsri")
    wrong = sign_in(client, "somsri", "not the password at all")
    unknown = sign_in(client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert staff.SIGN_IN_REFUSED in wrong.get_data(as_text=True)
    assert staff.SIGN_IN_REFUSED in unknown.get_data(as_text=True)
    assert client.get("/console/queue").status_code == 302


def test_an_admin_needs_the_totp_code(client, runtime):
    _, secret = make_staff(runtime, "admin", "boss")
    assert secret
    assert sign_in(client, "boss").status_code == 401
    assert (
        sign_in(
            client, "boss", code="000000" if totp_now(secret) != "000000" else "111111"
        ).status_code
        == 401
    )
    assert sign_in(client, "boss", code=totp_now(secret)).status_code == 302


def test_the_session_cookie_is_rotated_httponly_secure_and_samesite(client, runtime):
    make_staff(runtime, "operator", "somsri")
    client.get("/console/login")
    before = client.get_cookie("smartbmn_console").value
    response = sign_in(client, "somsri")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    assert client.get_cookie("smartbmn_console").value != before


def test_a_form_without_its_csrf_token_is_refused(client, runtime):
    make_staff(runtime, "operator", "somsri")
    response = client.post("/console/login", data={"username": "somsri", "password": PASSWORD})
    assert response.status_code == 400
    assert "แบบฟอร์มหมดอายุ" in response.get_data(as_text=True)


def test_sign_in_is_limited_per_account_after_repeated_failures(client, runtime):
    make_staff(runtime, "operator", "somsri")
    for _ in range(5):
        assert sign_in(client, "somsri", "wrong password!!").status_code == 401
    # Even the right password waits now; another account from the same address does not.
    assert sign_in(client, "somsri").status_code == 429
    make_staff(runtime, "operator", "other")
    assert sign_in(client, "other").status_code == 302


def test_sign_in_is_limited_per_address_across_accounts(client, runtime):
    for i in range(20):
        assert sign_in(client, f"guess{i}", "wrong password!!").status_code == 401
    assert sign_in(client, "guess99", "wrong password!!").status_code == 429


def test_a_deactivated_person_is_signed_out_at_once(client, runtime):
    admin_id, _ = make_staff(runtime, "admin", "boss")
    coordinator = make_coordinator(runtime, "province", "สุราษฎร์ธานี")
    sign_in_as(client, runtime, coordinator)
    assert client.get("/console/queue").status_code == 200
    with transaction(runtime.sessions) as session:
        admin = actor_of(session.get(Coordinator, admin_id), "console", "10.0.0.1")
        staff.deactivate(session, admin, coordinator)
    assert client.get("/console/queue").status_code == 302
    with runtime.sessions() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "person.deactivate")
        ).one()
    assert (entry.actor, entry.via, entry.address) == (
        f"coordinator:{admin_id}",
        "console",
        "10.0.0.1",
    )


def test_a_password_change_ends_every_session(client, runtime):
    person_id, _ = make_staff(runtime, "operator", "somsri")
    assert sign_in(client, "somsri").status_code == 302
    with transaction(runtime.sessions) as session:
        me = actor_of(session.get(Coordinator, person_id), "console")
        staff.change_password(session, me, person_id, "a brand new passphrase")
    assert client.get("/console/queue").status_code == 302
    assert sign_in(client, "somsri", "a brand new passphrase").status_code == 302


def test_an_idle_session_ends(client, runtime):
    person_id = make_coordinator(runtime, "region", region="ภาคใต้")
    sign_in_as(client, runtime, person_id)
    idle = timedelta(seconds=runtime.settings.console_idle_s + 60)
    with transaction(runtime.sessions) as session:
        row = session.scalars(select(ConsoleSession)).one()
        row.last_seen_at = utcnow() - idle
    assert client.get("/console/queue").status_code == 302
    with runtime.sessions() as session:
        assert session.scalars(select(ConsoleSession)).one().ended_at is not None


def test_sign_out_ends_the_session_server_side(client, runtime):
    make_staff(runtime, "operator", "somsri")
    sign_in(client, "somsri")
    stolen = client.get_cookie("smartbmn_console").value
    response = client.post(
        "/console/logout", data={"csrf_token": csrf_token(client, "/console/queue")}
    )
    assert response.status_code == 302
    client.set_cookie("smartbmn_console", stolen)
    assert client.get("/console/queue").status_code == 302


def test_console_pages_send_security_headers(client):
    response = client.get("/console/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data(as_text=True)
    assert "<script>" not in body and " style=" not in body and "onclick" not in body


def test_the_next_parameter_never_leaves_the_console(client, runtime):
    make_staff(runtime, "operator", "somsri")
    response = post_form(
        client,
        "/console/login",
        {"username": "somsri", "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert response.headers["Location"] == "/console/queue"
