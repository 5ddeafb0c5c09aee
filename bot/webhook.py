"""POST /callback: verify the signature, store the events, acknowledge, hand work to the worker.

Nothing here calls LINE, so the 200 goes back well within LINE's 2-second limit however slow the
LINE API is. A failed enqueue loses nothing: the event is stored and the sweep finds it.
"""

from __future__ import annotations

import json
import logging
from functools import cache

from flask import Blueprint, Response, current_app, request
from linebot.v3.webhook import SignatureValidator

from bot.inbox import store_new_events
from bot.runtime import Runtime

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)

MAX_BODY_BYTES = 1024 * 1024


@cache
def _validator(channel_secret: str) -> SignatureValidator:
    return SignatureValidator(channel_secret)


def runtime() -> Runtime:
    return current_app.extensions["smartbmn"]


def _plain(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="text/plain")


@bp.post("/callback")
def callback() -> Response:
    rt = runtime()
    body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    signature = request.headers.get("X-Line-Signature")  # header names are case-insensitive
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _plain(400, "body is not UTF-8")
    if not signature or not _validator(rt.settings.channel_secret).validate(text, signature):
        log.warning("webhook with a missing or wrong signature refused")
        return _plain(400, "invalid signature")
    try:
        payload = json.loads(text)
    except ValueError:
        return _plain(400, "malformed JSON")
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        return _plain(400, "no events list")
    if not events:
        return _plain(200, "OK")  # LINE's "Verify" button sends an empty list

    new_ids = store_new_events(rt.inbox_engine, events)
    if new_ids:
        try:
            rt.signal_inbox()
        except Exception:
            log.exception("could not signal the worker; the sweep will pick up %s", new_ids)
    return _plain(200, "OK")
