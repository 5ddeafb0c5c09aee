"""How LINE signs: a webhook body, and a LINE Login (web login) ID token.

Webhook: base64(HMAC-SHA256(channel secret, raw body)) in `X-Line-Signature`.

ID token: a JWT (RFC 7519) in JWS compact form, header `{"typ": "JWT", "alg": "HS256"}`, signed
with HMAC-SHA256 keyed by the LINE Login channel's secret (the secret's characters as UTF-8, not
hex-decoded). LINE: "HS256 … is returned for web login"; ES256 is for the LINE SDK, LIFF and
native apps. Written here with the standard library, on purpose: the tests check these tokens
with Authlib/joserfc, an implementation that owes nothing to this one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

JWT_HEADER = {"typ": "JWT", "alg": "HS256"}


def sign(channel_secret: str, body: bytes) -> str:
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def _hs256(channel_secret: str, signing_input: bytes) -> bytes:
    return hmac.new(channel_secret.encode("utf-8"), signing_input, hashlib.sha256).digest()


def jwt_encode(channel_secret: str, claims: dict[str, Any]) -> str:
    """An HS256 JWT of `claims`, as LINE issues a web login ID token."""
    header = _b64url(json.dumps(JWT_HEADER, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{_b64url(_hs256(channel_secret, signing_input))}"


def jwt_claims_unverified(token: str) -> dict[str, Any]:
    """The payload of a well-formed JWS compact token, its signature NOT checked (to find which
    channel's secret to check it with). ValueError when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWS compact token")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("header or payload is not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header or payload is not a JSON object")
    return claims


def jwt_decode(channel_secret: str, token: str) -> dict[str, Any]:
    """The claims of an HS256 JWT signed with `channel_secret`; ValueError for anything else:
    a malformed token, another algorithm (`none` included) or a wrong signature."""
    claims = jwt_claims_unverified(token)
    header_part, payload_part, signature_part = token.split(".")
    header = json.loads(_b64url_decode(header_part))
    if header.get("alg") != "HS256":
        raise ValueError(f"algorithm {header.get('alg')!r} is not HS256")
    expected = _hs256(channel_secret, f"{header_part}.{payload_part}".encode("ascii"))
    if not hmac.compare_digest(expected, _b64url_decode(signature_part)):
        raise ValueError("signature does not match")
    return claims
