"""Helpers for console tests: staff accounts, coordinators, and a test client signed in as one."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from bot.db import transaction
from ticketing import staff
from ticketing.models import Coordinator

PASSWORD = "correct horse battery staple"


def make_staff(runtime, role: str = "operator", username: str | None = None) -> tuple[int, str]:
    """An operator or admin with a password (and a TOTP secret: always for admins)."""
    with transaction(runtime.sessions) as session:
        person, secret = staff.create_staff(
            session, "cli", username or f"{role}1", f"คุณ{role}", role, PASSWORD
        )
        return person.id, secret or ""


def make_coordinator(
    runtime,
    level: str,
    province: str | None = None,
    region: str | None = None,
    line_user_id: str | None = None,
    name: str = "ผู้ประสานงาน",
) -> int:
    """A coordinator already linked to LINE (as after the invite code)."""
    directory = runtime.faq.directory
    if level == "province" and province:
        region = directory.region_of[province]
    with transaction(runtime.sessions) as session:
        person = Coordinator(
            name=name,
            level=level,
            province=province if level == "province" else None,
            region=region if level != "central" else None,
            line_user_id=line_user_id or f"U{abs(hash((level, province, region, name))):032x}"[:33],
        )
        session.add(person)
        session.flush()
        return person.id


def sign_in_as(client, runtime, person_id: int, method: str = "line") -> None:
    """A live console session for `person_id` in `client` (as LINE Login would leave it)."""
    with transaction(runtime.sessions) as session:
        person = session.get(Coordinator, person_id)
        token = staff.start_session(session, person, method, "127.0.0.1", "pytest")
    with client.session_transaction() as cookie:
        cookie["sid"] = token


def csrf_token(client, path: str = "/console/login") -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def post_form(client, path: str, data: dict[str, Any], token_from: str = "/console/login"):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from), **data})
