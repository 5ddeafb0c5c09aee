"""The simulator's HTTP face: LINE Messaging API paths plus a control API and a chat page.

LINE side (what the bot calls), each request held to LINE's documented rules (`rules.py`):
  POST /v2/bot/message/reply | push | multicast | broadcast | narrowcast
  GET  /v2/bot/message/progress/narrowcast?requestId=…
  GET  /v2/bot/profile/<userId>          GET /v2/bot/message/<id>/content
  GET  /v2/bot/message/quota             GET /v2/bot/message/quota/consumption
  GET  /v2/bot/insight/followers?date=yyyyMMdd
  POST /v2/bot/richmenu                  POST /v2/bot/richmenu/<id>/content
  POST /v2/bot/user/all/richmenu/<id>    POST /v2/bot/user/<userId>/richmenu/<id>
  POST /v2/bot/chat/loading/start
Every answer carries `x-line-request-id`; JSON bodies must be `application/json` (415), at most
2 MB (413), and hold only properties LINE's model has (400 naming the first other one).

LINE Login v2.1 (the staff console's sign-in: /oauth2/v2.1/authorize, token, verify, revoke,
userinfo, /v2/profile and GET|POST /_sim/login) is `simulator/login.py`.

Control side (a stable contract for tests, benchmarks and the chat page):
  POST /_sim/send      {"user", "text"|"postback"|"type": follow|unfollow|"image": base64}, or
                       {"events": [those, …]}: several events in one webhook POST, in order
  POST /_sim/verify    the console's "Verify": a webhook with an empty events list
  POST /_sim/redeliver {"webhookEventId"}: that event again, as a redelivery
  GET  /_sim/webhooks  one line per webhook POST: event ids, redelivery or not, the bot's status
  GET  /_sim/messages  ?user=U…[&after=seq]  every message delivered to that user, oldest first
  GET  /_sim/conversation ?user=U…[&after=seq]  both sides of that user's chat, in order
  GET  /_sim/content/<messageId>  an image a simulated user sent (for the chat page)
  GET  /_sim/user ?user=U…   POST /_sim/user {"user", "name"}  one user's LINE display name
  GET  /_sim/users     POST /_sim/users {"users": [U…, …], "following": true}  friends in bulk
  POST /_sim/audiences {"audienceGroupId": N, "users": [U…, …]}  an audience for narrowcast
  GET  /_sim/stats     request counts by endpoint and status
  GET  /_sim/delivery-counts ?text=…  users reached by that text, and duplicate copies
  GET  /_sim/richmenu  ?user=U…  the rich menu's actions that user sees
  POST /_sim/config    {"faults", "rate_limits", "monthly_quota", "reply_token_ttl_s",
                        "webhook": {batch_size, batch_wait_s, redelivery, redelivery_attempts,
                        redelivery_delay_s, redeliver_always}, "narrowcast_delay_s",
                        "followers_ready_after_days"}
  GET  /               the chat page
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, jsonify, request
from linebot.v3.messaging import (
    BroadcastRequest,
    MulticastRequest,
    NarrowcastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
    ShowLoadingAnimationRequest,
)

from simulator import ids, login, narrowcast, rules
from simulator.state import Faults, SimState
from simulator.webhooks import Webhooks

USER_ID = re.compile(r"^U[0-9a-f]{32}$")
MAX_MULTICAST_RECIPIENTS = 500
MAX_BODY_BYTES = 2 * 1024 * 1024  # LINE: 413 when a request exceeds 2 MB
CONTENT_CHUNK_BYTES = 64 * 1024
STATIC_DIR = Path(__file__).parent / "static"
LINE_TZ = timezone(timedelta(hours=9))  # LINE's statistics are by days in UTC+9
FIRST_STATISTICS_DAY = date(2016, 11, 1)  # earlier dates: "out_of_service"
# Only these take X-Line-Retry-Key; LINE answers 400 when any other request carries one.
RETRY_KEY_PATHS = {
    "/v2/bot/message/push",
    "/v2/bot/message/multicast",
    "/v2/bot/message/broadcast",
    "/v2/bot/message/narrowcast",
}


def line_error(
    status: int, message: str, details: list[dict[str, str]] | None = None, **extra: Any
) -> Response:
    """LINE's error shape: {"message", "details": [{"message", "property"}], …}."""
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def body_errors(problems: list[rules.Problem]) -> Response:
    details = [p.as_detail() for p in problems]
    return line_error(400, f"The request body has {len(details)} error(s)", details)


