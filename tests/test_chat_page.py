"""The simulator's chat page: both sides of a chat survive a reload, the display name belongs to
the simulated user, and a card's image keeps the card's aspect ratio.

The page itself is checked in headless Chromium when it is installed (Debian: `chromium`).
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest
import requests

from tests.conftest import TOKEN, sim_messages, sim_send

ALICE = "U" + "a1" * 16
BOB = "U" + "b2" * 16
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def conversation(sim_url: str, user: str, after: int = 0) -> list[dict]:
    response = requests.get(
        f"{sim_url}/_sim/conversation", params={"user": user, "after": after}, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()


def push(sim_url: str, user: str, messages: list[dict]) -> None:
    response = requests.post(
        f"{sim_url}/v2/bot/message/push",
        json={"to": user, "messages": messages},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 200, response.text


def test_the_conversation_has_both_sides_in_the_order_they_happened(runtime, bot, sim):
    url = sim[1].url
    sim_send(url, user=ALICE, type="follow")
    sim_send(url, user=ALICE, text="ลืมรหัสผ่านครับ")
    sim_send(url, user=ALICE, postback="action=noop", displayText="ให้คะแนน 5/5")
    sim_send(url, user=ALICE, image=PNG, mimetype="image/png")

    items = conversation(url, ALICE)
    mine = [i for i in items if i["from"] == "user"]
    assert [i["type"] for i in mine] == ["follow", "text", "text", "image"]
    assert [i.get("text") for i in mine[1:3]] == ["ลืมรหัสผ่านครับ", "ให้คะแนน 5/5"]
    assert requests.get(url + mine[3]["url"], timeout=5).content == base64.b64decode(PNG)
    # The bot's messages are the same ones /_sim/messages gives, placed among the user's.
    bots = [i for i in items if i["from"] == "bot"]
    assert [b["seq"] for b in bots] == [m["seq"] for m in sim_messages(url, ALICE)]
    seqs = [i["seq"] for i in items]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    greeting = next(b for b in bots if "สวัสดี" in b.get("text", ""))
    assert mine[0]["seq"] < greeting["seq"] < mine[1]["seq"]  # follow, greeting, question
    assert conversation(url, ALICE, after=seqs[-2]) == items[-1:]
    assert conversation(url, BOB) == []


def test_the_display_name_belongs_to_the_simulated_user(sim):
    url = sim[1].url
    for user, name in ((ALICE, "สมชาย"), (BOB, "สมหญิง")):
        assert requests.post(f"{url}/_sim/user", json={"user": user, "name": name}).ok
    names = {u: requests.get(f"{url}/_sim/user", params={"user": u}).json() for u in (ALICE, BOB)}
    assert {u: n["displayName"] for u, n in names.items()} == {ALICE: "สมชาย", BOB: "สมหญิง"}
    profile = requests.get(
        f"{url}/v2/bot/profile/{BOB}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert profile.json()["displayName"] == "สมหญิง"  # what the bot reads
    assert requests.get(f"{url}/_sim/user", params={"user": "U" + "0" * 32}).status_code == 404
    assert requests.post(f"{url}/_sim/user", json={"user": ALICE, "name": " "}).status_code == 400


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt chromium)")
def test_a_reloaded_page_shows_what_the_user_sent_and_the_cards_image_ratio(sim):
    url = sim[1].url
    sim_send_anyway(url, user=ALICE, text="ส่งข้อมูลไม่ได้ครับ")
    card = {
        "type": "bubble",
        "hero": {
            "type": "image",
            "url": "https://desk.example/tall.png",
            "size": "full",
            "aspectRatio": "4:3",
            "aspectMode": "fit",
        },
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "x"}]},
    }
    push(url, ALICE, [{"type": "flex", "altText": "เรื่องใหม่", "contents": card}])

    dom = rendered(f"{url}/?user={ALICE}")
    assert re.search(r'class="row me">.*?ส่งข้อมูลไม่ได้ครับ', dom), dom[-2000:]
    assert re.search(r'class="hero"[^>]*aspect-ratio: 4 / 3', dom), dom[-2000:]
    assert "object-fit: contain" in dom


def sim_send_anyway(url: str, **body) -> None:
    """Send as the user; the bot is not running here, so the webhook's failure is expected."""
    assert requests.post(f"{url}/_sim/send", json=body, timeout=10).status_code == 502


def rendered(url: str) -> str:
    """The page's DOM once its scripts have run (the first poll included)."""
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=390,844",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
