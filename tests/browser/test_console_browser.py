"""The console in a real browser (Chromium, phone-sized, Thai): signing in with LINE (through the
simulator's LINE Login), with a password and with a second factor, CSRF, the sign-in limit, a
deactivated person's open session, a LINE ticket reaching the queue page while it is open,
another province's ticket by URL, and a logged call whose ticket escalates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bot.db import transaction
from bot.ticket_sweep import sweep_tickets
from tests.browser.conftest import COOKIE, Stack, report_problem, session_cookie, shot
from tests.conftest import sim_messages, wait_until
from tests.console_support import PASSWORD, make_coordinator, make_staff, totp_now
from tests.test_tickets import link
from ticketing import staff
from ticketing.authority import actor_of
from ticketing.models import Coordinator, Ticket

pytestmark = pytest.mark.browser

WRONG = "not the password at all"


def fill_sign_in(page: Page, username: str, password: str, code: str = "") -> None:
    page.get_by_label("ชื่อผู้ใช้").fill(username)
    page.get_by_label("รหัสผ่าน", exact=False).first.fill(password)
    if code:
        page.get_by_label("รหัสยืนยัน", exact=False).fill(code)


def submit(page: Page) -> int:
    """Press the sign-in button; the status of the page it leads to."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/console/login")
    ) as posted:
        page.get_by_role("button", name="เข้าสู่ระบบ").click()
    page.wait_for_load_state()
    return posted.value.status


def test_an_operator_signs_in_with_a_password(stack: Stack, page: Page) -> None:
    ticket = report_problem(stack)
    make_staff(stack.runtime, "operator", "somsri")

    page.goto(stack.console("/queue"))
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/queue$"))
    expect(page.get_by_role("heading", name="เข้าสู่ระบบ Call Desk")).to_be_visible()

    fill_sign_in(page, "somsri", PASSWORD)
    assert submit(page) == 302
    expect(page).to_have_url(stack.console("/queue"))
    expect(page.get_by_role("heading", name="คิวงาน")).to_be_visible()
    expect(page.get_by_text("คุณoperator · เจ้าหน้าที่ Call Desk")).to_be_visible()
    expect(page.get_by_role("cell", name=ticket.number)).to_be_visible()
    shot(page, "console-queue")
    # Chromium keeps the Secure cookie on http://127.0.0.1 (a secure context), and scripts
    # cannot read it.
    (cookie,) = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert COOKIE not in page.evaluate("document.cookie")


def test_a_coordinator_signs_in_with_line_through_the_simulator(line_stack: Stack, page: Page):
    line_user = "U" + "7c" * 16
    make_coordinator(
        line_stack.runtime, "province", "สุราษฎร์ธานี", line_user_id=line_user, name="สมชาย"
    )
    line_stack.sim.ensure_user(line_user, "สมชาย ใจดี")

    page.goto(line_stack.console("/queue"))
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/queue$"))
    shot(page, "console-login")
    page.get_by_role("link", name="เข้าสู่ระบบด้วย LINE").click()
    expect(page).to_have_url(re.compile(re.escape(line_stack.sim_url) + "/oauth2/v2.1/authorize"))
    page.get_by_label("สมชาย ใจดี").check()
    shot(page, "line-login-simulator")
    page.get_by_role("button", name="อนุญาต").click()

    expect(page).to_have_url(line_stack.console("/queue"))
    expect(page.get_by_text("สมชาย · ผู้ประสานงาน")).to_be_visible()
    (cookie,) = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert cookie["secure"]