def read_json(model: Any) -> tuple[dict[str, Any] | None, Response | None]:
    """The request's JSON body held to LINE's rules, in the order LINE applies them: media type
    (415), size (413), JSON (400), properties LINE's model has (400), then every value (400,
    "The request body has N error(s)", each with its LINE path)."""
    if request.mimetype != "application/json":
        return None, line_error(
            415, f"The content type, {request.mimetype or '-'}, is not supported"
        )
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return None, line_error(413, "The request body exceeds the maximum size of 2MB")
    raw = request.get_data()
    if len(raw) > MAX_BODY_BYTES:
        return None, line_error(413, "The request body exceeds the maximum size of 2MB")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        line, column = getattr(exc, "lineno", "-"), getattr(exc, "colno", "-")
        return None, line_error(
            400, f"The request body could not be parsed as JSON (line: {line}, column: {column})"
        )
    if not isinstance(body, dict):
        return None, line_error(400, "The request body could not be parsed as a JSON object")
    checked = _one_recipient(body, model)
    findings = rules.check(checked, model)
    if findings.unknown:
        where = findings.unknown[0]
        return None, line_error(
            400, f"The property, '{where}', in the request body is invalid (line: -, column: -)"
        )
    if findings.problems:
        return None, body_errors(findings.problems)
    try:
        model.from_dict(checked)  # a backstop: whatever the SDK still refuses, LINE would too
    except Exception as exc:
        return None, body_errors([rules.Problem("", str(exc).splitlines()[0])])
    return body, None


def _one_recipient(body: dict[str, Any], model: Any) -> dict[str, Any]:
    """A multicast's `to` goes through the model with its first id only: the ids have their
    own check (`multicast`: count, form), and 500 of them through the SDK's validators, twice,
    cost more than the rest of the request (profiled: 6 of the simulator's 10 ms)."""
    to = body.get("to")
    if model is MulticastRequest and isinstance(to, list) and to:
        return {**body, "to": to[:1]}
    return body


