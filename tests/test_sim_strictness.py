"""The simulator is as strict as LINE's Messaging API reference, rule by rule, and the bot lives
with it: message objects, recipients, webhooks, reply tokens, headers, rate limits, statistics
and narrowcast."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import func, select

from bot.inbox import drain
from bot.models import WebhookEvent
from tests.conftest import TOKEN, sim_messages, sim_send, wait_until

USER = "U" + "d" * 32
STRANGER = "U" + "e" * 32  # well formed, never seen by the simulator
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LINE_TZ = timezone(timedelta(hours=9))


@pytest.fixture(autouse=True)
def friend(sim):
    sim[0].ensure_user(USER)


def post(sim, path: str, body, headers=None, **kwargs):
    return requests.post(
        f"{sim[1].url}{path}", json=body, headers={**AUTH, **(headers or {})}, timeout=10, **kwargs
    )


def push(sim, *messages, to: str = USER):
    return post(sim, "/v2/bot/message/push", {"to": to, "messages": list(messages)})


def refused_at(response) -> list[str]:
    """The LINE paths a 400 names."""
    assert response.status_code == 400, response.text
    return [d["property"] for d in response.json().get("details", [])]


def text_with_quick_replies(*actions) -> dict:
    items = [{"type": "action", "action": action} for action in actions]
    return {"type": "text", "text": "เลือก", "quickReply": {"items": items}}


def message_action(label: str, text: str = "ตกลง") -> dict:
    return {"type": "message", "label": label, "text": text}


def flex(contents: dict, alt: str = "การ์ด") -> dict:
    return {"type": "flex", "altText": alt, "contents": contents}


def bubble_with(*components) -> dict:
    return {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": list(components)},
    }


def config(sim, **settings) -> dict:
    response = requests.post(f"{sim[1].url}/_sim/config", json=settings, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


# -- 1. message objects -----------------------------------------------------------------------


def test_a_quick_reply_label_over_20_is_refused_with_its_path(sim):
    response = push(sim, text_with_quick_replies(message_action("ตกลง"), message_action("ก" * 21)))
    assert refused_at(response) == ["messages[0].quickReply.items[1].action.label"]
    assert sim_messages(sim[1].url, USER) == []


def test_thai_labels_count_grapheme_clusters_as_line_does(sim):
    # "ที่" is three code points and one character on screen: LINE counts it once.
    fits = "ที่" * 20  # 60 code points, 20 graphemes
    assert push(sim, text_with_quick_replies(message_action(fits))).status_code == 200
    too_long = "ที่" * 21
    response = push(sim, text_with_quick_replies(message_action(too_long)))
    assert refused_at(response) == ["messages[0].quickReply.items[0].action.label"]


def test_a_quick_reply_without_a_label_is_refused(sim):
    action = {"type": "postback", "data": "a=1", "displayText": "ตกลง"}
    response = push(sim, text_with_quick_replies(action))
    assert refused_at(response) == ["messages[0].quickReply.items[0].action.label"]


def test_template_labels_are_required_and_at_most_20(sim):
    template = {
        "type": "template",
        "altText": "เลือก",
        "template": {
            "type": "buttons",
            "text": "เลือกหนึ่งข้อ",
            "actions": [message_action("ก" * 21), {"type": "message", "text": "ไม่มีป้าย"}],
        },
    }
    assert refused_at(push(sim, template)) == [
        "messages[0].template.actions[0].label",
        "messages[0].template.actions[1].label",
    ]


def test_flex_button_labels_are_required_and_at_most_40(sim):
    long_label = {"type": "button", "action": message_action("ก" * 41)}
    no_label = {"type": "button", "action": {"type": "uri", "uri": "https://example.com"}}
    response = push(sim, flex(bubble_with(long_label, no_label)))
    assert refused_at(response) == [
        "messages[0].contents.body.contents[0].action.label",
        "messages[0].contents.body.contents[1].action.label",
    ]
    fine = {"type": "button", "action": message_action("ก" * 40)}
    assert push(sim, flex(bubble_with(fine))).status_code == 200


def test_display_text_and_message_text_are_at_most_300(sim):
    postback = {"type": "postback", "label": "ตกลง", "data": "a=1", "displayText": "ก" * 301}
    message = message_action("ตกลง", text="ข" * 301)
    response = push(sim, text_with_quick_replies(postback, message))
    assert refused_at(response) == [
        "messages[0].quickReply.items[0].action.displayText",
        "messages[0].quickReply.items[1].action.text",
    ]


def test_flex_alt_text_must_not_be_empty_nor_over_1500(sim):
    card = bubble_with({"type": "text", "text": "สวัสดี"})
    assert refused_at(push(sim, flex(card, alt=""))) == ["messages[0].altText"]
    assert refused_at(push(sim, flex(card, alt="ก" * 1501))) == ["messages[0].altText"]
    assert push(sim, flex(card, alt="ก" * 1500)).status_code == 200


def test_a_bubble_over_30_kb_and_a_carousel_over_12_bubbles_are_refused(sim):
    big = bubble_with(*({"type": "text", "text": "ก" * 1000} for _ in range(11)))  # > 30 KB
    assert refused_at(push(sim, flex(big))) == ["messages[0].contents"]
    small = bubble_with({"type": "text", "text": "ก"})
    carousel = {"type": "carousel", "contents": [small] * 13}
    assert refused_at(push(sim, flex(carousel))) == ["messages[0].contents.contents"]
    assert push(sim, flex({"type": "carousel", "contents": [small] * 12})).status_code == 200


def test_uri_actions_take_only_http_https_line_tel_up_to_1000(sim):
    def card(*uris: str) -> dict:
        buttons = [
            {"type": "button", "action": {"type": "uri", "label": "เปิด", "uri": u}} for u in uris
        ]
        return flex(bubble_with(*buttons))

    lines = ("https://example.com", "http://example.com", "line://nv/chat", "tel:0919493261")
    assert push(sim, card(*lines)).status_code == 200
    refused = ("ftp://example.com/a", "javascript:alert(1)", "https://example.com/" + "a" * 1000)
    assert refused_at(push(sim, card(*refused))) == [
        f"messages[0].contents.body.contents[{n}].action.uri" for n in range(3)
    ]


@pytest.mark.parametrize(
    "url", ["https://example.com/a.gif", "https://example.com/" + "a" * 2000 + ".png"]
)
def test_image_urls_are_jpeg_or_png_and_at_most_2000(sim, url):
    image = {"type": "image", "originalContentUrl": url, "previewImageUrl": url}
    assert refused_at(push(sim, image)) == [
        "messages[0].originalContentUrl",
        "messages[0].previewImageUrl",
    ]


def test_empty_text_is_refused(sim):
    assert refused_at(push(sim, {"type": "text", "text": ""})) == ["messages[0].text"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (
            {
                "to": USER,
                "messages": [text_with_quick_replies({**message_action("ก"), "lable": "x"})],
            },
            "messages[0].quickReply.items[0].action.lable",
        ),
        (
            {"to": USER, "messages": [{"type": "text", "text": "ก", "colour": "red"}]},
            "messages[0].colour",
        ),
        ({"to": USER, "messages": [{"type": "text", "text": "ก"}], "priority": 1}, "priority"),
    ],
)
def test_unknown_properties_are_refused_naming_them(sim, body, path):
    response = post(sim, "/v2/bot/message/push", body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"The property, '{path}', in the request body is invalid (line: -, column: -)"
    )
    assert sim_messages(sim[1].url, USER) == []


def test_the_sdk_models_complaints_name_lines_paths(sim):
    box = {"type": "bubble", "body": {"type": "box", "layout": "diagonal", "contents": []}}
    assert refused_at(push(sim, flex(box))) == ["messages[0].contents.body.layout"]


def test_a_body_that_is_not_json_is_415(sim):
    response = requests.post(
        f"{sim[1].url}/v2/bot/message/push",
        data=json.dumps({"to": USER, "messages": [{"type": "text", "text": "ก"}]}),
        headers={**AUTH, "Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 415
    assert response.json()["message"] == "The content type, text/plain, is not supported"


def test_a_body_over_2_mb_is_413(sim):
    body = {"to": USER, "messages": [{"type": "text", "text": "a" * (2 * 1024 * 1024)}]}
    response = post(sim, "/v2/bot/message/push", body)
    assert response.status_code == 413
    assert sim_messages(sim[1].url, USER) == []


def test_every_message_shape_the_bot_builds_passes_lines_rules(faq_service):
    from linebot.v3.messaging import PushMessageRequest, RichMenuRequest

    from bot.richmenu import menu
    from broadcast.models import Announcement
    from broadcast.service import messages as announcement_messages
    from handlers.texts import faq_messages, greeting
    from handlers.ticket_cards import coordinator_card, image_message, rating_message
    from simulator import rules
    from ticketing.models import Ticket

    ticket = Ticket(
        id=123,
        user_id=USER,
        display_name="สมศรี",
        province="พระนครศรีอยุธยา",
        region="ภาคกลาง",
        category="forgot-password",
        description="ส่งข้อมูลไม่ได้ " * 40,
        level="province",
        created_at=datetime(2020, 6, 15, 2, 0),
    )
    picture = "https://desk.example/media/ticket-images/7?e=1893456000&s=" + "a" * 64
    shapes = [
        [greeting()],
        *(faq_messages(faq_service.answer(topic)) for topic in faq_service.entries),
        faq_messages(faq_service.respond("แอป")),  # a choice of two topics
        faq_messages(faq_service.respond("ขอสูตรต้มยำกุ้ง")),  # no match
        [coordinator_card(ticket, "new", {"forgot-password": "ลืมรหัสผ่าน"}, "เมือง", 2, picture)],
        [rating_message(ticket, "แก้ไขแล้ว", timedelta(days=3)), image_message(picture)],
        announcement_messages(
            Announcement(
                text="ประกาศ",
                image_url="https://cddsmartdata.com/a.png",
                link_label="เปิด Smart Data " + "ก" * 24,  # 40 characters
                link_url="https://cddsmartdata.com",
            )
        ),
    ]
    for shape in shapes:
        body = {"to": USER, "messages": shape}
        assert rules.check(body, PushMessageRequest) == rules.Findings([], []), shape
    assert rules.check(menu(), RichMenuRequest) == rules.Findings([], [])


# -- 2. recipients ----------------------------------------------------------------------------


def test_a_push_to_an_account_line_does_not_know_fails(sim):
    response = push(sim, {"type": "text", "text": "สวัสดี"}, to=STRANGER)
    assert response.status_code == 400
    assert response.json() == {"message": "Failed to send messages"}
    assert sim_messages(sim[1].url, STRANGER) == [] and sim[0].consumption == 0


def test_a_push_to_a_user_who_blocked_the_bot_is_accepted_but_not_delivered_nor_charged(sim):
    sim[0].ensure_user(USER).following = False
    response = push(sim, {"type": "text", "text": "สวัสดี"})
    assert response.status_code == 200 and response.json()["sentMessages"]
    assert sim_messages(sim[1].url, USER) == []
    assert sim[0].consumption == 0


def test_the_profile_of_a_user_who_blocked_the_bot_is_404(sim):
    sim[0].ensure_user(USER).following = False
    response = requests.get(f"{sim[1].url}/v2/bot/profile/{USER}", headers=AUTH, timeout=10)
    assert response.status_code == 404


def test_a_multicast_skips_unknown_and_blocking_users_and_charges_the_rest(sim):
    blocker = "U" + "f" * 32
    sim[0].ensure_user(blocker).following = False
    body = {"to": [USER, STRANGER, blocker], "messages": [{"type": "text", "text": "ประกาศ"}]}
    assert post(sim, "/v2/bot/message/multicast", body).status_code == 200
    reached = [u for u in (USER, STRANGER, blocker) if sim_messages(sim[1].url, u)]
    assert reached == [USER] and sim[0].consumption == 1


@pytest.mark.parametrize("bad", ["Unot-an-id", 12345, None])
def test_a_multicast_names_a_malformed_recipient_anywhere_in_the_list(sim, bad):
    """Only the first id goes through the SDK's model (speed): the rest have their own check."""
    body = {"to": [USER, USER, bad], "messages": [{"type": "text", "text": "ประกาศ"}]}
    assert refused_at(post(sim, "/v2/bot/message/multicast", body)) == ["to[2]"]
    assert sim[0].consumption == 0


