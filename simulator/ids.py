"""Identifiers shaped like LINE's (ULID webhook event ids, numeric message ids, hex tokens)."""

from __future__ import annotations

import os
import secrets
import time
import uuid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    """26 characters, time-ordered: what LINE uses for `webhookEventId`."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def message_id() -> str:
    return str(secrets.randbelow(10**18 - 10**17) + 10**17)


def token() -> str:
    return secrets.token_hex(16)


def request_id() -> str:
    return str(uuid.uuid4())


def user_id() -> str:
    return "U" + secrets.token_hex(16)
