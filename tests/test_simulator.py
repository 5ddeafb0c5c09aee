"""The LINE simulator: validation, limits, retry keys, faults and the control API contract."""

from __future__ import annotations

import base64
import uuid

import pytest
import requests

from simulator.signing import sign
from simulator.state import Faults
from tests.conftest import SECRET, TOKEN, sim_messages, sim_send, wait_until

USER = "U" + "c" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}


IMAGE_OVER_HTTP = {
    "type": "image",
    "originalContentUrl": "http://desk.example/a.png",
    "previewImageUrl": "http://desk.example/a.png",
}


@pytest.fixture(autouse=True)
def known_user(sim):
    """LINE refuses a push to an account it does not know and skips unknown multicast
    recipients: USER and the made-up U000…0, U000…1, U000…2 are friends of the bot."""
    sim[0].register_users([USER, *(f"U{i:032x}" for i in range(3))])


def post(sim, path: str, body, headers=None):
    return requests.post(
        f"{sim[1].url}{path}", json=body, headers={**AUTH, **(headers or {})}, timeout=5
    )


def push_body(text: str = "สวัสดี") -> dict:
    return {"to": USER, "messages": [{"type": "text", "text": text}]}


def test_requests_without_the_channel_token_are_401(sim):
    response = requests.post(f"{sim[1].url}/v2/bot/message/push", json=push_body(), timeout=5)
    assert response.status_code == 401
    assert "message" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"to": USER, "messages": [{"type": "text"}]},  # text missing
        {"to": USER, "messages": [{"type": "bogus", "text": "x"}]},  # unknown type
        {"to": USER, "messages": []},  # no messages
        {"to": USER, "messages": [{"type": "text", "text": "x"}] * 6},  # over 5
        {"messages": [{"type": "text", "text": "x"}]},  # no recipient
        {"to": USER, "messages": [{"type": "text", "text": "ก" * 5001}]},  # over 5,000 units
        {"to": USER, "messages": [IMAGE_OVER_HTTP]},  # LINE fetches images over HTTPS only
    ],
)
def test_invalid_request_bodies_are_400_in_lines_error_shape(sim, body):
    response = post(sim, "/v2/bot/message/push", body)
    assert response.status_code == 400
    error = response.json()
    assert error["message"].startswith("The request body has")
    assert error["details"] and {"message", "property"} <= set(error["details"][0])
    assert sim_messages(sim[1].url, USER) == []


def test_https_and_loopback_image_urls_are_accepted(sim):
    local = {**IMAGE_OVER_HTTP, "originalContentUrl": "http://127.0.0.1:8000/a.png"}
    local["previewImageUrl"] = local["originalContentUrl"]
    secure = {**IMAGE_OVER_HTTP, "originalContentUrl": "https://desk.example/a.png"}
    secure["previewImageUrl"] = secure["originalContentUrl"]
    response = post(sim, "/v2/bot/message/push", {"to": USER, "messages": [local, secure]})
    assert response.status_code == 200, response.text
    assert [m["type"] for m in sim_messages(sim[1].url, USER)] == ["image", "image"]


def test_multicast_over_500_recipients_is_refused(sim):
    body = {"to": [f"U{i:032x}" for i in range(501)], "messages": [{"type": "text", "text": "x"}]}
    assert post(sim, "/v2/bot/message/multicast", body).status_code == 400


def test_multicast_delivers_once_per_distinct_recipient(sim):
    users = [f"U{i:032x}" for i in range(3)]
    body = {"to": [*users, users[0]], "messages": [{"type": "text", "text": "ประกาศ"}]}
    assert post(sim, "/v2/bot/message/multicast", body).status_code == 200
    assert [len(sim_messages(sim[1].url, u)) for u in users] == [1, 1, 1]


def test_over_limit_burst_gets_429(sim):
    sim[0].set_rate_limits({"push": (5, 1)})
    statuses = [post(sim, "/v2/bot/message/push", push_body()).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429] * 3
    assert len(sim_messages(sim[1].url, USER)) == 5


def test_broadcast_limit_is_60_per_hour(sim):
    body = {"messages": [{"type": "text", "text": "x"}]}
    statuses = [post(sim, "/v2/bot/message/broadcast", body).status_code for _ in range(61)]
    assert statuses.count(200) == 60 and statuses[-1] == 429


