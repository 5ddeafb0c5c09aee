"""The simulator's HTTP face: LINE Messaging API paths plus a control API and a chat page.

LINE side (what the bot calls), each request validated with the SDK's own request models:
  POST /v2/bot/message/reply | push | multicast | broadcast | narrowcast
  GET  /v2/bot/message/progress/narrowcast?requestId=…
  GET  /v2/bot/profile/<userId>          GET /v2/bot/message/<id>/content
  GET  /v2/bot/message/quota             GET /v2/bot/message/quota/consumption
  GET  /v2/bot/insight/followers?date=yyyyMMdd
  POST /v2/bot/richmenu                  POST /v2/bot/richmenu/<id>/content
  POST /v2/bot/user/all/richmenu/<id>    POST /v2/bot/user/<userId>/richmenu/<id>
  POST /v2/bot/chat/loading/start

Control side (a stable contract for tests, benchmarks and the chat page):
  POST /_sim/send      {"user", "text"|"postback"|"type": follow|unfollow|"image": base64}
  GET  /_sim/messages  ?user=U…[&after=seq]  every message delivered to that user, oldest first
  GET  /_sim/conversation ?user=U…[&after=seq]  both sides of that user's chat, in order
  GET  /_sim/content/<messageId>  an image a simulated user sent (for the chat page)
  GET  /_sim/user ?user=U…   POST /_sim/user {"user", "name"}  one user's LINE display name
  GET  /_sim/stats     request counts by endpoint and status
  GET  /_sim/delivery-counts ?text=…  users reached by that text, and duplicate copies
  GET  /_sim/richmenu  ?user=U…  the rich menu's actions that user sees
  POST /_sim/config    {"faults": {...}, "rate_limits": {...}, "monthly_quota": N}
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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
from flask import Flask, Response, jsonify, request
from linebot.v3.messaging import (
    BroadcastRequest,
    MulticastRequest,
    NarrowcastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
    ShowLoadingAnimationRequest,
)

from simulator import ids
from simulator.signing import sign
from simulator.state import Faults, SimState

MAX_TEXT_UTF16 = 5000
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
MAX_MULTICAST_RECIPIENTS = 500
CONTENT_CHUNK_BYTES = 64 * 1024
STATIC_DIR = Path(__file__).parent / "static"


def line_error(status: int, message: str, details: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


def _validation_details(exc: Exception) -> list[dict[str, str]]:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return [
            {"message": e.get("msg", "invalid"), "property": ".".join(str(p) for p in e["loc"])}
            for e in errors()
        ]
    return [{"message": str(exc).splitlines()[0], "property": "messages"}]


def _text_length_details(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "message": f"Length must be between 0 and {MAX_TEXT_UTF16}",
            "property": f"messages[{i}].text",
        }
        for i, m in enumerate(messages)
        if m.get("type") == "text"
        and len(str(m.get("text", "")).encode("utf-16-le")) // 2 > MAX_TEXT_UTF16
    ]


IMAGE_URL_KEYS = ("originalContentUrl", "previewImageUrl", "url")


def _image_url_details(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """LINE fetches images only over HTTPS. Loopback http is let through so that a bot on
    this machine can show its own files on the chat page (real LINE could not reach it)."""

    def allowed(url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return url.startswith("https://") or (
            url.startswith("http://") and host in {"127.0.0.1", "localhost"}
        )

    details = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "image":
                for key in IMAGE_URL_KEYS:
                    if key in node and not allowed(str(node[key])):
                        details.append(
                            {"message": "must be an HTTPS URL", "property": f"{path}.{key}"}
                        )
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(messages, "messages")
    return details


def create_sim_app(state: SimState) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["SIM_STATE"] = state
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    def endpoint_name() -> str:
        rule = request.url_rule.rule if request.url_rule else request.path
        return f"{request.method} {rule}"

    @app.after_request
    def record(response: Response) -> Response:
        if not request.path.startswith("/_sim") and request.path != "/":
            state.count(endpoint_name(), response.status_code)
        return response

    @app.before_request
    def authenticate() -> Response | None:
        if not request.path.startswith("/v2/"):
            return None
        if state.faults.latency_ms > 0:
            time.sleep(state.faults.latency_ms / 1000)
        if request.headers.get("Authorization", "") != f"Bearer {state.access_token}":
            return line_error(
                401,
                "Authentication failed. Confirm that the access token in the authorization "
                "header is valid.",
            )
        return None

    def parse(model: Any) -> tuple[dict[str, Any] | None, Response | None]:
        raw = request.get_data()
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            return None, line_error(
                400, "The request body has 1 error(s)", _validation_details(exc)
            )
        try:
            model.from_dict(body)
        except Exception as exc:  # pydantic ValidationError or the SDK's discriminator ValueError
            details = _validation_details(exc)
            return None, line_error(400, f"The request body has {len(details)} error(s)", details)
        messages = body.get("messages") or []
        details = _text_length_details(messages) + _image_url_details(messages)
        if details:
            return None, line_error(400, f"The request body has {len(details)} error(s)", details)
        return body, None

    def send(kind: str, model: Any, recipients: Callable[[dict[str, Any]], list[str] | Response]):
        """The common path of every send endpoint, in the order LINE applies its checks."""
        body, error = parse(model)
        if error is not None:
            return error
        assert body is not None
        retry_key = request.headers.get("X-Line-Retry-Key")
        if retry_key is not None:
            if kind == "reply":
                return line_error(400, "The retry key cannot be used with the reply API")
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return line_error(400, "The value of the retry key is invalid")
        if not state.allow(kind) or (kind != "reply" and state.in_429_burst()):
            return line_error(429, "The API rate limit has been exceeded. Try again later.")
        if retry_key is not None:
            accepted = state.accepted_request(retry_key)
            if accepted is not None:
                response = line_error(409, "The retry key is already accepted")
                response.headers["x-line-accepted-request-id"] = accepted
                return response
        if state.roll(state.faults.error_rate):
            return line_error(500, "An error occurred in the server")
        targets = recipients(body)
        if isinstance(targets, Response):
            return targets
        quota = state.monthly_quota
        if kind != "reply" and quota is not None and state.consumption + len(targets) > quota:
            return line_error(429, "You have reached your monthly limit.")
        request_id = ids.request_id()
        if retry_key is not None:
            state.remember_retry_key(retry_key, request_id)
        state.deliver(targets, body["messages"], kind, request_id)
        if kind == "narrowcast":
            state.narrowcasts[request_id] = {
                "phase": "succeeded",
                "successCount": len(targets),
                "failureCount": 0,
                "targetCount": len(targets),
                "acceptedTime": _iso_now(),
                "completedTime": _iso_now(),
            }
        if state.roll(state.faults.lost_response_rate):
            return line_error(500, "An error occurred in the server")
        if kind in {"reply", "push"}:
            sent = [{"id": ids.message_id(), "quoteToken": ids.token()} for _ in body["messages"]]
            response = jsonify({"sentMessages": sent})
        else:
            response = jsonify({})
        if kind == "narrowcast":
            response.status_code = 202
        response.headers["x-line-request-id"] = request_id
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
            if not USER_ID.match(user_id):
                return line_error(
                    400,
                    "The request body has 1 error(s)",
                    [{"message": "invalid user id", "property": f"to[{n}]"}],
                )
        return None

    @app.post("/v2/bot/message/push")
    def push():
        return send(
            "push", PushMessageRequest, lambda body: invalid_to([body["to"]]) or [body["to"]]
        )

    @app.post("/v2/bot/message/multicast")
    def multicast():
        def targets(body: dict[str, Any]) -> list[str] | Response:
            if len(body["to"]) > MAX_MULTICAST_RECIPIENTS:
                return line_error(
                    400,
                    "The request body has 1 error(s)",
                    [{"message": "Size must be between 1 and 500", "property": "to"}],
                )
            return invalid_to(body["to"]) or list(dict.fromkeys(body["to"]))  # once per user

        return send("multicast", MulticastRequest, targets)

    @app.post("/v2/bot/message/broadcast")
    def broadcast():
        return send("broadcast", BroadcastRequest, lambda body: state.followers())

    @app.post("/v2/bot/message/narrowcast")
    def narrowcast():
        return send("narrowcast", NarrowcastRequest, lambda body: state.followers())

    @app.get("/v2/bot/message/progress/narrowcast")
    def narrowcast_progress():
        progress = state.narrowcasts.get(request.args.get("requestId", ""))
        if progress is None:
            return line_error(404, "Not found")
        return jsonify(progress)

    @app.get("/v2/bot/profile/<user_id>")
    def profile(user_id: str):
        user = state.users.get(user_id)
        if user is None:
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
        day = request.args.get("date", "")
        if not re.fullmatch(r"\d{8}", day):
            return line_error(400, "Invalid date format")
        # LINE counts every user who ever added the account, and those blocking it now; the
        # simulator's users are all of them (it has no history of days).
        with state.lock:
            users = list(state.users.values())
        blocks = sum(not u.following for u in users)
        return jsonify(
            {"status": "ready", "followers": len(users), "targetedReaches": 0, "blocks": blocks}
        )

    @app.post("/v2/bot/richmenu")
    def create_rich_menu():
        body, error = parse(RichMenuRequest)
        if error is not None:
            return error
        rich_menu_id = "richmenu-" + ids.token()
        state.rich_menus[rich_menu_id] = body or {}
        return jsonify({"richMenuId": rich_menu_id})

    @app.post("/v2/bot/richmenu/<rich_menu_id>/content")
    def upload_rich_menu_image(rich_menu_id: str):
        if rich_menu_id not in state.rich_menus:
            return line_error(404, "Not found")
        if request.mimetype not in {"image/png", "image/jpeg"}:
            return line_error(400, "Invalid content type")
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
        body, error = parse(ShowLoadingAnimationRequest)
        if error is not None:
            return error
        assert body is not None
        seconds = body.get("loadingSeconds", 20)
        if seconds % 5:
            return line_error(
                400,
                "The request body has 1 error(s)",
                [{"message": "Must be a multiple of 5", "property": "loadingSeconds"}],
            )
        return Response(status=202, response="{}", mimetype="application/json")

    # -- control API ------------------------------------------------------------------------

    @app.post("/_sim/send")
    def sim_send():
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not USER_ID.fullmatch(str(data.get("user", ""))):
            # LINE's ids are U + 32 hex digits; the bot sets aside events with any other.
            return jsonify({"error": 'need {"user": "U" + 32 hex digits, ...}'}), 400
        try:
            event = _build_event(state, data)
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        payload = {"destination": state.bot_user_id, "events": [event]}
        status, text = post_webhook(state, json.dumps(payload, ensure_ascii=False).encode())
        return jsonify({"webhookStatus": status, "webhookBody": text, "event": event}), (
            200 if status == 200 else 502
        )

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
        if "faults" in data:
            state.set_faults(Faults.from_dict(data["faults"]))
        if "rate_limits" in data:
            state.set_rate_limits(
                {k: (float(v[0]), float(v[1])) for k, v in data["rate_limits"].items()}
            )
        if "monthly_quota" in data:
            state.monthly_quota = data["monthly_quota"]
        return jsonify({"faults": state.faults.__dict__, "rate_limits": state.rate_limits})

    @app.get("/")
    def chat_page():
        return Response((STATIC_DIR / "chat.html").read_bytes(), mimetype="text/html")

    return app


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


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


# Webhooks go out over kept-alive connections, as LINE's do.
_webhook_pool = urllib3.PoolManager(maxsize=32, retries=False, timeout=urllib3.Timeout(10))


def post_webhook(state: SimState, body: bytes) -> tuple[int, str]:
    """Sign and deliver a webhook body to the bot, as LINE does."""
    try:
        response = _webhook_pool.request(
            "POST",
            state.webhook_url,
            body=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Line-Signature": sign(state.channel_secret, body),
                "User-Agent": "LineBotWebhook/2.0",
            },
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return 0, f"bot unreachable at {state.webhook_url}: {type(exc).__name__}"
    return response.status, response.data.decode("utf-8", "replace")
