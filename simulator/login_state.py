"""The LINE Login side of the simulator's memory: channels, pending sign-ins, codes and tokens.

Lifetimes are LINE's (LINE Login v2.1 reference and "Integrating LINE Login with your web app"):
an authorization code lives 10 minutes and is single use, an access token 30 days, a refresh
token 90 days from the access token it came with (refreshing does not extend it). LINE does not
document an ID token's life; the simulator gives it an hour. Every time here is the wall clock
(`clock`, seconds since the epoch, as a JWT's `iat`/`exp` are), and a test may replace `clock`
to step past an expiry without waiting.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass, field

CODE_TTL_S = 10 * 60  # "valid for 10 minutes … can only be used once"
ACCESS_TOKEN_TTL_S = 30 * 86400  # "valid for 30 days"
REFRESH_TOKEN_TTL_S = 90 * 86400  # "valid until 90 days after the access token is issued"
ID_TOKEN_TTL_S = 3600  # not documented by LINE: the simulator's choice
PENDING_TTL_S = 3600  # how long the sign-in page's choice may take (the simulator's choice)
ISSUER = "https://access.line.me"  # the `iss` of every LINE ID token, wherever it is served


@dataclass
class LoginChannel:
    """A LINE Login channel as the LINE Developers console holds it: the channel ID (OAuth
    `client_id`), the channel secret (`client_secret`, and the ID tokens' HS256 key) and the
    callback URLs. LINE compares a request's `redirect_uri`, without its query string, with
    these exactly ("you can add any query parameter"), so no wildcard and no other port."""

    channel_id: str
    channel_secret: str
    redirect_uris: list[str]

    def allows(self, redirect_uri: str) -> bool:
        base = redirect_uri.split("?", 1)[0]
        return "#" not in redirect_uri and base in self.redirect_uris


@dataclass
class Pending:
    """An authorization request shown on the sign-in page, waiting for อนุญาต or ยกเลิก."""

    request_id: str
    channel_id: str
    redirect_uri: str
    state: str
    scopes: list[str]
    nonce: str | None
    max_age: int | None
    code_challenge: str | None
    created_at: float


@dataclass
class Grant:
    """What one sign-in granted: who, to which channel, which scopes (shared by its code, its
    access tokens and its refresh token)."""

    channel_id: str
    user_id: str
    scopes: list[str]
    nonce: str | None
    auth_time: int
    with_auth_time: bool  # max_age was given: LINE then puts auth_time in the ID token


@dataclass
class Code:
    code: str
    grant: Grant
    redirect_uri: str
    code_challenge: str | None
    issued_at: float
    used: bool = False
    # Tokens issued for this code: a second use of the code revokes them (RFC 6749 §4.1.2).
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)


@dataclass
class AccessToken:
    token: str
    grant: Grant
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    grant: Grant
    expires_at: float
    revoked: bool = False


def pkce_s256(code_verifier: str) -> str:
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class LoginState:
    channels: dict[str, LoginChannel] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    code_ttl_s: float = CODE_TTL_S
    access_token_ttl_s: float = ACCESS_TOKEN_TTL_S
    refresh_token_ttl_s: float = REFRESH_TOKEN_TTL_S
    id_token_ttl_s: float = ID_TOKEN_TTL_S
    clock: Callable[[], float] = time.time
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_channel(self, channel: LoginChannel) -> None:
        with self.lock:
            self.channels[channel.channel_id] = channel

    def channel(self, channel_id: str) -> LoginChannel | None:
        with self.lock:
            return self.channels.get(channel_id)

    def authenticate(self, channel_id: str, channel_secret: str) -> LoginChannel | None:
        channel = self.channel(channel_id)
        if channel is None or not secrets.compare_digest(
            channel.channel_secret.encode(), channel_secret.encode()
        ):
            return None
        return channel

    # -- the sign-in page -------------------------------------------------------------------

    def remember(self, pending: Pending) -> None:
        now = self.clock()
        with self.lock:
            for key in [k for k, p in self.pending.items() if now - p.created_at > PENDING_TTL_S]:
                del self.pending[key]
            self.pending[pending.request_id] = pending

    def waiting(self, request_id: str) -> Pending | None:
        """The request still waiting for an answer on the page, if any (left waiting)."""
        with self.lock:
            pending = self.pending.get(request_id)
        if pending is None or self.clock() - pending.created_at > PENDING_TTL_S:
            return None
        return pending

    def take_pending(self, request_id: str) -> Pending | None:
        """The waiting request, once: a page submitted twice grants nothing the second time."""
        with self.lock:
            pending = self.pending.pop(request_id, None)
        if pending is None or self.clock() - pending.created_at > PENDING_TTL_S:
            return None
        return pending

    def issue_code(self, pending: Pending, user_id: str) -> Code:
        now = self.clock()
        grant = Grant(
            channel_id=pending.channel_id,
            user_id=user_id,
            scopes=pending.scopes,
            nonce=pending.nonce,
            auth_time=int(now),
            with_auth_time=pending.max_age is not None,
        )
        code = Code(
            code=secrets.token_urlsafe(15),
            grant=grant,
            redirect_uri=pending.redirect_uri,
            code_challenge=pending.code_challenge,
            issued_at=now,
        )
        with self.lock:
            for key in [k for k, c in self.codes.items() if now - c.issued_at > self.code_ttl_s]:
                del self.codes[key]
            self.codes[code.code] = code
        return code

    # -- tokens ----------------------------------------------------------------------------

    def redeem_code(self, code_value: str, channel_id: str) -> Code | None:
        """The code if `channel_id` may redeem it now. Presenting it uses it up, whatever the
        outcome of the request's other checks: a code is good for one request. A code presented
        again has everything it yielded revoked, and None is returned."""
        now = self.clock()
        with self.lock:
            code = self.codes.get(code_value)
            if code is None or code.grant.channel_id != channel_id:
                return None
            if code.used:
                for token in code.access_tokens:
                    self.access_tokens[token].revoked = True
                for token in code.refresh_tokens:
                    self.refresh_tokens[token].revoked = True
                return None
            code.used = True
            if now - code.issued_at > self.code_ttl_s:
                return None
            return code

    def _new_access_token(self, grant: Grant) -> AccessToken:
        access = AccessToken(
            secrets.token_urlsafe(32), grant, self.clock() + self.access_token_ttl_s
        )
        self.access_tokens[access.token] = access
        return access

    def issue_for_code(self, code: Code) -> tuple[AccessToken, RefreshToken]:
        """An access token and its refresh token for a redeemed code."""
        with self.lock:
            access = self._new_access_token(code.grant)
            refresh = RefreshToken(
                secrets.token_urlsafe(15), code.grant, self.clock() + self.refresh_token_ttl_s
            )
            self.refresh_tokens[refresh.token] = refresh
            code.access_tokens.append(access.token)
            code.refresh_tokens.append(refresh.token)
        return access, refresh

    def issue_for_refresh(self, refresh: RefreshToken) -> AccessToken:
        """A new access token; the refresh token stays as it was (LINE: refreshing does not
        extend its validity)."""
        with self.lock:
            return self._new_access_token(refresh.grant)

    def live_access_token(self, token: str) -> AccessToken | None:
        with self.lock:
            access = self.access_tokens.get(token)
        if access is None or access.revoked or self.clock() >= access.expires_at:
            return None
        return access

    def live_refresh_token(self, token: str, channel_id: str) -> RefreshToken | None:
        with self.lock:
            refresh = self.refresh_tokens.get(token)
        if (
            refresh is None
            or refresh.revoked
            or refresh.grant.channel_id != channel_id
            or self.clock() >= refresh.expires_at
        ):
            return None
        return refresh

    def revoke_access_token(self, token: str, channel_id: str) -> None:
        with self.lock:
            access = self.access_tokens.get(token)
            if access is not None and access.grant.channel_id == channel_id:
                access.revoked = True
