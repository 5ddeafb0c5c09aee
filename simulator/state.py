"""The simulator's memory: users, deliveries, reply tokens, retry keys, limits and faults.

One `SimState` per simulator process, guarded by one lock: the simulator is a test double, and a
single lock keeps its bookkeeping obviously right.

Users are LINE accounts the simulator knows: a user who followed, wrote (`/_sim/send`), was
named (`/_sim/user`) or was registered in bulk (`POST /_sim/users`). LINE refuses a push to an
account it does not know and silently skips one that blocked the bot (see `deliverable`).
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from simulator import ids
from simulator.login_state import LoginState

# LINE: "Reply tokens must be used within one minute after receiving the webhook" (a minute is
# what LINE documents; a shorter life is configurable to test a bot against an early expiry).
REPLY_TOKEN_TTL_S = 60.0
RETRY_KEY_TTL_S = 24 * 3600.0  # LINE: a retry key is remembered for 24 hours

# LINE's per-endpoint rate limits (requests, per seconds), from the reference's "Rate limits".
RATE_LIMITS: dict[str, tuple[float, float]] = {
    "reply": (2000, 1),
    "push": (2000, 1),
    "multicast": (200, 1),
    "broadcast": (60, 3600),
    "narrowcast": (60, 3600),
    "loading": (100, 1),  # Display a loading animation
    "followers": (60, 3600),  # Get number of followers (statistics: 60 an hour)
    "richmenu": (100, 3600),  # Create rich menu
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
class Accepted:
    """A request LINE accepted under a retry key: a repeat gets 409 naming it."""

    request_id: str
    at: float
    sent_messages: list[dict[str, str]] | None  # push only: repeated in the 409 body


@dataclass(slots=True)  # one per message per user reached: 150,000 for one announcement
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
class WebhookSettings:
    """How the simulator delivers webhooks, as a channel's settings and LINE's habits do."""

    # Up to this many events (from `/_sim/send` calls close together) go in one POST; a batch
    # is sent when full or `batch_wait_s` after its first event.
    batch_size: int = 1
    batch_wait_s: float = 0.2
    # The console's "Webhook redelivery": an event the bot did not answer 2xx is sent again
    # (`isRedelivery: true`, the same webhookEventId and reply token).
    redelivery: bool = False
    redelivery_attempts: int = 3
    redelivery_delay_s: float = 0.5
    # Send every event a second time, as a redelivery, even after a 2xx (LINE may: the bot's
    # answer can be lost on the way back). For testing that a bot handles it once.
    redeliver_always: bool = False

    def update(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown webhook setting {key!r}")
            kind = type(getattr(self, key))
            setattr(self, key, kind(value))


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
    reply_token_ttl_s: float = REPLY_TOKEN_TTL_S
    retry_keys: dict[str, Accepted] = field(default_factory=dict)
    content: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    unsized_content: set[str] = field(default_factory=set)  # served without Content-Length
    # Bytes of each content the simulator wrote before the download ended or was closed.
    content_sent: dict[str, int] = field(default_factory=dict)
    rich_menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    rich_menu_images: dict[str, bytes] = field(default_factory=dict)
    default_rich_menu: str | None = None
    user_rich_menus: dict[str, str] = field(default_factory=dict)
    narrowcasts: dict[str, dict[str, Any]] = field(default_factory=dict)
    narrowcast_delay_s: float = 0.5  # "waiting" this long after acceptance, then delivered
    # Who a narrowcast or broadcast reached, by request id (a redelivery recipient names one).
    reached: dict[str, list[str]] = field(default_factory=dict)
    # Audiences a narrowcast can name (`POST /_sim/audiences`): id -> user ids.
    audiences: dict[int, list[str]] = field(default_factory=dict)
    # LINE computes a day's follower statistics after the day ends ("usually about 1 day"):
    # a date (UTC+9) is "ready" once this many days have begun after it. 2: today and
    # yesterday are "unready", the stricter reading.
    followers_ready_after_days: int = 2
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    # LINE Login (`simulator/login.py`): channels, sign-ins, codes and tokens. Its users are
    # `users`, the same simulated LINE accounts the chat page talks as.
    login: LoginState = field(default_factory=LoginState)
    # Every event sent to the bot, by webhookEventId (redelivered from here), and one line per
    # webhook POST: {"events": [ids], "redelivery": bool, "status": int}.
    sent_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_log: list[dict[str, Any]] = field(default_factory=list)
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

    def register_users(self, user_ids: list[str], following: bool = True) -> int:
        """Many friends at once (benchmarks, tests); returns how many were new."""
        with self.lock:
            new = 0
            for user_id in user_ids:
                user = self.users.get(user_id)
                if user is None:
                    self.users[user_id] = User(user_id, f"ผู้ใช้ {user_id[-4:]}", following)
                    new += 1
                else:
                    user.following = following
            return new

    def deliverable(self, user_ids: list[str]) -> list[str]:
        """The users a send reaches, once each: known to LINE and not blocking the bot. LINE
        answers 200 for the others and neither delivers to them nor charges for them."""
        with self.lock:
            users = self.users
            return [u for u in dict.fromkeys(user_ids) if (user := users.get(u)) and user.following]

    def issue_reply_token(self, user_id: str) -> str:
        """A token for an event of `user_id`, who LINE therefore knows."""
        token = ids.token()
        self.ensure_user(user_id)
        with self.lock:
            self.reply_tokens[token] = (user_id, time.monotonic(), False)
        return token

    def reply_token_expired(self, token: str) -> bool:
        with self.lock:
            entry = self.reply_tokens.get(token)
            return entry is None or time.monotonic() - entry[1] > self.reply_token_ttl_s

    def use_reply_token(self, token: str) -> str | None:
        """The token's user if it is known, unused and within its life; marks it used."""
        with self.lock:
            entry = self.reply_tokens.get(token)
            if entry is None:
                return None
            user_id, issued, used = entry
            if used or time.monotonic() - issued > self.reply_token_ttl_s:
                return None
            self.reply_tokens[token] = (user_id, issued, True)
            return user_id

    def accepted(self, retry_key: str) -> Accepted | None:
        """The request that already used this retry key within 24 hours, if any."""
        with self.lock:
            entry = self.retry_keys.get(retry_key)
            if entry and time.monotonic() - entry.at < RETRY_KEY_TTL_S:
                return entry
            return None

    def accepted_request(self, retry_key: str) -> str | None:
        entry = self.accepted(retry_key)
        return entry.request_id if entry else None

    def remember_retry_key(
        self, retry_key: str, request_id: str, sent_messages: list[dict[str, str]] | None = None
    ) -> None:
        with self.lock:
            self.retry_keys[retry_key] = Accepted(request_id, time.monotonic(), sent_messages)

    # -- deliveries -------------------------------------------------------------------------

    def deliver(
        self, user_ids: list[str], messages: list[dict[str, Any]], via: str, request_id: str
    ) -> list[str]:
        """Deliver to those of `user_ids` LINE can reach (`deliverable`); returns them."""
        now = time.time()
        with self.lock:
            reached = self.deliverable(user_ids)
            seq, everyone, by_user = self.last_seq, self.deliveries, self.by_user
            for user_id in reached:
                mine = by_user[user_id]
                for message in messages:
                    seq += 1
                    delivery = Delivery(seq, user_id, via, request_id, now, message)
                    everyone.append(delivery)
                    mine.append(delivery)
            self.last_seq = seq
            if via != "reply":  # replies are free; the rest count per user reached
                self.consumption += len(reached)
            return reached

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
