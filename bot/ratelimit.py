"""A request rate shared by every worker process: LINE's limits are per channel, not per
process. Redis when REDIS_URL is set (one machine or many), else a lock file under var/
(processes on one machine)."""

from __future__ import annotations

import fcntl
import os
import struct
import time
from pathlib import Path


class FileRateLimiter:
    """Token bucket whose state (tokens, timestamp) lives in a locked file."""

    def __init__(
        self, path: Path, rate: float, per_s: float = 1.0, burst: float | None = None
    ) -> None:
        self.path = path
        self.refill = rate / per_s
        self.capacity = burst if burst is not None else rate
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def _take(self) -> float:
        """Take a token if there is one; else return how long to wait for it."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(self._fd, 16, 0)
            now = time.time()
            tokens, updated = struct.unpack("dd", raw) if len(raw) == 16 else (self.capacity, now)
            tokens = min(self.capacity, tokens + (now - updated) * self.refill)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.refill
            if wait == 0.0:
                tokens -= 1
            os.pwrite(self._fd, struct.pack("dd", tokens, now), 0)
            return wait
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def acquire(self) -> None:
        while (wait := self._take()) > 0:
            time.sleep(wait)


class RedisRateLimiter:
    """A fixed one-second window counter in Redis."""

    def __init__(self, url: str, key: str, rate: int) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        self.key = key
        self.rate = rate

    def acquire(self) -> None:
        while True:
            window = int(time.time())
            key = f"{self.key}:{window}"
            count = self.redis.incr(key)
            if count == 1:
                self.redis.expire(key, 2)
            if count <= self.rate:
                return
            time.sleep(max(0.0, window + 1 - time.time()))
