"""POST /callback: verify the signature, store the events, acknowledge, hand work to the worker.

Nothing here calls LINE, so the 200 goes back well within LINE's 2-second limit however slow the
LINE API is. A failed enqueue loses nothing: the event is stored and the sweep finds it.
"""

from __future__ import annotations

import logging
from functools import cache

from flask import Blueprint, Response, current_app, request
from linebot.v3.webhook import SignatureValidator

from bot.event_check import BodyError, parse_body
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


def _read_body(limit: int) -> bytes | None:
    """At most `limit` bytes of the body, or None when it is longer.

    Read from the server's stream, not through `request.get_data()`: for a chunked body (no
    Content-Length) Werkzeug's own limit would cut it short without a word, and the cut body
    would then fail its signature instead of being answered 413.
    """
    if (request.content_length or 0) > limit:
        return None
    stream = request.environ["wsgi.input"]
    if request.content_length is not None:
        body = stream.read(request.content_length)
    elif request.environ.get("wsgi.input_terminated"):  # chunked, decoded by the server
        body = stream.read(limit + 1)
    else:
        body = b""  # neither a length nor a server that ends the stream: nothing to read safely
    return body if len(body) <= limit else None


@bp.post("/callback")
def callback() -> Response:
    rt = runtime()
    body = _read_body(MAX_BODY_BYTES)
    if body is None:
        return _plain(413, "body over 1 MiB")
    signature = request.headers.get("X-Line-Signature")  # header names are case-insensitive
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _plain(400, "body is not UTF-8")
    if not signature or not _validator(rt.settings.channel_secret).validate(text, signature):
        log.warning("webhook with a missing or wrong signature refused")
        return _plain(400, "invalid signature")
    try:
        events = parse_body(text)
    except BodyError as refused:
        return _plain(400, str(refused))
    if not events:
        return _plain(200, "OK")  # LINE's "Verify" button sends an empty list

    # Each event is checked on its own: a malformed one is set aside, the others are kept,
    # and LINE gets its 200 (a 4xx or 5xx would only bring the same body back).
    new_ids = store_new_events(rt.statement_engine, events)
    if new_ids:
        try:
            rt.signal_inbox()
        except Exception:
            log.exception("could not signal the worker; the sweep will pick up %s", new_ids)
    return _plain(200, "OK")
