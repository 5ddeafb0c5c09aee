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


# The file limiter's token bucket, in one atomic step on the Redis server, on the server's clock
# (machines' clocks may differ). Returns how long to wait, 0 when a token was taken.
_TAKE = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 60)
return tostring(wait)
"""


class RedisRateLimiter:
    """The same token bucket as `FileRateLimiter` (`rate` per second, bursts of at most
    `burst`, one second's worth by default), shared through Redis by processes on any number
    of machines. A fixed one-second window, used before, let 2× the rate through across a
    window's edge and made a 300-request announcement wait for the next window."""

    def __init__(self, url: str, key: str, rate: int, burst: float | None = None) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        self.key = key
        self.rate = rate
        self.capacity = burst if burst is not None else rate
        self._take = self.redis.register_script(_TAKE)

    def acquire(self) -> None:
        while (wait := float(self._take(keys=[self.key], args=[self.rate, self.capacity]))) > 0:
            time.sleep(wait)
