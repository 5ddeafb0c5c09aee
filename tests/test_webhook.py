"""POST /callback: signatures, limits, storage, redelivery and LINE's official sample events."""

from __future__ import annotations

import copy
import http.client
import json
import logging

import pytest
from sqlalchemy import func, select, text

from bot.models import OutboundMessage, WebhookEvent
from simulator.signing import sign
from tests.conftest import DATA, SECRET, signed_post, sim_messages, text_event

USER = "U" + "a" * 32


def count(runtime, model) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def official_events() -> dict:
    return json.loads((DATA / "line" / "webhook-events.json").read_text(encoding="utf-8"))


# -- signature --------------------------------------------------------------------------------


def test_good_signature_is_accepted_and_the_event_stored(client, runtime):
    response = signed_post(client, {"destination": "U0", "events": [text_event("E1")]})
    assert response.status_code == 200
    assert count(runtime, WebhookEvent) == 1


def test_a_connection_the_database_dropped_costs_no_event(client, runtime):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): a server that drops connections")
    assert signed_post(client, {"events": [text_event("E1")]}).status_code == 200  # pool warm
    with runtime.engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert signed_post(client, {"events": [text_event("E2")]}).status_code == 200
    assert count(runtime, WebhookEvent) == 2


@pytest.mark.parametrize("secret", ["wrong-secret", ""])
def test_wrong_signature_is_refused_and_nothing_stored(client, runtime, secret):
    response = signed_post(client, {"events": [text_event("E1")]}, secret=secret or "x")
    assert response.status_code == 400
    assert count(runtime, WebhookEvent) == 0


def test_missing_signature_is_refused(client, runtime):
    response = client.post("/callback", json={"events": [text_event("E1")]})
    assert response.status_code == 400
    assert count(runtime, WebhookEvent) == 0


def test_signature_of_another_body_is_refused(client, runtime):
    body = json.dumps({"events": [text_event("E1")]}).encode()
    tampered = body.replace(b"E1", b"E2")
    response = client.post(
        "/callback", data=tampered, headers={"X-Line-Signature": sign(SECRET, body)}
    )
    assert response.status_code == 400
    assert count(runtime, WebhookEvent) == 0


def test_lower_case_header_name_over_a_real_socket(bot, runtime):
    # Proxies and HTTP/2 lower-case header names; the raw request proves we don't care.
    body = json.dumps({"events": [text_event("E-lower")]}).encode()
    conn = http.client.HTTPConnection(bot.url.removeprefix("http://"))
    conn.putrequest("POST", "/callback")
    conn.putheader("content-type", "application/json")
    conn.putheader("content-length", str(len(body)))
    conn.putheader("x-line-signature", sign(SECRET, body))
    conn.endheaders(body)
    assert conn.getresponse().status == 200
    assert count(runtime, WebhookEvent) == 1


# -- body limits and shapes -------------------------------------------------------------------


def test_body_over_one_megabyte_is_413_and_nothing_stored(client, runtime):
    event = text_event("E-big", text_="ก" * 10)
    event["padding"] = "x" * (1024 * 1024)
    response = signed_post(client, {"events": [event]})
    assert response.status_code == 413
    assert count(runtime, WebhookEvent) == 0


def test_malformed_json_is_400(client, runtime):
    response = signed_post(client, b'{"events": [')
    assert response.status_code == 400
    assert count(runtime, WebhookEvent) == 0


def test_json_without_events_list_is_400(client):
    assert signed_post(client, {"destination": "U0"}).status_code == 400


def test_verify_call_with_no_events_is_200(client, runtime):
    assert signed_post(client, {"destination": "U0", "events": []}).status_code == 200
    assert count(runtime, WebhookEvent) == 0


def test_standby_events_are_acknowledged_not_stored(client, runtime):
    response = signed_post(client, {"events": [text_event("E-standby", mode="standby")]})
    assert response.status_code == 200
    assert count(runtime, WebhookEvent) == 0


# -- LINE's official sample events ---------------------------------------------------------------


def test_all_28_official_events_in_one_body_get_200(client, runtime):
    payload = official_events()
    assert len(payload["events"]) == 28
    assert signed_post(client, payload).status_code == 200
    # The sample reuses one webhookEventId for every event: LINE's dedup key keeps one.
    assert count(runtime, WebhookEvent) == 1


def test_each_official_event_alone_is_200_and_handled_without_error(client, runtime, sim):
    payload = official_events()
    for n, event in enumerate(payload["events"]):
        event = copy.deepcopy(event)
        event["webhookEventId"] = f"official-{n:02d}"
        response = signed_post(client, {"destination": payload["destination"], "events": [event]})
        assert response.status_code == 200, (n, event["type"])
    with runtime.sessions() as session:
        rows = session.scalars(select(WebhookEvent)).all()
    assert len(rows) == 28
    assert all(row.handled_at is not None for row in rows)
    assert [row.webhook_event_id for row in rows if row.last_error] == []


def test_unknown_event_type_is_logged_and_ignored(client, runtime, caplog):
    event = text_event("E-unknown", type="someFutureEvent")
    with caplog.at_level(logging.INFO):
        assert signed_post(client, {"events": [event]}).status_code == 200
    assert "someFutureEvent" in caplog.text
    assert count(runtime, OutboundMessage) == 0


# -- one effect per event ----------------------------------------------------------------------


def test_redelivered_event_has_one_effect(client, runtime, sim):
    event = text_event("E-redeliver", user=USER)
    sim[0].ensure_user(USER)
    event["replyToken"] = sim[0].issue_reply_token(USER)
    assert signed_post(client, {"events": [event]}).status_code == 200
    again = copy.deepcopy(event)
    again["deliveryContext"] = {"isRedelivery": True}
    assert signed_post(client, {"events": [again]}).status_code == 200
    assert count(runtime, WebhookEvent) == 1
    assert count(runtime, OutboundMessage) == 1
    assert len(sim_messages(sim[1].url, USER)) == 1


def test_same_event_twice_in_one_body_is_stored_once(client, runtime):
    event = text_event("E-dup")
    assert signed_post(client, {"events": [event, event]}).status_code == 200
    assert count(runtime, WebhookEvent) == 1


# -- logging -----------------------------------------------------------------------------------


def test_one_structured_log_line_per_event_without_user_id_or_token(client, runtime, sim, caplog):
    event = text_event("E-log", user=USER)
    event["replyToken"] = sim[0].issue_reply_token(USER)
    with caplog.at_level(logging.INFO, logger="smartbmn.events"):
        signed_post(client, {"events": [event]})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "smartbmn.events"]
    assert len(lines) == 1
    line = lines[0]
    assert line["event_id"] == "E-log"
    assert line["kind"] == "message/text"
    assert line["handling_ms"] >= 0
    assert line["user"] and line["user"] != USER
    assert USER not in caplog.text
    assert event["replyToken"] not in caplog.text


# -- health ------------------------------------------------------------------------------------


def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_healthz_is_503_when_the_database_does_not(settings):
    from dataclasses import replace

    from bot.app import build_app
    from bot.runtime import Runtime

    # Nothing listens on port 1: the connection is refused at once.
    down = replace(settings, database_url="postgresql://nobody@127.0.0.1:1/none")
    app = build_app(runtime=Runtime.from_settings(down))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
