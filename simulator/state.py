"""The simulator's memory: users, deliveries, reply tokens, retry keys, limits and faults.

One `SimState` per simulator process, guarded by one lock: the simulator is a test double, and a
single lock keeps its bookkeeping obviously right.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from simulator import ids

REPLY_TOKEN_TTL_S = 60.0
RETRY_KEY_TTL_S = 24 * 3600.0

# LINE's per-endpoint rate limits (requests, per seconds).
RATE_LIMITS: dict[str, tuple[float, float]] = {
    "reply": (2000, 1),
    "push": (2000, 1),
    "multicast": (200, 1),
    "broadcast": (60, 3600),
    "narrowcast": (60, 3600),
}


class TokenBucket:
    """`rate` requests per `per` seconds, with at most one period's worth in a burst."""

    def __init__(self, rate: float, per: float, now: float) -> None:
        self.capacity = rate
        self.refill_per_s = rate / per
        self.tokens = rate
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Faults:
    error_rate: float = 0.0  # share of send requests answered 500 before anything is delivered
    lost_response_rate: float = 0.0  # share delivered but answered 500 (the response was "lost")
    latency_ms: float = 0.0  # added to every LINE API request
    burst_429_every_s: float = 0.0  # every N seconds ...
    burst_429_length_s: float = 0.0  # ... send endpoints answer 429 for this long
    seed: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class User:
    user_id: str
    display_name: str
    following: bool = True
    picture_url: str | None = None


@dataclass
class Delivery:
    seq: int
    user_id: str
    via: str
    request_id: str
    at: float
    message: dict[str, Any]


@dataclass
class Sent:
    """What a simulated user did, as their own chat shows it (LINE keeps both sides)."""

    seq: int
    user_id: str
    at: float
    item: dict[str, Any]  # {"type": "text", "text"} | image | postback | follow | unfollow