def test_a_line_account_that_is_no_coordinator_is_turned_away(line_stack: Stack, page: Page):
    line_stack.sim.ensure_user("U" + "8d" * 16, "ผู้ไม่ได้ลงทะเบียน")
    page.goto(line_stack.console("/login"))
    page.get_by_role("link", name="เข้าสู่ระบบด้วย LINE").click()
    page.get_by_label("ผู้ไม่ได้ลงทะเบียน").check()
    with page.expect_response(lambda r: "/console/auth/line/callback" in r.url) as back:
        page.get_by_role("button", name="อนุญาต").click()
    assert back.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("ยังไม่ได้ลงทะเบียนเป็นผู้ประสานงาน")
    page.goto(line_stack.console("/queue"))
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_an_admin_needs_the_code_from_the_authenticator_app(stack: Stack, page: Page) -> None:
    _, secret = make_staff(stack.runtime, "admin", "boss")
    page.goto(stack.console("/login"))

    fill_sign_in(page, "boss", PASSWORD)  # no code
    assert submit(page) == 401
    expect(page.get_by_role("alert")).to_have_text(staff.SIGN_IN_REFUSED)
    expect(page.get_by_label("ชื่อผู้ใช้")).to_have_value("boss")

    fill_sign_in(page, "boss", PASSWORD, totp_now(secret))
    assert submit(page) == 302
    expect(page).to_have_url(stack.console("/queue"))
    expect(page.get_by_text("คุณadmin · ผู้ดูแลระบบ")).to_be_visible()


def test_a_form_without_its_csrf_token_is_refused(stack: Stack, page: Page) -> None:
    make_staff(stack.runtime, "operator", "somsri")
    page.goto(stack.console("/login"))
    # What a forged form from elsewhere lacks. (The page's CSP forbids inline script; the
    # test drives the page from outside, which it does not govern.)
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    fill_sign_in(page, "somsri", PASSWORD)
    assert submit(page) == 400
    expect(page.get_by_role("heading")).to_contain_text("แบบฟอร์มหมดอายุหรือไม่ถูกต้อง")
    page.goto(stack.console("/queue"))
    expect(page).to_have_url(re.compile(r"/console/login"))  # not signed in


def test_sign_in_is_limited_after_repeated_failures(stack: Stack, page: Page) -> None:
    make_staff(stack.runtime, "operator", "somsri")
    page.goto(stack.console("/login"))
    for _ in range(5):
        fill_sign_in(page, "somsri", WRONG)
        assert submit(page) == 401
        expect(page.get_by_role("alert")).to_have_text(staff.SIGN_IN_REFUSED)
    # Now even the right password waits.
    fill_sign_in(page, "somsri", PASSWORD)
    assert submit(page) == 429
    expect(page.get_by_role("heading")).to_have_text("ลองหลายครั้งเกินไป กรุณารอสักครู่แล้วลองใหม่")
    shot(page, "console-sign-in-limited")
    page.goto(stack.console("/queue"))
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_a_deactivated_coordinators_open_session_is_refused_on_the_next_click(
    stack: Stack, page: Page
) -> None:
    admin_id, _ = make_staff(stack.runtime, "admin", "boss")
    coordinator = make_coordinator(stack.runtime, "province", "สุราษฎร์ธานี", name="สมชาย")
    page.context.add_cookies([session_cookie(stack, coordinator)])
    page.goto(stack.console("/queue"))
    expect(page).to_have_url(stack.console("/queue"))
    expect(page.get_by_text("สมชาย · ผู้ประสานงาน")).to_be_visible()

    with transaction(stack.runtime.sessions) as session:
        admin = actor_of(session.get(Coordinator, admin_id), "console", "10.0.0.1")
        staff.deactivate(session, admin, coordinator)

    page.get_by_role("link", name="คิวงาน").click()
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/queue$"))
    expect(page.get_by_role("heading", name="เข้าสู่ระบบ Call Desk")).to_be_visible()
    expect(page.get_by_text("สมชาย")).to_have_count(0)


def test_a_line_ticket_shows_in_the_queue_within_3_s(stack: Stack, page: Page) -> None:
    operator, _ = make_staff(stack.runtime, "operator", "somsri")
    page.context.add_cookies([session_cookie(stack, operator)])
    page.goto(stack.console("/queue"))
    expect(page.get_by_text("ไม่มีเรื่องค้าง")).to_be_visible()

    ticket = report_problem(stack)  # in LINE, while the page stays open
    expect(page.get_by_text(ticket.number)).to_be_visible(timeout=3000)
    shot(page, "console-queue-new-ticket")


