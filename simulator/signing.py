"""How LINE signs a webhook body: base64(HMAC-SHA256(channel secret, raw body))."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(channel_secret: str, body: bytes) -> str:
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