def create_sim_app(state: SimState) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["SIM_STATE"] = state
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    webhooks = Webhooks(state)
    app.extensions["sim_webhooks"] = webhooks

    def endpoint_name() -> str:
        rule = request.url_rule.rule if request.url_rule else request.path
        return f"{request.method} {rule}"

    @app.after_request
    def record(response: Response) -> Response:
        if request.path.startswith("/v2/"):
            # LINE: every response, errors included, names its request.
            response.headers.setdefault(
                "x-line-request-id", g.get("request_id") or ids.request_id()
            )
        if not request.path.startswith("/_sim") and request.path != "/":
            state.count(endpoint_name(), response.status_code)
        return response

    @app.before_request
    def authenticate() -> Response | None:
        if not request.path.startswith("/v2/") or request.path == login.PROFILE_PATH:
            return None  # LINE Login's profile takes a user's access token (`login.py`)
        g.request_id = ids.request_id()
        if state.faults.latency_ms > 0:
            time.sleep(state.faults.latency_ms / 1000)
        if request.headers.get("Authorization", "") != f"Bearer {state.access_token}":
            return line_error(
                401,
                "Authentication failed. Confirm that the access token in the authorization "
                "header is valid.",
            )
        if "X-Line-Retry-Key" in request.headers and request.path not in RETRY_KEY_PATHS:
            return line_error(400, "The retry key cannot be used with this API")
        return None

    def limited(kind: str) -> Response | None:
        if state.allow(kind):
            return None
        return line_error(429, "The API rate limit has been exceeded. Try again later.")

    def send(kind: str, model: Any, recipients: Callable[[dict[str, Any]], list[str] | Response]):
        """The common path of every send endpoint, in the order LINE applies its checks."""
        body, error = read_json(model)
        if error is not None:
            return error
        assert body is not None
        retry_key = request.headers.get("X-Line-Retry-Key")
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return line_error(400, "The value of the retry key is invalid")
        if not state.allow(kind) or (kind != "reply" and state.in_429_burst()):
            return line_error(429, "The API rate limit has been exceeded. Try again later.")
        if retry_key is not None:
            accepted = state.accepted(retry_key)
            if accepted is not None:
                # LINE's 409: the request that was accepted, and for a push its sentMessages.
                extra = {"sentMessages": accepted.sent_messages} if accepted.sent_messages else {}
                response = line_error(409, "The retry key is already accepted", **extra)
                response.headers["x-line-accepted-request-id"] = accepted.request_id
                return response
        if state.roll(state.faults.error_rate):
            return line_error(500, "An error occurred in the server")
        targets = recipients(body)
        if isinstance(targets, Response):
            return targets
        planned: narrowcast.Plan | None = None
        if kind == "narrowcast":
            chosen = narrowcast.plan(state, body)
            if isinstance(chosen, narrowcast.Refused):
                return body_errors([rules.Problem(chosen.property, chosen.message)])
            planned, targets = chosen, chosen.targets
        quota = state.monthly_quota
        reach = len(state.deliverable(targets))
        if kind != "reply" and quota is not None and state.consumption + reach > quota:
            return line_error(429, "You have reached your monthly limit.")
        request_id: str = g.request_id
        sent = None
        if kind in {"reply", "push"}:
            sent = [{"id": ids.message_id(), "quoteToken": ids.token()} for _ in body["messages"]]
        if retry_key is not None:
            state.remember_retry_key(retry_key, request_id, sent if kind == "push" else None)
        if planned is not None:
            narrowcast.start(state, request_id, planned, body["messages"])
        else:
            reached = state.deliver(targets, body["messages"], kind, request_id)
            if kind == "broadcast":
                with state.lock:
                    state.reached[request_id] = reached
        if state.roll(state.faults.lost_response_rate):
            return line_error(500, "An error occurred in the server")
        response = jsonify({"sentMessages": sent} if sent is not None else {})
        if kind == "narrowcast":
            response.status_code = 202
        return response

    # -- LINE Messaging API -----------------------------------------------------------------

    @app.post("/v2/bot/message/reply")
    def reply():
        def target(body: dict[str, Any]) -> list[str] | Response:
            user_id = state.use_reply_token(body["replyToken"])
            return [user_id] if user_id else line_error(400, "Invalid reply token")

        return send("reply", ReplyMessageRequest, target)

    def invalid_to(ids: list[str]) -> Response | None:
        for n, user_id in enumerate(ids):
            if not isinstance(user_id, str) or not USER_ID.match(user_id):
                return body_errors([rules.Problem(f"to[{n}]", "invalid user id")])
        return None

    @app.post("/v2/bot/message/push")
    def push():
        def target(body: dict[str, Any]) -> list[str] | Response:
            if USER_ID.match(body["to"]) is None:
                return body_errors([rules.Problem("to", "invalid user id")])
            if body["to"] not in state.users:
                # LINE: "Failed to send messages", e.g. for a user ID that does not exist.
                return line_error(400, "Failed to send messages")
            return [body["to"]]  # a user who blocked the bot: 200, nothing delivered

        return send("push", PushMessageRequest, target)

    @app.post("/v2/bot/message/multicast")
    def multicast():
        def targets(body: dict[str, Any]) -> list[str] | Response:
            if len(body["to"]) > MAX_MULTICAST_RECIPIENTS:
                return body_errors([rules.Problem("to", "Size must be between 1 and 500")])
            # Unknown and blocking users are skipped, not refused: a multicast is accepted for
            # the others and charged only for those it reaches.
            return invalid_to(body["to"]) or list(dict.fromkeys(body["to"]))

        return send("multicast", MulticastRequest, targets)

    @app.post("/v2/bot/message/broadcast")
    def broadcast():
        return send("broadcast", BroadcastRequest, lambda body: state.followers())

    @app.post("/v2/bot/message/narrowcast")
    def narrowcast_send():
        return send("narrowcast", NarrowcastRequest, lambda body: [])

    @app.get("/v2/bot/message/progress/narrowcast")
    def narrowcast_progress():
        with state.lock:
            progress = state.narrowcasts.get(request.args.get("requestId", ""))
            progress = dict(progress) if progress is not None else None
        if progress is None:
            return line_error(404, "Not found")
        return jsonify(progress)

    @app.get("/v2/bot/profile/<user_id>")
    def profile(user_id: str):
        user = state.users.get(user_id)
        if user is None or not user.following:
            # LINE: 404 when the user does not exist, is not a friend or blocked the account.
            return line_error(404, "Not found")
        body: dict[str, Any] = {
            "userId": user.user_id,
            "displayName": user.display_name,
            "language": "th",
        }
        if user.picture_url:
            body["pictureUrl"] = user.picture_url
        return jsonify(body)

    @app.get("/v2/bot/message/<message_id>/content")
    def content(message_id: str):
        item = state.content.get(message_id)
        if item is None:
            return line_error(404, "Not found")
        data, mimetype = item

        def chunks():
            # Streamed in pieces, so a client that stops reading stops the transfer; what was
            # written by then is recorded (a closed connection fails the next write).
            sent = 0
            try:
                for start in range(0, len(data), CONTENT_CHUNK_BYTES):
                    yield data[start : start + CONTENT_CHUNK_BYTES]
                    sent = min(len(data), start + CONTENT_CHUNK_BYTES)
            finally:
                state.content_sent[message_id] = sent

        response = Response(chunks(), mimetype=mimetype)
        if message_id not in state.unsized_content:
            response.headers["Content-Length"] = str(len(data))
        return response

    @app.get("/v2/bot/message/quota")
    def quota():
        if state.monthly_quota is None:
            return jsonify({"type": "none"})
        return jsonify({"type": "limited", "value": state.monthly_quota})

    @app.get("/v2/bot/message/quota/consumption")
    def consumption():
        return jsonify({"totalUsage": state.consumption})

    @app.get("/v2/bot/insight/followers")
    def insight_followers():
        refused = limited("followers")
        if refused is not None:
            return refused
        text = request.args.get("date", "")
        try:
            if not re.fullmatch(r"\d{8}", text):
                raise ValueError(text)
            day = datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            return body_errors([rules.Problem("date", "must be a date in the form yyyyMMdd")])
        if day < FIRST_STATISTICS_DAY:
            return jsonify({"status": "out_of_service"})
        # LINE has a day's figures only after it has computed them (UTC+9 days).
        today = datetime.now(LINE_TZ).date()
        if (today - day).days < state.followers_ready_after_days:
            return jsonify({"status": "unready"})
        # LINE counts every user who ever added the account, and those blocking it now; the
        # simulator's users are all of them (it keeps no history of days).
        with state.lock:
            users = list(state.users.values())
        blocks = sum(not u.following for u in users)
        return jsonify(
            {"status": "ready", "followers": len(users), "targetedReaches": 0, "blocks": blocks}
        )

    @app.post("/v2/bot/richmenu")
    def create_rich_menu():
        body, error = read_json(RichMenuRequest)
        if error is not None:
            return error
        refused = limited("richmenu")
        if refused is not None:
            return refused
        rich_menu_id = "richmenu-" + ids.token()
        state.rich_menus[rich_menu_id] = body or {}
        return jsonify({"richMenuId": rich_menu_id})

    @app.post("/v2/bot/richmenu/<rich_menu_id>/content")
    def upload_rich_menu_image(rich_menu_id: str):
        if rich_menu_id not in state.rich_menus:
            return line_error(404, "Not found")
        if request.mimetype not in {"image/png", "image/jpeg"}:
            # LINE: 415 "Media type of the uploaded file is unsupported".
            return line_error(415, f"The content type, {request.mimetype or '-'}, is not supported")
        if rich_menu_id in state.rich_menu_images:
            return line_error(400, "An image has already been uploaded to the richmenu")
        state.rich_menu_images[rich_menu_id] = request.get_data()
        return jsonify({})

    @app.post("/v2/bot/user/all/richmenu/<rich_menu_id>")
    def set_default_rich_menu(rich_menu_id: str):
        if rich_menu_id not in state.rich_menus:
            return line_error(404, "Not found")
        if rich_menu_id not in state.rich_menu_images:
            return line_error(400, "must upload richmenu image before applying it to user")
        state.default_rich_menu = rich_menu_id
        return jsonify({})

    @app.post("/v2/bot/user/<user_id>/richmenu/<rich_menu_id>")
    def link_rich_menu(user_id: str, rich_menu_id: str):
        if rich_menu_id not in state.rich_menus:
            return line_error(404, "Not found")
        if rich_menu_id not in state.rich_menu_images:
            return line_error(400, "must upload richmenu image before applying it to user")
        state.user_rich_menus[user_id] = rich_menu_id
        return jsonify({})

    @app.post("/v2/bot/chat/loading/start")
    def loading():
        body, error = read_json(ShowLoadingAnimationRequest)
        if error is not None:
            return error
        assert body is not None
        refused = limited("loading")
        if refused is not None:
            return refused
        seconds = body.get("loadingSeconds", 20)
        if seconds % 5:
            return body_errors([rules.Problem("loadingSeconds", "Must be a multiple of 5")])
        return Response(status=202, response="{}", mimetype="application/json")

    # -- control API ------------------------------------------------------------------------

    @app.post("/_sim/send")
    def sim_send():
        data = request.get_json(silent=True)
        many = isinstance(data, dict) and isinstance(data.get("events"), list)
        specs = data["events"] if many else [data]
        if not specs or not all(
            isinstance(spec, dict) and USER_ID.fullmatch(str(spec.get("user", "")))
            for spec in specs
        ):
            # LINE's ids are U + 32 hex digits; the bot sets aside events with any other.
            return jsonify({"error": 'need {"user": "U" + 32 hex digits, ...}'}), 400
        try:
            events = [_build_event(state, spec) for spec in specs]
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        # Listed events go in one POST, in order; a single one may join others (batching).
        result = webhooks.deliver(events) if many else webhooks.submit(events)
        answer: dict[str, Any] = {
            "webhookStatus": result.status,
            "webhookBody": result.body,
            "attempts": result.attempts,
        }
        answer.update({"events": events} if many else {"event": events[0]})
        return jsonify(answer), (200 if result.ok else 502)

    @app.post("/_sim/verify")
    def sim_verify():
        result = webhooks.verify()
        return jsonify({"webhookStatus": result.status, "webhookBody": result.body}), (
            200 if result.ok else 502
        )

    @app.post("/_sim/redeliver")
    def sim_redeliver():
        data = request.get_json(silent=True) or {}
        result = webhooks.redeliver(str(data.get("webhookEventId", "")))
        if result is None:
            return jsonify({"error": "no such webhookEventId"}), 404
        return jsonify({"webhookStatus": result.status, "webhookBody": result.body}), (
            200 if result.ok else 502
        )

    @app.get("/_sim/webhooks")
    def sim_webhooks():
        with state.lock:
            return jsonify(list(state.webhook_log))

    @app.get("/_sim/messages")
    def sim_messages():
        user_id = request.args.get("user", "")
        after = request.args.get("after", "0")
        after_seq = int(after) if after.isascii() and after.isdigit() else 0
        return jsonify(state.messages_for(user_id, after_seq))

    @app.get("/_sim/conversation")
    def sim_conversation():
        user_id = request.args.get("user", "")
        after = request.args.get("after", "0")
        return jsonify(state.conversation(user_id, int(after) if after.isdigit() else 0))

    @app.get("/_sim/content/<message_id>")
    def sim_content(message_id: str):
        item = state.content.get(message_id)
        if item is None:
            return jsonify({"error": "no such content"}), 404
        return Response(item[0], mimetype=item[1])

    @app.get("/_sim/user")
    def sim_user():
        user = state.users.get(request.args.get("user", ""))
        if user is None:
            return jsonify({"error": "no such user"}), 404
        return jsonify({"userId": user.user_id, "displayName": user.display_name})

    @app.post("/_sim/user")
    def sim_rename_user():
        """A user changes their LINE display name (the bot sees it in the next profile call)."""
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not USER_ID.match(str(data.get("user", ""))):
            return jsonify({"error": 'need {"user": "U…", "name": "…"}'}), 400
        name = str(data.get("name") or "").strip()
        if not name:
            return jsonify({"error": "the name is empty"}), 400
        user = state.ensure_user(str(data["user"]), name[:20])  # LINE allows 20 characters
        return jsonify({"userId": user.user_id, "displayName": user.display_name})

    @app.post("/_sim/users")
    def sim_register_users():
        """Friends in bulk (benchmarks, tests): LINE knows them, so sends to them are delivered."""
        data = request.get_json(silent=True)
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, list) or not all(
            isinstance(u, str) and USER_ID.fullmatch(u) for u in users
        ):
            return jsonify({"error": 'need {"users": ["U" + 32 hex digits, ...]}'}), 400
        new = state.register_users(users, following=bool(data.get("following", True)))
        return jsonify({"registered": len(users), "new": new, "users": len(state.users)})

    @app.post("/_sim/audiences")
    def sim_audience():
        data = request.get_json(silent=True)
        group = data.get("audienceGroupId") if isinstance(data, dict) else None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(group, int) or not isinstance(users, list):
            return jsonify({"error": 'need {"audienceGroupId": N, "users": ["U…", ...]}'}), 400
        with state.lock:
            state.audiences[group] = [str(u) for u in users]
        return jsonify({"audienceGroupId": group, "users": len(users)})

    @app.get("/_sim/delivery-counts")
    def sim_delivery_counts():
        """For benchmarks: how many users got a text message, and extra copies of it."""
        wanted = request.args.get("text", "")
        with state.lock:
            per_user = Counter(
                d.user_id for d in state.deliveries if d.message.get("text") == wanted
            )
        total = sum(per_user.values())
        return jsonify(
            {"users": len(per_user), "deliveries": total, "duplicates": total - len(per_user)}
        )

    @app.get("/_sim/stats")
    def sim_stats():
        with state.lock:
            return jsonify(
                {
                    "requests": {k: dict(v) for k, v in state.stats.items()},
                    "deliveries": len(state.deliveries),
                    "users": len(state.users),
                    "consumption": state.consumption,
                }
            )

    @app.get("/_sim/richmenu")
    def sim_richmenu():
        """The rich menu this user sees (linked, else the default): its areas' actions."""
        menu_id = state.user_rich_menus.get(request.args.get("user", "")) or state.default_rich_menu
        menu = state.rich_menus.get(menu_id or "")
        if menu is None:
            return jsonify({"richMenuId": None, "actions": []})
        return jsonify(
            {
                "richMenuId": menu_id,
                "chatBarText": menu.get("chatBarText"),
                "actions": [area["action"] for area in menu.get("areas", [])],
            }
        )

    @app.get("/_sim/users")
    def sim_users():
        return jsonify(
            [
                {"userId": u.user_id, "displayName": u.display_name, "following": u.following}
                for u in state.users.values()
            ]
        )

    @app.post("/_sim/config")
    def sim_config():
        data = request.get_json(silent=True) or {}
        try:
            if "faults" in data:
                state.set_faults(Faults.from_dict(data["faults"]))
            if "rate_limits" in data:
                state.set_rate_limits(
                    {k: (float(v[0]), float(v[1])) for k, v in data["rate_limits"].items()}
                )
            if "monthly_quota" in data:
                state.monthly_quota = data["monthly_quota"]
            if "reply_token_ttl_s" in data:
                state.reply_token_ttl_s = float(data["reply_token_ttl_s"])
            if "webhook" in data:
                state.webhook.update(data["webhook"])
            if "narrowcast_delay_s" in data:
                state.narrowcast_delay_s = float(data["narrowcast_delay_s"])
            if "followers_ready_after_days" in data:
                state.followers_ready_after_days = int(data["followers_ready_after_days"])
        except (TypeError, ValueError, AttributeError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify(
            {
                "faults": state.faults.__dict__,
                "rate_limits": state.rate_limits,
                "monthly_quota": state.monthly_quota,
                "reply_token_ttl_s": state.reply_token_ttl_s,
                "webhook": state.webhook.__dict__,
                "narrowcast_delay_s": state.narrowcast_delay_s,
                "followers_ready_after_days": state.followers_ready_after_days,
            }
        )

    @app.get("/")
    def chat_page():
        return Response((STATIC_DIR / "chat.html").read_bytes(), mimetype="text/html")

    app.register_blueprint(login.create_login_blueprint(state))
    return app


def _build_event(state: SimState, data: dict[str, Any]) -> dict[str, Any]:
    """An event exactly as LINE would send it for what the user did."""
    user_id = str(data["user"])
    user = state.ensure_user(user_id, data.get("name"))
    event: dict[str, Any] = {
        "webhookEventId": ids.ulid(),
        "deliveryContext": {"isRedelivery": False},
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "mode": "active",
    }
    if "text" in data:
        user.following = True
        state.record_sent(user_id, {"type": "text", "text": str(data["text"])})
        event["type"] = "message"
        event["message"] = {
            "type": "text",
            "id": ids.message_id(),
            "quoteToken": ids.token(),
            "text": str(data["text"]),
        }
    elif "postback" in data:
        user.following = True
        if data.get("displayText"):  # LINE shows a postback's displayText as the user's message
            state.record_sent(user_id, {"type": "text", "text": str(data["displayText"])})
        event["type"] = "postback"
        event["postback"] = {"data": str(data["postback"])}
    elif "image" in data:
        try:
            raw = base64.b64decode(data["image"], validate=True)
        except ValueError:
            raise ValueError("image must be base64") from None
        user.following = True
        message_id = ids.message_id()
        state.content[message_id] = (raw, str(data.get("mimetype") or "image/jpeg"))
        state.record_sent(user_id, {"type": "image", "url": f"/_sim/content/{message_id}"})
        event["type"] = "message"
        event["message"] = {
            "type": "image",
            "id": message_id,
            "quoteToken": ids.token(),
            "contentProvider": {"type": "line"},
        }
    elif data.get("type") == "follow":
        user.following = True
        state.record_sent(user_id, {"type": "follow"})
        event["type"] = "follow"
        event["follow"] = {"isUnblocked": False}
    elif data.get("type") == "unfollow":
        user.following = False
        state.record_sent(user_id, {"type": "unfollow"})
        event["type"] = "unfollow"
        return event  # LINE gives no reply token for unfollow
    else:
        raise ValueError('need one of "text", "postback", "image" or "type": follow|unfollow')
    event["replyToken"] = state.issue_reply_token(user_id)
    return event
