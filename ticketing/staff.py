"""Staff accounts for the console: passwords (argon2id), the TOTP second factor, and sessions.

Coordinators sign in with LINE Login (their LINE account is the one linked by invite code);
central operators and admins with a username, a password and — required for admins — a
six-digit code from an authenticator app. A session is a random token in the browser and its
hash here, so ending one (sign-out, idle timeout, deactivation, a password change) is one
UPDATE that takes effect on the very next request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common.tables import utcnow
from ticketing import audit
from ticketing.authority import Actor, actor_of
from ticketing.errors import Refused, TicketError
from ticketing.models import ROLES, ConsoleSession, Coordinator, StaffLogin

MIN_PASSWORD = 12
# Only the last-seen time of a busy session is written, at most once a minute.
SEEN_EVERY = timedelta(minutes=1)
TOTP_ISSUER = "SmartBMN Desk"

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) parameters
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))

SIGN_IN_REFUSED = "ชื่อผู้ใช้ รหัสผ่าน หรือรหัสยืนยันไม่ถูกต้อง"


class SignInRefused(TicketError):
    """One message for every wrong part, so a guesser learns nothing."""

    def __init__(self) -> None:
        super().__init__(SIGN_IN_REFUSED)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise TicketError(f"รหัสผ่านต้องยาวอย่างน้อย {MIN_PASSWORD} ตัวอักษร")


def create_staff(
    session: Session,
    who: Actor | str,
    username: str,
    name: str,
    role: str,
    password: str,
    with_totp: bool = False,
) -> tuple[Coordinator, str | None]:
    """A central operator or admin with a console password. Returns the person and, when a
    second factor is set (always for admins), its TOTP secret for the authenticator app.
    `who`: an admin (allowed "people") or "cli"."""
    if isinstance(who, Actor):
        who.must("people")
    if role not in ROLES or role == "coordinator":
        raise TicketError("บทบาทต้องเป็น operator หรือ admin (ผู้ประสานงานเข้าระบบด้วย LINE)")
    username = username.strip().lower()
    if not username or not username.replace("-", "").replace(".", "").isalnum():
        raise TicketError("ชื่อผู้ใช้ใช้ได้เฉพาะตัวอักษรอังกฤษ ตัวเลข จุด และขีด")
    if session.scalar(select(StaffLogin.person_id).where(StaffLogin.username == username)):
        raise TicketError(f"มีชื่อผู้ใช้ {username} แล้ว")
    check_new_password(password)
    person = Coordinator(name=name, level="central", role=role)
    session.add(person)
    session.flush()
    secret = pyotp.random_base32() if with_totp or role == "admin" else None
    session.add(
        StaffLogin(
            person_id=person.id,
            username=username,
            password_hash=_hasher.hash(password),
            totp_secret=secret,
        )
    )
    audit.log(session, who, "person.create", audit.person(person.id), f"{role} {username}")
    return person, secret


def totp_uri(username: str, secret: str) -> str:
    """otpauth:// for the authenticator app (shown as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def check_sign_in(
    session: Session, username: str, password: str, code: str, now: datetime | None = None
) -> Coordinator:
    """The person, if the password is right, the code too (when the account has a second
    factor; admins must), and the account is active; otherwise `SignInRefused`."""
    login = session.scalars(
        select(StaffLogin).where(StaffLogin.username == username.strip().lower())
    ).first()
    try:
        _hasher.verify(login.password_hash if login else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise SignInRefused() from None
    if login is None:
        raise SignInRefused()
    person = session.get(Coordinator, login.person_id)
    if person is None or not person.active:
        raise SignInRefused()
    if login.totp_secret:
        if not pyotp.TOTP(login.totp_secret).verify(code.strip(), for_time=now, valid_window=1):
            raise SignInRefused()
    elif person.role == "admin":
        raise SignInRefused()  # an admin without a second factor cannot sign in
    if _hasher.check_needs_rehash(login.password_hash):
        login.password_hash = _hasher.hash(password)
    return person


def change_password(
    session: Session, who: Actor, person_id: int, password: str, now: datetime | None = None
) -> None:
    """Oneself, or an admin for anyone; every session of that person ends."""
    if who.person_id != person_id:
        who.must("people")
    check_new_password(password)
    login = session.get(StaffLogin, person_id)
    if login is None:
        raise TicketError("บัญชีนี้ไม่มีรหัสผ่าน (เข้าระบบด้วย LINE)")
    login.password_hash = _hasher.hash(password)
    login.password_changed_at = now or utcnow()
    end_sessions_of(session, person_id, now)
    audit.log(session, who, "person.password", audit.person(person_id), now=now)


def deactivate(session: Session, who: Actor, person_id: int, now: datetime | None = None) -> None:
    """An admin ends someone's access: LINE actions and console sessions stop at once."""
    who.must("people")
    if who.person_id == person_id:
        raise Refused("ระงับบัญชีของตนเองไม่ได้")
    person = session.get(Coordinator, person_id)
    if person is None:
        raise TicketError("ไม่พบบุคลากรนี้")
    person.active = False
    end_sessions_of(session, person_id, now)
    audit.log(session, who, "person.deactivate", audit.person(person_id), person.name, now=now)


# -- sessions -----------------------------------------------------------------------------------


def start_session(
    session: Session,
    person: Coordinator,
    method: str,
    address: str | None,
    user_agent: str | None,
    now: datetime | None = None,
) -> str:
    """A new session (a new token at every sign-in); the token goes to the browser only."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_token_hash(token),
            person_id=person.id,
            method=method,
            created_at=now,
            last_seen_at=now,
            address=address,
            user_agent=(user_agent or "")[:300],
        )
    )
    audit.log(
        session,
        actor_of(person, "console", address),
        "person.sign-in",
        audit.person(person.id),
        method,
        now=now,
    )
    return token


def session_person(
    session: Session,
    token: str,
    idle: timedelta,
    now: datetime | None = None,
    touch: bool = True,
) -> Coordinator | None:
    """The active person a live session belongs to; None (and the session ended) when it has
    been idle longer than `idle`. `touch=False`: a request the page made by itself (a poll),
    which does not count as activity."""
    now = now or utcnow()
    row = session.scalars(
        select(ConsoleSession).where(
            ConsoleSession.token_hash == _token_hash(token), ConsoleSession.ended_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    if row.last_seen_at < now - idle:
        row.ended_at = now
        return None
    person = session.get(Coordinator, row.person_id)
    if person is None or not person.active:
        return None
    if touch and row.last_seen_at < now - SEEN_EVERY:
        row.last_seen_at = now
    return person


def end_session(session: Session, token: str, now: datetime | None = None) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == _token_hash(token), ConsoleSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
    )


def end_sessions_of(session: Session, person_id: int, now: datetime | None = None) -> int:
    return session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.person_id == person_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