@dataclass
class SimState:
    channel_secret: str
    access_token: str
    webhook_url: str
    bot_user_id: str = field(default_factory=ids.user_id)
    monthly_quota: int | None = 200_000
    users: dict[str, User] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    by_user: dict[str, list[Delivery]] = field(default_factory=lambda: defaultdict(list))
    sent_by_user: dict[str, list[Sent]] = field(default_factory=lambda: defaultdict(list))
    last_seq: int = 0  # one sequence for both sides of every chat: their order on the page
    # reply token -> (user id, issued at, used)
    reply_tokens: dict[str, tuple[str, float, bool]] = field(default_factory=dict)
    retry_keys: dict[str, tuple[str, float]] = field(default_factory=dict)
    content: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    unsized_content: set[str] = field(default_factory=set)  # served without Content-Length
    # Bytes of each content the simulator wrote before the download ended or was closed.
    content_sent: dict[str, int] = field(default_factory=dict)
    rich_menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    rich_menu_images: dict[str, bytes] = field(default_factory=dict)
    default_rich_menu: str | None = None
    user_rich_menus: dict[str, str] = field(default_factory=dict)
    narrowcasts: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    faults: Faults = field(default_factory=Faults)
    rate_limits: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(RATE_LIMITS))
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    consumption: int = 0
    started_at: float = field(default_factory=time.monotonic)
    lock: threading.RLock = field(default_factory=threading.RLock)
    rng: random.Random = field(default_factory=random.Random)

    # -- bookkeeping ------------------------------------------------------------------------

    def count(self, endpoint: str, status: int) -> None:
        with self.lock:
            row = self.stats[endpoint]
            row[str(status)] = row.get(str(status), 0) + 1

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults
            self.rng = random.Random(faults.seed)
            self.started_at = time.monotonic()

    def set_rate_limits(self, limits: dict[str, tuple[float, float]]) -> None:
        with self.lock:
            self.rate_limits.update(limits)
            self.buckets.clear()

    def allow(self, endpoint: str) -> bool:
        """Rate limit check for send endpoints; False means answer 429."""
        limit = self.rate_limits.get(endpoint)
        if limit is None:
            return True
        now = time.monotonic()
        with self.lock:
            bucket = self.buckets.get(endpoint)
            if bucket is None:
                bucket = self.buckets[endpoint] = TokenBucket(limit[0], limit[1], now)
            return bucket.take(now)

    def in_429_burst(self) -> bool:
        f = self.faults
        if f.burst_429_every_s <= 0 or f.burst_429_length_s <= 0:
            return False
        phase = (time.monotonic() - self.started_at) % f.burst_429_every_s
        return phase >= f.burst_429_every_s - f.burst_429_length_s

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate

    # -- users and tokens -------------------------------------------------------------------

    def ensure_user(self, user_id: str, display_name: str | None = None) -> User:
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                user = self.users[user_id] = User(user_id, display_name or f"ผู้ใช้ {user_id[-4:]}")
            elif display_name:
                user.display_name = display_name
            return user

    def issue_reply_token(self, user_id: str) -> str:
        token = ids.token()
        with self.lock:
            self.reply_tokens[token] = (user_id, time.monotonic(), False)
        return token

    def use_reply_token(self, token: str) -> str | None:
        """The token's user if it is known, unused and under a minute old; marks it used."""
        with self.lock:
            entry = self.reply_tokens.get(token)
            if entry is None:
                return None
            user_id, issued, used = entry
            if used or time.monotonic() - issued > REPLY_TOKEN_TTL_S:
                return None
            self.reply_tokens[token] = (user_id, issued, True)
            return user_id

    def accepted_request(self, retry_key: str) -> str | None:
        """The request id that already used this retry key within 24 hours, if any."""
        with self.lock:
            entry = self.retry_keys.get(retry_key)
            if entry and time.monotonic() - entry[1] < RETRY_KEY_TTL_S:
                return entry[0]
            return None

    def remember_retry_key(self, retry_key: str, request_id: str) -> None:
        with self.lock:
            self.retry_keys[retry_key] = (request_id, time.monotonic())

    # -- deliveries -------------------------------------------------------------------------

    def deliver(
        self, user_ids: list[str], messages: list[dict[str, Any]], via: str, request_id: str
    ) -> None:
        now = time.time()
        with self.lock:
            for user_id in user_ids:
                for message in messages:
                    self.last_seq += 1
                    delivery = Delivery(self.last_seq, user_id, via, request_id, now, message)
                    self.deliveries.append(delivery)
                    self.by_user[user_id].append(delivery)
            if via != "reply":  # replies are free; everything else counts against the quota
                self.consumption += len(user_ids)

    def record_sent(self, user_id: str, item: dict[str, Any]) -> None:
        with self.lock:
            self.last_seq += 1
            self.sent_by_user[user_id].append(Sent(self.last_seq, user_id, time.time(), item))

    def conversation(self, user_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Both sides of one user's chat in the order they happened: what the chat page shows
        after a reload (`from` is "user" or "bot")."""
        with self.lock:  # both sides at one moment: a page polling `after` skips nothing
            sent = [s for s in self.sent_by_user.get(user_id, []) if s.seq > after]
            received = self.messages_for(user_id, after)
        items = [{**s.item, "seq": s.seq, "from": "user", "sentAt": s.at} for s in sent]
        items += [{**m, "from": "bot"} for m in received]
        return sorted(items, key=lambda item: item["seq"])

    def followers(self) -> list[str]:
        with self.lock:
            return [u.user_id for u in self.users.values() if u.following]

    def messages_for(self, user_id: str, after: int = 0) -> list[dict[str, Any]]:
        with self.lock:
            rows = [d for d in self.by_user.get(user_id, []) if d.seq > after]
        return [
            {**d.message, "seq": d.seq, "via": d.via, "sentAt": d.at, "requestId": d.request_id}
            for d in rows
        ]
