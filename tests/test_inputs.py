"""Odd input gets a clear answer: malformed events are set aside one by one, values that can
never succeed are cleaned at the door, bad links are 403/404, oversized bodies 413, and logs
carry neither LINE user ids nor message text."""

from __future__ import annotations

import json
import logging
import socket
import time
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import select

from bot.models import OutboundMessage, WebhookEvent
from handlers.postback import UNKNOWN_ACTION
from simulator.signing import sign
from tests.conftest import SECRET, fast_line_client, signed_post, sim_messages, text_event

USER = "U" + "7" * 32
OTHER = "U" + "8" * 32


def events(runtime) -> dict[str, WebhookEvent]:
    with runtime.sessions() as session:
        return {row.webhook_event_id: row for row in session.scalars(select(WebhookEvent))}


def post_raw(client, body: str):
    data = body.encode("utf-8", "surrogatepass")
    return client.post(
        "/callback",
        data=data,
        headers={"X-Line-Signature": sign(SECRET, data), "Content-Type": "application/json"},
    )


def with_reply_token(sim, event: dict) -> dict:
    user = event["source"]["userId"]
    sim[0].ensure_user(user)
    event["replyToken"] = sim[0].issue_reply_token(user)
    return event


def texts_to(sim, user: str) -> list[str]:
    return [m.get("text", "") for m in sim_messages(sim[1].url, user)]