def test_retry_key_is_accepted_once_and_then_409_with_the_first_request_id(sim):
    key = str(uuid.uuid4())
    first = post(sim, "/v2/bot/message/push", push_body(), {"X-Line-Retry-Key": key})
    second = post(sim, "/v2/bot/message/push", push_body(), {"X-Line-Retry-Key": key})
    assert first.status_code == 200
    assert second.status_code == 409
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert len(sim_messages(sim[1].url, USER)) == 1


def test_retry_key_must_be_a_uuid(sim):
    response = post(sim, "/v2/bot/message/push", push_body(), {"X-Line-Retry-Key": "not-a-uuid"})
    assert response.status_code == 400


def test_reply_token_is_single_use(sim):
    token = sim[0].issue_reply_token(USER)
    body = {"replyToken": token, "messages": [{"type": "text", "text": "ตอบ"}]}
    assert post(sim, "/v2/bot/message/reply", body).status_code == 200
    again = post(sim, "/v2/bot/message/reply", body)
    assert again.status_code == 400 and again.json()["message"] == "Invalid reply token"


def test_injected_faults_error_rate_and_429_bursts(sim):
    sim[0].set_faults(Faults(error_rate=1.0))
    assert post(sim, "/v2/bot/message/push", push_body()).status_code == 500
    sim[0].set_faults(Faults(burst_429_every_s=100, burst_429_length_s=100))
    assert post(sim, "/v2/bot/message/push", push_body()).status_code == 429
    assert sim_messages(sim[1].url, USER) == []


def test_faults_can_be_set_through_the_control_api(sim):
    response = requests.post(
        f"{sim[1].url}/_sim/config", json={"faults": {"error_rate": 1.0}}, timeout=5
    )
    assert response.json()["faults"]["error_rate"] == 1.0
    assert post(sim, "/v2/bot/message/push", push_body()).status_code == 500


def test_monthly_quota_is_enforced_and_reported(sim):
    sim[0].monthly_quota = 2
    body = {"to": [f"U{i:032x}" for i in range(3)], "messages": [{"type": "text", "text": "x"}]}
    assert post(sim, "/v2/bot/message/multicast", body).status_code == 429
    quota = requests.get(f"{sim[1].url}/v2/bot/message/quota", headers=AUTH, timeout=5).json()
    used = requests.get(f"{sim[1].url}/v2/bot/message/quota/consumption", headers=AUTH, timeout=5)
    assert quota == {"type": "limited", "value": 2}
    assert used.json() == {"totalUsage": 0}


def test_stats_count_requests_by_endpoint_and_status(sim):
    post(sim, "/v2/bot/message/push", push_body())
    post(sim, "/v2/bot/message/push", {"to": USER, "messages": []})
    stats = requests.get(f"{sim[1].url}/_sim/stats", timeout=5).json()
    assert stats["requests"]["POST /v2/bot/message/push"] == {"200": 1, "400": 1}


# -- through the adapter -----------------------------------------------------------------------


def test_profile_content_quota_and_loading_through_the_adapter(runtime, sim):
    sim[0].ensure_user(USER, "สมหญิง")
    assert runtime.line.get_profile(USER)["displayName"] == "สมหญิง"
    sim[0].content["123"] = (b"\x89PNG fake", "image/png")
    assert runtime.line.get_content("123") == b"\x89PNG fake"
    assert runtime.line.quota()["type"] == "limited"
    assert runtime.line.quota_consumption() == 0
    runtime.line.show_loading(USER, 5)
    assert sim[0].stats["POST /v2/bot/chat/loading/start"] == {"202": 1}


def test_rich_menu_create_upload_default_and_link(runtime, sim):
    menu = {
        "size": {"width": 2500, "height": 843},
        "selected": True,
        "name": "เมนูหลัก",
        "chatBarText": "เมนู",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                "action": {"type": "message", "text": "แจ้งปัญหา"},
            }
        ],
    }
    menu_id = runtime.line.create_rich_menu(menu)
    runtime.line.upload_rich_menu_image(menu_id, b"\x89PNG\r\n\x1a\n")
    runtime.line.set_default_rich_menu(menu_id)
    runtime.line.link_rich_menu(USER, menu_id)
    assert sim[0].default_rich_menu == menu_id
    assert sim[0].user_rich_menus[USER] == menu_id