def test_another_provinces_ticket_url_is_404_for_a_province_coordinator(
    stack: Stack, page: Page
) -> None:
    inside = report_problem(stack, user="U" + "b1" * 16, province="สุราษฎร์ธานี")
    outside = report_problem(stack, user="U" + "c1" * 16, province="เชียงใหม่")
    coordinator = make_coordinator(stack.runtime, "province", "สุราษฎร์ธานี", name="สมหญิง")
    page.context.add_cookies([session_cookie(stack, coordinator)])

    mine = page.goto(stack.console(f"/tickets/{inside.id}"))
    assert mine is not None and mine.status == 200
    expect(page.get_by_text(inside.number).first).to_be_visible()
    theirs = page.goto(stack.console(f"/tickets/{outside.id}"))
    assert theirs is not None and theirs.status == 404
    expect(page.get_by_role("heading", name="ไม่พบหน้านี้")).to_be_visible()
    expect(page.get_by_text(outside.number)).to_have_count(0)
    image = page.goto(stack.console(f"/tickets/{outside.id}/images/1"))
    assert image is not None and image.status == 404
    shot(page, "console-other-province-404")


def test_a_logged_call_opens_a_ticket_that_escalates(stack: Stack, page: Page) -> None:
    """An operator logs a call needing follow-up; nobody takes the ticket at province, so the
    sweep sends it to the region, whose coordinator is told in LINE — as for a LINE ticket."""
    operator, _ = make_staff(stack.runtime, "operator", "somsri")
    region_line = "U" + "d1" * 16
    link(stack.runtime, "U" + "e1" * 16, "province", "สุราษฎร์ธานี")
    link(stack.runtime, region_line, "region", region="ภาคใต้")
    page.context.add_cookies([session_cookie(stack, operator)])
    page.goto(stack.console("/calls"))
    page.fill("#phone", "081-234-5678")
    page.fill("#caller_name", "สมชาย ใจดี")
    page.fill("#province", "สุราษฎร์ธานี")
    page.select_option("#category", "upload-failed")
    page.fill("#question", "ส่งข้อมูลไม่ได้ ขึ้น error ทุกครั้ง")
    page.click("#follow-up")
    page.wait_for_url("**/console/tickets/*")
    with stack.runtime.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
    assert (ticket.channel, ticket.level) == ("phone", "province")

    sweep_tickets(stack.runtime, now=ticket.created_at + timedelta(minutes=31))
    page.reload()
    expect(page.get_by_text("ระดับภาค").first).to_be_visible()
    with stack.runtime.sessions() as session:
        assert session.get(Ticket, ticket.id).level == "region"
    cards = wait_until(
        lambda: [m for m in sim_messages(stack.sim_url, region_line) if ticket.number in str(m)],
        what="the region coordinator's card in LINE",
    )
    assert cards
    shot(page, "console-phone-ticket-escalated")


def test_an_admin_invites_a_coordinator_and_reads_the_audit_log(stack: Stack, page: Page) -> None:
    """People and audit pages as a phone shows them (screenshots of the main pages)."""
    admin, _ = make_staff(stack.runtime, "admin", "boss")
    page.context.add_cookies([session_cookie(stack, admin)])
    page.goto(stack.console("/queue"))
    page.locator("#nav-people").click()
    expect(page.get_by_role("heading", name="บุคลากร")).to_be_visible()
    shot(page, "console-people")
    page.goto(stack.console("/people/invite"))
    page.locator("input[name=name]").fill("นางสาวใหม่ ประสานงาน")
    page.locator("select[name=level]").select_option("province")
    page.locator("input[name=province]").fill("สงขลา")
    page.get_by_role("button", name="ออกรหัสลงทะเบียน").click()
    expect(page.locator("img.qr")).to_be_visible()
    expect(page.get_by_text("ลงทะเบียนผู้ประสานงาน", exact=False).first).to_be_visible()
    shot(page, "console-invite")
    page.locator("#nav-audit").click()
    expect(page.get_by_role("heading", name="บันทึกการใช้งาน")).to_be_visible()
    log = page.locator("table.log")
    expect(log.get_by_text("ออกรหัสลงทะเบียน").first).to_be_visible()
    expect(log.get_by_text("นางสาวใหม่ ประสานงาน", exact=False).first).to_be_visible()
    shot(page, "console-audit")
