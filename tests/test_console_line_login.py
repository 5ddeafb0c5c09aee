"""Coordinators sign in to the console with LINE Login, through the simulator's LINE Login and
Authlib: the LINE account must be the coordinator's linked one, and active."""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests

from bot.app import build_app
from bot.db import transaction
from simulator.login_state import LoginChannel
from tests.conftest import Served
from tests.console_support import make_coordinator, make_staff
from tests.test_sim_login import sign_in
from ticketing import staff
from ticketing.authority import actor_of
from ticketing.models import ConsoleSession, Coordinator

CHANNEL_ID, CHANNEL_SECRET = "1656000009", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
COORDINATOR = "U" + "7" * 32


@pytest.fixture
def console(runtime, sim):
    """The bot on a real port with LINE Login set up against the simulator. Cookies not Secure
    here: `requests` keeps Secure cookies for https only (Chromium sends them to 127.0.0.1;
    the browser tests check that)."""
    runtime.settings = replace(
        runtime.settings,
        line_login_channel_id=CHANNEL_ID,
        line_login_channel_secret=CHANNEL_SECRET,
        console_cookie_secure=False,
    )
    served = Served(build_app(runtime=runtime))
    sim[0].login.add_channel(
        LoginChannel(CHANNEL_ID, CHANNEL_SECRET, [served.url + "/console/auth/line/callback"])
    )
    sim[0].ensure_user(COORDINATOR, "นางสาวประสาน สุราษฎร์")
    yield served
    served.close()


def line_sign_in(
    console, user: str = COORDINATOR, action: str = "allow"
) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    page = browser.get(console.url + "/console/login", timeout=10)
    assert 'id="line-login"' in page.text
    start = browser.get(
        console.url + "/console/auth/line?next=/console/queue", allow_redirects=False, timeout=10
    )
    assert start.status_code == 302
    back = sign_in(browser, start.headers["Location"], user, action)
    return browser, browser.get(back, allow_redirects=False, timeout=10)


def test_a_linked_coordinator_signs_in_with_line(console, runtime):
    person = make_coordinator(runtime, "province", "สุราษฎร์ธานี", line_user_id=COORDINATOR)
    browser, answer = line_sign_in(console)
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/queue"
    queue = browser.get(console.url + "/console/queue", allow_redirects=False, timeout=10)
    assert queue.status_code == 200 and "คิวงาน" in queue.text
    with runtime.sessions() as session:
        [row] = session.query(ConsoleSession).all()
    assert (row.person_id, row.method) == (person, "line")


def test_a_line_account_that_is_no_coordinator_is_told_so(console, runtime):
    browser, answer = line_sign_in(console)
    assert answer.status_code == 403 and "ยังไม่ได้ลงทะเบียนเป็นผู้ประสานงาน" in answer.text
    assert (
        browser.get(console.url + "/console/queue", allow_redirects=False, timeout=10).status_code
        == 302
    )


def test_a_deactivated_coordinator_cannot_sign_in_with_line(console, runtime):
    person = make_coordinator(runtime, "province", "สุราษฎร์ธานี", line_user_id=COORDINATOR)
    admin, _ = make_staff(runtime, "admin")
    with transaction(runtime.sessions) as session:
        staff.deactivate(session, actor_of(session.get(Coordinator, admin), "cli"), person)
    _, answer = line_sign_in(console)
    assert answer.status_code == 403


def test_cancelling_on_line_comes_back_refused(console, runtime):
    make_coordinator(runtime, "province", "สุราษฎร์ธานี", line_user_id=COORDINATOR)
    _, answer = line_sign_in(console, action="cancel")
    assert answer.status_code == 401 and "ยกเลิก" in answer.text


def test_a_callback_this_browser_did_not_start_is_refused(console, runtime):
    """Login CSRF: the state in the callback was issued to another browser."""
    make_coordinator(runtime, "province", "สุราษฎร์ธานี", line_user_id=COORDINATOR)
    attacker = requests.Session()
    start = attacker.get(console.url + "/console/auth/line", allow_redirects=False, timeout=10)
    back = sign_in(attacker, start.headers["Location"], COORDINATOR)
    victim = requests.Session()
    answer = victim.get(back, allow_redirects=False, timeout=10)
    assert answer.status_code == 401
    assert (
        victim.get(console.url + "/console/queue", allow_redirects=False, timeout=10).status_code
        == 302
    )


def test_without_a_line_login_channel_the_page_offers_passwords_only(client):
    page = client.get("/console/login").get_data(as_text=True)
    assert 'id="line-login"' not in page
    assert client.get("/console/auth/line").status_code == 404