def test_broadcast_and_narrowcast_reach_current_followers_only(runtime, sim):
    followers = ["U" + "1" * 32, "U" + "2" * 32]
    for user in followers:
        sim[0].ensure_user(user)
    sim[0].ensure_user("U" + "3" * 32).following = False
    runtime.line.broadcast([{"type": "text", "text": "ข่าว"}], str(uuid.uuid4()))
    result = runtime.line.narrowcast([{"type": "text", "text": "ข่าว 2"}], str(uuid.uuid4()))
    assert result.status == 202
    wait_until(lambda: runtime.line.narrowcast_progress(result.request_id)["phase"] == "succeeded")
    assert [len(sim_messages(sim[1].url, u)) for u in followers] == [2, 2]
    assert sim_messages(sim[1].url, "U" + "3" * 32) == []


# -- the control API drives the bot --------------------------------------------------------------


def test_sim_send_builds_signed_events_the_bot_accepts(runtime, bot, sim):
    url = sim[1].url
    sim_send(url, user=USER, type="follow", name="สมศรี")
    sim_send(url, user=USER, text="สวัสดีครับ")
    sim_send(url, user=USER, postback="action=unknown")
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    result = sim_send(url, user=USER, image=png, mimetype="image/png")
    message_id = result["event"]["message"]["id"]
    assert runtime.line.get_content(message_id).startswith(b"\x89PNG")
    unfollow = sim_send(url, user=USER, type="unfollow")
    assert "replyToken" not in unfollow["event"]
    texts = [m["text"] for m in sim_messages(url, USER)]
    # follow: greeting + "which province?"; text, postback, image: one answer each; unfollow none
    assert len(texts) == 5
    assert all(any("\u0e00" <= ch <= "\u0e7f" for ch in t) for t in texts)  # all Thai


def test_sim_send_reports_a_bot_that_refuses(sim):
    sim[0].channel_secret = "not-the-bots-secret"
    response = requests.post(f"{sim[1].url}/_sim/send", json={"user": USER, "text": "x"}, timeout=5)
    assert response.status_code == 502


def test_sim_send_rejects_bad_input(sim):
    assert (
        requests.post(f"{sim[1].url}/_sim/send", json={"text": "x"}, timeout=5).status_code == 400
    )
    bad = requests.post(f"{sim[1].url}/_sim/send", json={"user": USER}, timeout=5)
    assert bad.status_code == 400


def test_signature_matches_lines_documented_algorithm():
    # base64(HMAC-SHA256(secret, body)), checked with the SDK's own validator.
    from linebot.v3.webhook import SignatureValidator

    body = '{"events":[]}'
    assert SignatureValidator(SECRET).validate(body, sign(SECRET, body.encode()))
    assert not SignatureValidator("other").validate(body, sign(SECRET, body.encode()))


def test_the_chat_page_is_served_in_thai(sim):
    page = requests.get(sim[1].url + "/", timeout=5)
    assert page.status_code == 200
    assert 'lang="th"' in page.text and "/_sim/send" in page.text


def test_the_bots_rich_menu_is_accepted_by_the_simulator(runtime, sim):
    from bot.richmenu import BUTTONS, setup

    menu_id = setup(runtime.line)
    assert sim[0].default_rich_menu == menu_id
    assert sim[0].rich_menu_images[menu_id].startswith(b"\x89PNG")
    areas = sim[0].rich_menus[menu_id]["areas"]
    assert [a["action"]["text"] for a in areas] == [send for _, send in BUTTONS]
    shown = requests.get(f"{sim[1].url}/_sim/richmenu", params={"user": USER}, timeout=5).json()
    assert [a["label"] for a in shown["actions"]] == [label for label, _ in BUTTONS]


def test_delivery_counts_report_reach_and_duplicates(sim):
    body = {"to": [f"U{i:032x}" for i in range(3)], "messages": [{"type": "text", "text": "ข่าว"}]}
    post(sim, "/v2/bot/message/multicast", body)
    post(
        sim,
        "/v2/bot/message/push",
        {"to": f"U{0:032x}", "messages": [{"type": "text", "text": "ข่าว"}]},
    )
    counts = requests.get(
        f"{sim[1].url}/_sim/delivery-counts", params={"text": "ข่าว"}, timeout=5
    ).json()
    assert counts == {"users": 3, "deliveries": 4, "duplicates": 1}