def test_many_friends_can_be_registered_at_once(sim):
    users = [f"U{n:032x}" for n in range(1000, 3000)]
    response = requests.post(f"{sim[1].url}/_sim/users", json={"users": users}, timeout=30)
    assert response.json()["new"] == 2000
    body = {"to": users[:500], "messages": [{"type": "text", "text": "ประกาศ"}]}
    assert post(sim, "/v2/bot/message/multicast", body).status_code == 200
    assert sim[0].consumption == 500


# -- 3. webhooks ------------------------------------------------------------------------------


def webhook_posts(sim) -> list[dict]:
    return requests.get(f"{sim[1].url}/_sim/webhooks", timeout=10).json()


def stored_events(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(WebhookEvent))


def test_several_events_in_one_post_are_all_handled_in_order(runtime, bot, sim, faq_service):
    questions = ["ลืมรหัสผ่าน", "ช่องทางติดต่อ Call Desk", "ส่งข้อมูลไม่ได้"]
    events = [{"user": USER, "text": q} for q in questions]
    answer = requests.post(f"{sim[1].url}/_sim/send", json={"events": events}, timeout=30)
    assert answer.status_code == 200, answer.text
    (only,) = webhook_posts(sim)
    assert only["events"] == [e["webhookEventId"] for e in answer.json()["events"]]
    texts = [m["text"] for m in sim_messages(sim[1].url, USER)]
    assert texts == [faq_service.respond(q).text for q in questions]


