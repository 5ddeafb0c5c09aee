"""Browser tests: Debian's Chromium (/usr/bin/chromium) driven by pytest-playwright against the
bot on a real port, with the LINE simulator posting its webhooks there and the worker inline.

Never a browser download: the browser is the system package (`.ci/run` installs it with the
Thai fonts). Without it these tests skip, except under CI, where they fail. Run them alone with
`pytest -m browser` (or `pytest tests/browser`); phone-sized screenshots go to var/screenshots/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select

from bot.app import build_app
from bot.config import VAR_DIR
from bot.db import transaction
from bot.runtime import Runtime
from simulator.login_state import LoginChannel
from simulator.state import SimState
from tests.conftest import Served, sim_send
from tests.console_support import sign_in_as
from ticketing import service
from ticketing.models import Ticket

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 1,
    "locale": "th-TH",
    "timezone_id": "Asia/Bangkok",
}
LOGIN_CHANNEL_ID, LOGIN_CHANNEL_SECRET = "1656000077", "77aa88bb99cc00dd11ee22ff33aa44bb"
SCREENSHOTS = VAR_DIR / "screenshots"
COOKIE = "smartbmn_console"
HERE = Path(__file__).resolve().parent


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> None:
    """Skip (fail under CI, which installs it) when Debian's Chromium is not there."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install chromium fonts-thai-tlwg (.ci/run does)"
    if in_ci():
        pytest.fail(f"CI runs the browser tests: {message}", pytrace=False)
    pytest.skip(message)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Chromium (/usr/bin/chromium); run alone with -m browser"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test here, and every tests/*_browser.py, is marked `browser`; they run after the
    rest of the suite, these last: the browser and Playwright's driver they start once stay up
    until the end, and a test that starts its own Playwright (sync_playwright()) must not run
    while they do."""
    here = [item for item in items if HERE in Path(str(item.path)).parents]
    elsewhere = [
        item
        for item in items
        if item not in here and Path(str(item.path)).name.endswith("_browser.py")
    ]
    for item in here + elsewhere:
        item.add_marker(pytest.mark.browser)
    others = [item for item in items if item not in here and item not in elsewhere]
    items[:] = others + elsewhere + here


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], browser_name: str
) -> dict[str, Any]:
    """pytest-playwright's launch options with the system Chromium: Playwright's own browser
    download is never used (nor needed)."""
    if browser_name != "chromium":
        raise pytest.UsageError("the browser tests drive Chromium only (/usr/bin/chromium)")
    require_chromium()
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": LAUNCH_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A phone: 390×844, Thai locale, Bangkok time."""
    return {**browser_context_args, **PHONE}


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(15_000)  # a stuck page fails the test instead of hanging it
    return page


@dataclass
class Stack:
    """The bot on a real port (console included), the simulator sending it LINE webhooks."""

    runtime: Runtime
    app: Any
    bot: Served
    sim: SimState
    sim_url: str

    @property
    def url(self) -> str:
        return self.bot.url

    def console(self, path: str = "") -> str:
        return f"{self.bot.url}/console{path}"


@pytest.fixture
def stack(runtime: Runtime, app, bot: Served, sim) -> Iterator[Stack]:
    require_chromium()
    yield Stack(runtime, app, bot, sim[0], sim[1].url)


@pytest.fixture
def line_stack(runtime: Runtime, sim) -> Iterator[Stack]:
    """The stack with LINE Login set up: the simulator is LINE Login too (its sign-in page,
    token and ID token), and knows the console's callback."""
    require_chromium()
    runtime.settings = replace(
        runtime.settings,
        line_login_channel_id=LOGIN_CHANNEL_ID,
        line_login_channel_secret=LOGIN_CHANNEL_SECRET,
    )
    app = build_app(runtime=runtime)
    served = Served(app)
    state, sim_served = sim
    state.webhook_url = served.url + "/callback"
    state.login.add_channel(
        LoginChannel(
            LOGIN_CHANNEL_ID, LOGIN_CHANNEL_SECRET, [served.url + "/console/auth/line/callback"]
        )
    )
    yield Stack(runtime, app, served, state, sim_served.url)
    served.close()


def shot(page: Page, name: str) -> Path:
    """A PNG of the whole page under var/screenshots/ (kept as a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def report_problem(
    stack: Stack,
    user: str = "U" + "a1" * 16,
    province: str = "สุราษฎร์ธานี",
    text: str = "แจ้งปัญหา ส่งข้อมูลไม่ได้ ขึ้น error ตลอด",
) -> Ticket:
    """A volunteer in `province` reports a problem in LINE (through the simulator and the
    webhook); the ticket it opened."""
    with transaction(stack.runtime.sessions) as session:
        service.set_province(session, user, province, stack.runtime.faq.directory)
    sim_send(stack.sim_url, user=user, text=text)
    with stack.runtime.sessions() as session:
        ticket = session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    assert ticket is not None, "the report opened no ticket"
    return ticket


def session_cookie(stack: Stack, person_id: int) -> dict[str, Any]:
    """The console's signed session cookie for a live session of `person_id` (as LINE Login
    would leave it), ready for `context.add_cookies`."""
    client = stack.app.test_client()
    sign_in_as(client, stack.runtime, person_id)
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return {
        "name": COOKIE,
        "value": cookie.value,
        "domain": "127.0.0.1",
        "path": "/",
        "httpOnly": True,
        "secure": True,
        "sameSite": "Lax",
    }
