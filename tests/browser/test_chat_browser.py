"""The FAQ as a volunteer meets it: the simulator's chat page in a real browser (Chromium,
phone-sized, Thai), the bot answering through the webhook. A story typed the way volunteers
write, a request for a household's own data, and a way of asking with no subject, asked what the trouble is (issue 11)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from faq.service import ASK_WHAT, REDIRECT_INTRO
from tests.browser.conftest import Stack, shot

pytestmark = pytest.mark.browser

USER = "U" + "c3" * 16


def ask(page: Page, text: str) -> None:
    page.locator("#text").fill(text)
    page.locator("#text").press("Enter")


def bot_bubbles(page: Page):
    return page.locator(".row:not(.me) .bubble")


def test_a_volunteer_asks_as_they_type_and_the_bot_answers_declines_and_redirects(
    stack: Stack, page: Page
) -> None:
    page.goto(f"{stack.sim_url}/?user={USER}")
    ask(page, "ผมเป็นอาสาที่ ต.ท่าข้าม ครับ กรอกข้อมูลไปได้ครึ่งหลังแล้วแอปก็ปิดตัวเองไปเฉยๆ ทำไงดีครับ")
    first_step = stack.runtime.faq.answer("app-crash").text.splitlines()[1]  # the app-crash answer
    expect(bot_bubbles(page).last).to_contain_text(first_step, timeout=10_000)
    answers = bot_bubbles(page).count()

    ask(page, "รายได้ครัวเรือนของแม่ผมในระบบบันทึกไว้เท่าไหร่ครับ")
    expect(bot_bubbles(page).nth(answers)).to_contain_text(REDIRECT_INTRO, timeout=10_000)
    expect(bot_bubbles(page).nth(answers)).to_contain_text("ข้อมูลส่วนบุคคล")
    answers = bot_bubbles(page).count()

    ask(page, "ทำยังไงดีครับ")
    expect(bot_bubbles(page).nth(answers)).to_contain_text(ASK_WHAT.splitlines()[0], timeout=10_000)
    shot(page, "chat-faq-story-redirect-decline")