def test_events_sent_close_together_share_one_post_when_batching(runtime, bot, sim):
    users = [f"U{n:032x}" for n in range(3)]
    config(sim, webhook={"batch_size": 3, "batch_wait_s": 30})
    results: list[int] = []

    def send(user: str) -> None:
        response = requests.post(
            f"{sim[1].url}/_sim/send", json={"user": user, "type": "follow"}, timeout=60
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=send, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [200, 200, 200]
    (only,) = webhook_posts(sim)
    assert len(only["events"]) == 3 and stored_events(runtime) == 3
    assert all(sim_messages(sim[1].url, u) for u in users)  # every follow was greeted


def test_a_redelivered_event_is_handled_once(runtime, bot, sim):
    config(sim, webhook={"redeliver_always": True})
    answer = sim_send(sim[1].url, user=USER, text="ลืมรหัสผ่าน")
    first, again = webhook_posts(sim)
    assert first["events"] == again["events"] == [answer["event"]["webhookEventId"]]
    assert (first["redelivery"], again["redelivery"]) == (False, True)
    assert answer["attempts"] == [200, 200]
    assert stored_events(runtime) == 1
    assert len(sim_messages(sim[1].url, USER)) == 1


def test_an_event_the_bot_failed_is_redelivered_and_handled_once(runtime, bot, sim, monkeypatch):
    import bot.webhook as webhook

    real = webhook.store_new_events
    calls = []

    def fail_once(*args):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database is restarting")
        return real(*args)

    monkeypatch.setattr(webhook, "store_new_events", fail_once)
    config(sim, webhook={"redelivery": True, "redelivery_delay_s": 0})
    answer = sim_send(sim[1].url, user=USER, text="ลืมรหัสผ่าน")
    assert answer["attempts"] == [500, 200]
    assert [p["redelivery"] for p in webhook_posts(sim)] == [False, True]
    assert stored_events(runtime) == 1
    assert len(sim_messages(sim[1].url, USER)) == 1


def test_a_recorded_event_can_be_redelivered_on_demand(runtime, bot, sim):
    answer = sim_send(sim[1].url, user=USER, text="ลืมรหัสผ่าน")
    event_id = answer["event"]["webhookEventId"]
    again = requests.post(
        f"{sim[1].url}/_sim/redeliver", json={"webhookEventId": event_id}, timeout=30
    )
    assert again.status_code == 200
    assert stored_events(runtime) == 1 and len(sim_messages(sim[1].url, USER)) == 1


def test_lines_verify_post_is_200_and_nothing_is_stored_or_handled(runtime, bot, sim):
    answer = requests.post(f"{sim[1].url}/_sim/verify", timeout=30)
    assert answer.status_code == 200 and answer.json()["webhookStatus"] == 200
    (only,) = webhook_posts(sim)
    assert only["events"] == []
    assert stored_events(runtime) == 0 and sim[0].deliveries == []


# -- 4. reply tokens --------------------------------------------------------------------------


def test_the_reply_token_life_is_configurable(sim):
    assert config(sim, reply_token_ttl_s=0)["reply_token_ttl_s"] == 0
    token = sim[0].issue_reply_token(USER)
    wait_until(lambda: sim[0].reply_token_expired(token))
    body = {"replyToken": token, "messages": [{"type": "text", "text": "ตอบ"}]}
    response = post(sim, "/v2/bot/message/reply", body)
    assert response.status_code == 400 and response.json()["message"] == "Invalid reply token"


def test_an_answer_handled_after_its_reply_token_expired_still_reaches_the_volunteer(
    runtime, bot, sim, monkeypatch
):
    monkeypatch.setattr(runtime, "signal_inbox", lambda: None)  # stored now, handled later
    config(sim, reply_token_ttl_s=1)
    token = sim_send(sim[1].url, user=USER, text="ลืมรหัสผ่าน")["event"]["replyToken"]
    wait_until(lambda: sim[0].reply_token_expired(token), what="the reply token expiring")
    assert drain(runtime) == 1
    # LINE refused the token on the first try: no earlier attempt can have delivered the
    # answer, so it is pushed (with the row's retry key).
    assert sim[0].stats["POST /v2/bot/message/reply"] == {"400": 1}
    delivered = sim_messages(sim[1].url, USER)
    assert [m["via"] for m in delivered] == ["push"] and "รหัสผ่าน" in delivered[0]["text"]


# -- 5. headers -------------------------------------------------------------------------------


def test_every_v2_answer_names_its_request_errors_included(sim):
    answers = [
        push(sim, {"type": "text", "text": "ก"}),  # 200
        push(sim, {"type": "text", "text": ""}),  # 400
        push(sim, {"type": "text", "text": "ก"}, to=STRANGER),  # 400
        requests.get(f"{sim[1].url}/v2/bot/profile/{STRANGER}", headers=AUTH, timeout=10),  # 404
        requests.get(f"{sim[1].url}/v2/bot/message/quota", timeout=10),  # 401
    ]
    ids = [a.headers.get("x-line-request-id") for a in answers]
    assert [a.status_code for a in answers] == [200, 400, 400, 404, 401]
    assert all(ids) and len(set(ids)) == len(ids)


def test_a_repeated_retry_key_gets_409_naming_both_requests_and_the_sent_messages(sim):
    key = {"X-Line-Retry-Key": str(uuid.uuid4())}
    body = {"to": USER, "messages": [{"type": "text", "text": "ครั้งเดียว"}]}
    first = post(sim, "/v2/bot/message/push", body, key)
    again = post(sim, "/v2/bot/message/push", body, key)
    assert (first.status_code, again.status_code) == (200, 409)
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert again.headers["x-line-request-id"] not in (None, first.headers["x-line-request-id"])
    assert again.json() == {
        "message": "The retry key is already accepted",
        "sentMessages": first.json()["sentMessages"],
    }


def test_a_retry_key_on_the_loading_animation_is_400(sim):
    body = {"chatId": USER, "loadingSeconds": 5}
    response = post(
        sim, "/v2/bot/chat/loading/start", body, {"X-Line-Retry-Key": str(uuid.uuid4())}
    )
    assert response.status_code == 400
    assert post(sim, "/v2/bot/chat/loading/start", body).status_code == 202


# -- 6. rate limits, statistics, narrowcast ---------------------------------------------------


@pytest.fixture
def frozen_clock(monkeypatch):
    """Token buckets refill with time: frozen, a burst is a burst however slow the machine."""
    import simulator.state as state_module

    now = time.monotonic()
    monkeypatch.setattr(state_module.time, "monotonic", lambda: now)


def test_the_loading_animation_is_limited_to_100_a_second(sim, frozen_clock):
    body = {"chatId": USER, "loadingSeconds": 5}
    statuses = [post(sim, "/v2/bot/chat/loading/start", body).status_code for _ in range(101)]
    assert statuses == [202] * 100 + [429]


def test_follower_statistics_are_limited_to_60_an_hour(sim, frozen_clock):
    day = (datetime.now(LINE_TZ) - timedelta(days=10)).strftime("%Y%m%d")
    url = f"{sim[1].url}/v2/bot/insight/followers"
    statuses = [
        requests.get(url, params={"date": day}, headers=AUTH, timeout=10).status_code
        for _ in range(61)
    ]
    assert statuses == [200] * 60 + [429]


def test_rich_menu_creation_is_limited_to_100_an_hour(sim, frozen_clock):
    from bot.richmenu import menu

    statuses = [post(sim, "/v2/bot/richmenu", menu()).status_code for _ in range(101)]
    assert statuses == [200] * 100 + [429]


def test_follower_statistics_are_unready_for_today_and_yesterday_in_utc_plus_9(sim):
    today = datetime.now(LINE_TZ).date()

    def status(day) -> str:
        response = requests.get(
            f"{sim[1].url}/v2/bot/insight/followers",
            params={"date": day.strftime("%Y%m%d")},
            headers=AUTH,
            timeout=10,
        )
        return response.json()["status"]

    assert [status(today - timedelta(days=n)) for n in (0, 1, 2)] == [
        "unready",
        "unready",
        "ready",
    ]
    assert status(datetime(2016, 10, 31).date()) == "out_of_service"


def test_a_narrowcast_waits_then_succeeds(runtime, sim):
    config(sim, narrowcast_delay_s=60)
    waiting = runtime.line.narrowcast([{"type": "text", "text": "ข่าว"}], str(uuid.uuid4()))
    assert runtime.line.narrowcast_progress(waiting.request_id)["phase"] == "waiting"
    assert sim_messages(sim[1].url, USER) == []
    config(sim, narrowcast_delay_s=0)
    sent = runtime.line.narrowcast([{"type": "text", "text": "ข่าว"}], str(uuid.uuid4()))
    done = wait_until(
        lambda: (
            (p := runtime.line.narrowcast_progress(sent.request_id))["phase"] == "succeeded" and p
        )
    )
    assert done["successCount"] == 1 and len(sim_messages(sim[1].url, USER)) == 1


def test_a_narrowcast_reaches_only_its_audience(sim):
    members = [f"U{n:032x}" for n in range(60)]
    sim[0].register_users([*members, STRANGER])
    config(sim, narrowcast_delay_s=0)
    requests.post(
        f"{sim[1].url}/_sim/audiences", json={"audienceGroupId": 7, "users": members}, timeout=10
    )
    body = {
        "messages": [{"type": "text", "text": "เฉพาะกลุ่ม"}],
        "recipient": {"type": "audience", "audienceGroupId": 7},
    }
    accepted = post(sim, "/v2/bot/message/narrowcast", body)
    assert accepted.status_code == 202
    request_id = accepted.headers["x-line-request-id"]

    def progress() -> dict:
        return requests.get(
            f"{sim[1].url}/v2/bot/message/progress/narrowcast",
            params={"requestId": request_id},
            headers=AUTH,
            timeout=10,
        ).json()

    assert (
        wait_until(lambda: progress()["phase"] == "succeeded" and progress())["successCount"] == 60
    )
    assert sim_messages(sim[1].url, STRANGER) == [] and sim_messages(sim[1].url, USER) == []


def test_a_narrowcast_to_an_audience_under_50_fails_as_lines_does(sim):
    sim[0].register_users([f"U{n:032x}" for n in range(10)])
    sim[0].audiences[8] = [f"U{n:032x}" for n in range(10)]
    config(sim, narrowcast_delay_s=0)
    body = {
        "messages": [{"type": "text", "text": "ก"}],
        "recipient": {"type": "audience", "audienceGroupId": 8},
    }
    request_id = post(sim, "/v2/bot/message/narrowcast", body).headers["x-line-request-id"]
    failed = wait_until(lambda: sim[0].narrowcasts[request_id]["phase"] == "failed")
    assert failed and sim[0].narrowcasts[request_id]["errorCode"] == 4
    assert sim[0].deliveries == []


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        (
            {"filter": {"demographic": {"type": "gender", "oneOf": ["female"]}}},
            "filter.demographic",
        ),
        ({"recipient": {"type": "audience", "audienceGroupId": 99}}, "recipient.audienceGroupId"),
    ],
)
def test_a_narrowcast_the_simulator_cannot_honour_is_refused_not_sent_to_everyone(sim, extra, path):
    body = {"messages": [{"type": "text", "text": "ก"}], **extra}
    assert refused_at(post(sim, "/v2/bot/message/narrowcast", body)) == [path]
    assert sim[0].narrowcasts == {} and sim[0].deliveries == []
