"""Everything a process needs to do work, built once from Settings.

The web app, the worker and the tests each hold one `Runtime`; the worker's tasks find theirs
through `get_runtime()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_session_factory
from bot.line_client import LineClient
from bot.media import MediaLinks
from bot.ratelimit import FileRateLimiter, RedisRateLimiter
from faq.directory import Directory
from faq.service import FaqService
from handlers import Dispatcher, build_dispatcher
from ticketing.escalation import Timings

log = logging.getLogger(__name__)


def _signal_worker() -> None:
    from bot.worker import drain_inbox_task

    drain_inbox_task()


class Coalescer:
    """Call `fn` at most once per `window_s` seconds; calls in between are dropped.

    One queue message can announce many events: the worker drains the inbox table, so the
    queue carries "there is work", not the work itself.
    """

    def __init__(self, fn: Callable[[], None], window_s: float) -> None:
        self._fn = fn
        self._window = window_s
        self._last = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._window:
                return
            self._last = now
        self._fn()


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    # "New events are stored": wakes the worker's drain (coalesced; see Coalescer).
    signal_inbox: Callable[[], None] = _signal_worker

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.database_url)
        return cls(
            settings,
            engine,
            make_session_factory(engine),
            build_dispatcher(),
            Coalescer(_signal_worker, settings.inbox_coalesce_s),
        )

    @cached_property
    def statement_engine(self) -> Engine:
        """Single-statement writes on the hot path (the webhook's inbox, "sent" after a send):
        on PostgreSQL an autocommit pool of its own, each statement its own durable
        transaction in one round trip instead of three (BEGIN, statement, COMMIT). On SQLite
        the one engine."""
        if self.engine.dialect.name == "postgresql":
            return make_engine(self.settings.database_url, autocommit=True)
        return self.engine

    @cached_property
    def claims_engine(self) -> Engine:
        """Claims and queue reads (one statement each): as `statement_engine`, and on PostgreSQL
        a commit does not wait for the disk. A claim lost with a database crash costs nothing:
        the handler's commit checks that its claim stands, and the event is claimed again."""
        if self.engine.dialect.name == "postgresql":
            return make_engine(self.settings.database_url, autocommit=True, durable=False)
        return self.engine

    def dispose(self) -> None:
        """Close the pools (tests, and processes that end)."""
        for name in ("statement_engine", "claims_engine"):
            if name in self.__dict__ and self.__dict__[name] is not self.engine:
                self.__dict__[name].dispose()
        self.engine.dispose()

    @cached_property
    def directory(self) -> Directory:
        """Coordinators and provinces (small); the FAQ's matcher is not needed to use it."""
        return Directory()

    @cached_property
    def faq(self) -> FaqService:
        """Knowledge base, directory and matcher: built once, then shared by all threads."""
        return FaqService.load()

    @cached_property
    def timings(self) -> Timings:
        s = self.settings
        return Timings(
            region_after=timedelta(seconds=s.escalate_region_after_s),
            central_after=timedelta(seconds=s.escalate_central_after_s),
            remind_after=timedelta(seconds=s.ticket_remind_after_s),
            close_after=timedelta(seconds=s.ticket_close_after_s),
        )

    @cached_property
    def broadcast_limiter(self) -> FileRateLimiter | RedisRateLimiter:
        """LINE's multicast limit (200/s), shared by every worker process."""
        if self.settings.redis_url:
            return RedisRateLimiter(self.settings.redis_url, "smartbmn:multicast", 200)
        return FileRateLimiter(
            Path(self.settings.huey_sqlite_path).with_suffix(".multicast-rate"), 200
        )

    @cached_property
    def media(self) -> MediaLinks | None:
        """Signed links to ticket screenshots for coordinators' cards. None on a real channel
        without an HTTPS `PUBLIC_URL`: LINE would refuse the whole message, so cards then only
        say how many screenshots the ticket holds."""
        base = self.settings.public_base_url
        if not base.startswith("https://") and self.settings.line_api_base is None:
            log.warning("PUBLIC_URL is not an https:// URL: coordinators will not see screenshots")
            return None
        return MediaLinks(self.settings.channel_secret, base)

    @cached_property
    def line(self) -> LineClient:
        # Built on first use, so CLI commands such as `db upgrade` need no LINE credentials.
        self.settings.require_line_credentials()
        return LineClient(
            self.settings.channel_access_token,
            self.settings.line_api_base,
            timeout_s=self.settings.line_timeout_s,
            max_attempts=self.settings.line_max_attempts,
        )


_current: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    global _current
    with _lock:
        if _current is None:
            _current = Runtime.from_settings(Settings.from_env())
        return _current


def install_runtime(runtime: Runtime | None) -> None:
    """Make `runtime` the one worker tasks use (the app factory and tests call this)."""
    global _current
    with _lock:
        _current = runtime
