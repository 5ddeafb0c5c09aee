"""Ticket screenshots for coordinators: signed, expiring links served by the web app.

LINE shows an image only from a URL it can fetch (HTTPS on the real platform), so the bot
serves the stored bytes itself. A link carries its expiry and an HMAC of (image id, expiry)
keyed from the channel secret: nobody can reach another ticket's screenshot by changing the
number, and a leaked link stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, request

LINK_TTL_S = 30 * 86400  # long enough for a ticket's whole life, escalations and reopening
PATH = "/media/ticket-images/"
EXPIRES = re.compile(r"[0-9]{1,12}")  # Unix seconds, good until the year 33658
SIGNATURE = re.compile(r"[0-9a-f]{64}")  # HMAC-SHA256, hex
MAX_IMAGE_ID = 2**31 - 1  # ids live in 32-bit INTEGER columns (PostgreSQL refuses more)

bp = Blueprint("media", __name__)


class MediaLinks:
    def __init__(
        self,
        channel_secret: str,
        public_url: str,
        ttl_s: float = LINK_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A key of its own, so a link's signature can never stand in for a webhook's.
        self._key = hashlib.sha256(b"smartbmn-media:" + channel_secret.encode()).digest()
        self._base = public_url.rstrip("/")
        self._ttl = ttl_s
        self._clock = clock

    def _signature(self, image_id: int, expires: int) -> str:
        message = f"ticket-image:{image_id}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, image_id: int) -> str:
        expires = int(self._clock() + self._ttl)
        return f"{self._base}{PATH}{image_id}?e={expires}&s={self._signature(image_id, expires)}"

    def verify(self, image_id: int, expires: str, signature: str) -> bool:
        # ASCII only: "²".isdigit() is True but int("²") fails, and compare_digest refuses
        # non-ASCII text; such a link was never made here.
        if not (EXPIRES.fullmatch(expires) and SIGNATURE.fullmatch(signature)):
            return False
        if int(expires) < self._clock():
            return False
        return hmac.compare_digest(self._signature(image_id, int(expires)), signature)


def image_type(content: bytes) -> str:
    """The content type from the file's first bytes (LINE's content API sends JPEG or PNG)."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"GIF8"):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


@bp.get(PATH + "<int:image_id>")
def ticket_image(image_id: int) -> Response:
    from ticketing.models import TicketImage

    runtime = current_app.extensions["smartbmn"]
    links: MediaLinks | None = runtime.media
    if links is None or image_id > MAX_IMAGE_ID:  # no public URL: links were never handed out
        abort(404)
    if not links.verify(image_id, request.args.get("e", ""), request.args.get("s", "")):
        abort(403)
    with runtime.sessions() as session:
        image = session.get(TicketImage, image_id)
        if image is None:
            abort(404)
        content, content_type = image.content, image.content_type
    response = Response(content, mimetype=content_type)
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