# -- one malformed event among good ones ------------------------------------------------------


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# Each replaces the middle event of a body, as JSON text (NaN, lone surrogates and deep nesting
# cannot be written with json.dumps).
MALFORMED = {
    "source is a string": lambda e: {**e, "source": "user"},
    "source is a list": lambda e: {**e, "source": [USER]},
    "userId is an object": lambda e: {**e, "source": {"type": "user", "userId": {"id": USER}}},
    "userId over 64 characters": lambda e: {**e, "source": {"type": "user", "userId": "U" * 65}},
    "NUL in userId": lambda e: {**e, "source": {"type": "user", "userId": USER[:-1] + "\x00"}},
    "NUL in webhookEventId": lambda e: {**e, "webhookEventId": "E-bad\x00"},
    "webhookEventId over 64 characters": lambda e: {**e, "webhookEventId": "E" * 65},
    "message is a string": lambda e: {**e, "message": "hello"},
    "text is a number": lambda e: {**e, "message": {**e["message"], "text": 12}},
    "event is a string": lambda e: "not an event",
    "NaN in a field": lambda e: {**e, "deliveryContext": {"isRedelivery": float("nan")}},
    "Infinity in a field": lambda e: {**e, "extra": float("inf")},
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_one_malformed_event_is_set_aside_and_the_good_ones_beside_it_are_kept(
    client, runtime, sim, case
):
    good = [with_reply_token(sim, text_event(f"E-good-{n}", user=USER)) for n in (1, 2)]
    bad = MALFORMED[case](text_event("E-bad", user=OTHER))
    body = json.dumps({"events": [good[0], bad, good[1]]})  # NaN/Infinity as JS literals
    response = post_raw(client, body)
    assert response.status_code == 200, response.text
    stored = events(runtime)
    assert {"E-good-1", "E-good-2"} <= set(stored)
    assert all(stored[f"E-good-{n}"].last_error is None for n in (1, 2))
    assert all(stored[f"E-good-{n}"].handled_at is not None for n in (1, 2))
    assert len(texts_to(sim, USER)) == 2  # both good events answered
    set_aside = [row for key, row in stored.items() if not key.startswith("E-good")]
    assert len(set_aside) == 1
    assert set_aside[0].handled_at is not None and set_aside[0].attempts == 0
    assert set_aside[0].last_error.startswith("set aside: ")
    assert texts_to(sim, OTHER) == []


def test_a_lone_surrogate_outside_free_text_sets_the_event_aside(client, runtime, sim):
    good = with_reply_token(sim, text_event("E-good", user=USER))
    bad = text_event("E-bad", user=OTHER)
    bad["emoji"] = "@@SURROGATE@@"
    body = json.dumps({"events": [bad, good]}).replace("@@SURROGATE@@", "\\ud800")
    assert post_raw(client, body).status_code == 200
    stored = events(runtime)
    assert stored["E-good"].last_error is None and stored["E-good"].handled_at is not None
    assert "unpaired surrogate" in stored["E-bad"].last_error


def test_an_event_nested_a_thousand_deep_is_set_aside_without_a_recursion_error(
    client, runtime, sim
):
    good = with_reply_token(sim, text_event("E-good", user=USER))
    bad = text_event("E-deep", user=OTHER)
    bad["extra"] = "@@DEEP@@"
    body = json.dumps({"events": [bad, good]}).replace('"@@DEEP@@"', _deep(1000))
    assert post_raw(client, body).status_code == 200
    stored = events(runtime)
    assert stored["E-good"].last_error is None
    assert "nesting deeper than" in stored["E-deep"].last_error
    assert len(texts_to(sim, USER)) == 1


@pytest.mark.parametrize(("levels", "kept"), [(21, True), (22, False), (100_000, False)])
def test_nesting_is_cut_at_the_limit_whatever_the_depth(client, runtime, levels, kept):
    from bot.event_check import MAX_DEPTH

    event = text_event("E-n")
    event["x"] = "@@DEEP@@"  # body, events, event: 3 levels; x's lists add `levels`
    body = json.dumps({"events": [event]}).replace('"@@DEEP@@"', _deep(levels))
    assert MAX_DEPTH == 24
    started = time.perf_counter()
    assert post_raw(client, body).status_code == 200
    assert time.perf_counter() - started < 5  # runs of brackets are one step each
    stored = events(runtime)["E-n"]
    assert (stored.last_error is None) is kept


def test_unbalanced_deep_nesting_is_400_not_a_crash(client, runtime):
    assert post_raw(client, '{"events": ' + "[" * 100_000).status_code == 400
    assert post_raw(client, '{"events": [' + "{" * 5000 + "]}").status_code == 400
    assert events(runtime) == {}


def test_a_bad_event_redelivered_is_stored_once(client, runtime):
    bad = {**text_event("E-x"), "source": "user", "webhookEventId": None}
    for _ in range(2):
        assert signed_post(client, {"events": [bad]}).status_code == 200
    assert len(events(runtime)) == 1


def test_a_body_that_is_not_json_or_has_no_events_list_stays_400(client, runtime):
    assert post_raw(client, "NaN").status_code == 400
    assert post_raw(client, '{"events": {"0": 1}}').status_code == 400
    assert events(runtime) == {}


# -- the body's size, with and without Content-Length ---------------------------------------


def _post_chunked(url: str, body: bytes, signature: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(
            b"POST /callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nX-Line-Signature: " + signature.encode() + b"\r\n"
            b"Connection: close\r\n\r\n"
        )
        try:
            for start in range(0, len(body), 65536):
                chunk = body[start : start + 65536]
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before reading everything
        status_line = conn.makefile("rb").readline()
    return int(status_line.split()[1])


def test_a_signed_body_over_one_megabyte_sent_chunked_is_413(bot, runtime):
    event = text_event("E-big")
    event["padding"] = "x" * (1024 * 1024)
    body = json.dumps({"events": [event]}).encode()
    assert _post_chunked(bot.url, body, sign(SECRET, body)) == 413
    assert events(runtime) == {}


def test_a_signed_chunked_body_under_the_limit_is_accepted(bot, runtime):
    event = text_event("E-small")
    event["padding"] = "x" * (1024 * 1024 - 2000)
    body = json.dumps({"events": [event]}).encode()
    assert len(body) < 1024 * 1024
    assert _post_chunked(bot.url, body, sign(SECRET, body)) == 200
    assert set(events(runtime)) == {"E-small"}


# -- values that can never succeed get an immediate answer ------------------------------------


def _postback_event(sim, event_id: str, data: str) -> dict:
    event = text_event(event_id, user=USER)
    del event["message"]
    event.update(type="postback", postback={"data": data})
    return with_reply_token(sim, event)


@pytest.mark.parametrize(
    "data",
    [
        "action=claim&t=²",  # "²".isdigit() is True, int("²") fails
        "action=claim&t=" + "9" * 23,  # past any INTEGER column
        "action=reply&t=๑๒",  # Thai digits: int() reads them, no button of ours has them
        "action=claim&t=-1",
        "action=claim&t=0",
        "action=rate&t=1&r=²",
    ],
)
def test_a_postback_with_an_impossible_number_is_answered_at_once(client, runtime, sim, data):
    assert signed_post(client, {"events": [_postback_event(sim, "E-pb", data)]}).status_code == 200
    stored = events(runtime)["E-pb"]
    assert stored.handled_at is not None and stored.attempts == 1
    assert stored.last_error is None
    assert texts_to(sim, USER) == [UNKNOWN_ACTION]


def test_a_text_with_nul_and_control_characters_is_answered_at_once(client, runtime, sim):
    event = with_reply_token(sim, text_event("E-nul", user=USER, text_="ลืมรหัสผ่าน\x00\x07ครับ"))
    assert signed_post(client, {"events": [event]}).status_code == 200
    stored = events(runtime)["E-nul"]
    assert stored.handled_at is not None and stored.attempts == 1 and stored.last_error is None
    assert stored.payload["message"]["text"] == "ลืมรหัสผ่านครับ"
    assert len(texts_to(sim, USER)) == 1


@pytest.mark.parametrize("timestamp", [1e30, -1, 10**25, "soon", True])
def test_an_impossible_timestamp_is_treated_as_absent(client, runtime, sim, timestamp):
    event = with_reply_token(sim, text_event("E-ts", user=USER, timestamp=timestamp))
    assert signed_post(client, {"events": [event]}).status_code == 200
    stored = events(runtime)["E-ts"]
    assert stored.handled_at is not None and stored.last_error is None
    assert "timestamp" not in stored.payload
    with runtime.sessions() as session:
        (row,) = session.scalars(select(OutboundMessage)).all()
        assert row.sent_via == "reply"  # the time it was received stands in: still fresh
    assert len(texts_to(sim, USER)) == 1


def test_an_unusable_reply_token_is_dropped_and_the_answer_pushed(client, runtime, sim):
    event = text_event("E-tok", user=USER, replyToken={"token": "x"})
    sim[0].ensure_user(USER)
    assert signed_post(client, {"events": [event]}).status_code == 200
    assert events(runtime)["E-tok"].last_error is None
    assert [m["via"] for m in sim_messages(sim[1].url, USER)] == ["push"]


# -- media links: 403 or 404, never 500 -------------------------------------------------------


def _link_parts(runtime, image_id: int) -> tuple[str, str]:
    url = runtime.media.url(image_id)
    query = dict(part.split("=") for part in url.split("?", 1)[1].split("&"))
    return query["e"], query["s"]


def test_fuzzed_media_link_parameters_are_403_never_500(client, runtime):
    expires, signature = _link_parts(runtime, 1)
    for e in ["²", "๑๒๓", "-5", "9" * 400, "", "1e9", " 1", expires + "\x00", "٣"]:
        response = client.get(f"/media/ticket-images/1?e={quote(e)}&s={signature}")
        assert response.status_code == 403, e
    for s in ["ก" * 64, "²", signature.upper(), "", signature[:-1]]:
        response = client.get(f"/media/ticket-images/1?e={expires}&s={quote(s)}")
        assert response.status_code == 403, s
    assert client.get("/media/ticket-images/1").status_code == 403
    assert client.get(f"/media/ticket-images/1?e={expires}").status_code == 403


def test_media_ids_out_of_range_are_404_never_500(client, runtime):
    for image_id in [2**31, 10**22, 2**63]:  # even with a link signed for them
        expires, signature = _link_parts(runtime, image_id)
        response = client.get(f"/media/ticket-images/{image_id}?e={expires}&s={signature}")
        assert response.status_code == 404, image_id
    expires, signature = _link_parts(runtime, 5)
    for path in ["-1", "²", "๕", "1.0", "0x5"]:
        response = client.get(f"/media/ticket-images/{quote(path)}?e={expires}&s={signature}")
        assert response.status_code in (403, 404), path


# -- logs carry neither LINE user ids nor message text -----------------------------------------


def _everything_logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter()
    parts = []
    for record in records:
        if record.name == "werkzeug":
            continue  # the in-process simulator's access log: LINE's side, not the bot's
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
    return "\n".join(parts)


def test_logs_carry_neither_user_ids_nor_message_text(client, runtime, settings, sim, caplog):
    from dataclasses import replace

    words = "รหัสผ่านของผมคือ-ขอ-ๆ-7781"
    long_id = "U" + "5" * 70
    bad_events = [
        {**text_event("E-bad-1", user=USER, text_=words), "message": f"{words}"},
        text_event("E-bad-2", user=long_id, text_=words),
        {**text_event("E-bad-3", user=USER), "postback": [words]},
    ]
    # LINE unreachable: the profile, the image and every answer fail while events are handled.
    runtime.__dict__["line"] = fast_line_client(
        replace(settings, line_api_base="http://127.0.0.1:1"), max_attempts=2
    )
    follow = text_event("E-follow", user=USER)
    del follow["message"]
    follow.update(type="follow", follow={"isUnblocked": False})
    image = text_event("E-image", user=USER)
    image["message"] = {"type": "image", "id": "325708", "contentProvider": {"type": "line"}}
    with caplog.at_level(logging.INFO):
        assert signed_post(client, {"events": bad_events}).status_code == 200
        assert signed_post(client, {"events": [follow, image]}).status_code == 200
        signed_post(client, {"events": [text_event("E-text", user=USER, text_=words)]})
        signed_post(client, {"events": [text_event("E-unsigned", user=USER)]}, secret="wrong")
    logged = _everything_logged(caplog.records)
    assert '"event_id": "E-image"' in logged and '"error": ' in logged  # its failure was logged
    assert USER not in logged
    assert long_id[:33] not in logged
    assert words not in logged
    stored = events(runtime)
    assert stored["E-image"].last_error and "set aside" in logged
    assert {"E-bad-1", "E-bad-3"} <= set(stored) and len(stored) == 6


def test_the_simulator_sends_events_only_for_ids_in_lines_shape(sim):
    for user in ["Ufoo", "U" + "A" * 32, "U" + "a" * 32 + "\n", 7]:
        response = requests.post(f"{sim[1].url}/_sim/send", json={"user": user, "text": "x"})
        assert response.status_code == 400, user
    response = requests.get(f"{sim[1].url}/_sim/messages", params={"user": USER, "after": "²"})
    assert response.status_code == 200
