"""The ticket page in a real browser (Debian's chromium through Playwright, phone-sized):
a claim and a reply made here reach the volunteer's simulator chat, a canned answer goes into
the reply box, another person's typing shows within seconds, and the CSP lets all of it run.
A screenshot is kept under var/screenshots/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from tests.conftest import wait_until
from tests.console_support import make_staff, sign_in_as
from tests.test_authority import VOLUNTEER, report, texts
from tests.test_tickets import link

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENS = PROJECT_ROOT / "var" / "screenshots"
PROVINCE = "U" + "b9" * 16

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


def signed_in_page(browser, app, runtime, base_url: str, person_id: int, problems: list[str]):
    """A phone-sized page whose cookie is a live console session for `person_id`."""
    client = app.test_client()
    sign_in_as(client, runtime, person_id)
    client.get("/console/queue")  # the cookie now holds the session (and its CSRF secret)
    cookie = client.get_cookie("smartbmn_console")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": base_url, "httpOnly": True}]
    )
    page = context.new_page()
    # Script errors and CSP refusals are console errors; failed loads are checked by URL.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return page


def test_claim_and_reply_in_the_browser_reach_the_volunteer_in_line(
    runtime, app, bot, sim, browser
):
    link(runtime, PROVINCE, "province", "สุราษฎร์ธานี", name="นางจังหวัด")
    opened = report(runtime, sim)
    operator, _ = make_staff(runtime)
    with runtime.sessions() as session:
        from ticketing.service import coordinator_for

        coordinator = coordinator_for(session, PROVINCE).id
    problems: list[str] = []
    page = signed_in_page(browser, app, runtime, bot.url, operator, problems)
    colleague = signed_in_page(browser, app, runtime, bot.url, coordinator, problems)
    url = f"{bot.url}/console/tickets/{opened.id}"

    page.goto(url)
    assert page.locator("#sla").inner_text().startswith("ส่งต่อถึงระดับภาค")
    colleague.goto(url)
    # The primary action is under the thumb: the bottom of the phone's screen.
    box = page.locator("#primary").bounding_box()
    assert box is not None and box["y"] + box["height"] > 844 - 80 and box["height"] >= 44
    page.locator("#primary").click()  # รับเรื่อง
    wait_until(
        lambda: any("คุณoperator" in t and opened.number in t for t in texts(sim, VOLUNTEER)),
        what="the claim in the volunteer's chat",
    )
    assert page.locator("#claimer").inner_text() == "คุณoperator"

    # A canned FAQ answer goes into the reply box; the colleague sees the typing.
    page.locator("#canned").select_option("faq:forgot-password")
    wait_until(lambda: "ลืมรหัสผ่าน" in page.locator("#reply-text").input_value(), 5)
    page.locator("#reply-text").press_sequentially(" ลองดูครับ")
    colleague.locator("#presence .typing").wait_for(timeout=8000)
    assert "คุณoperator" in colleague.locator("#presence").inner_text()

    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "ticket-390.png"))
    page.locator("#reply form button[type=submit]").click()
    wait_until(
        lambda: any(t.startswith(f"[{opened.number}] กรณีลืมรหัสผ่าน") for t in texts(sim, VOLUNTEER)),
        what="the reply in the volunteer's chat",
    )
    assert "ลองดูครับ" in texts(sim, VOLUNTEER)[-1]
    # The colleague's open page shows the reply without a reload.
    colleague.locator("#timeline .entry-reply").wait_for(timeout=8000)
    assert problems == []
