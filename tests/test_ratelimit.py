"""The shared multicast rate: several limiters on one file (as several worker processes) stay
under the rate together."""

from __future__ import annotations

import os
import threading
import time

import pytest

from bot.ratelimit import FileRateLimiter, RedisRateLimiter


def run_together(limiters, per_limiter: int) -> float:
    def work(limiter) -> None:
        for _ in range(per_limiter):
            limiter.acquire()

    threads = [threading.Thread(target=work, args=(lim,)) for lim in limiters]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def test_file_limiters_share_one_rate(tmp_path):
    path = tmp_path / "multicast.rate"
    limiters = [FileRateLimiter(path, rate=100, burst=5) for _ in range(3)]
    elapsed = run_together(limiters, per_limiter=20)  # 60 requests at 100/s, burst 5
    assert elapsed >= (60 - 5) / 100 * 0.95


def test_redis_limiter_shares_one_rate():
    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        limiter = RedisRateLimiter(url, f"test:{time.time_ns()}", rate=10, burst=5)
        limiter.redis.ping()
    except Exception:
        if os.environ.get("TEST_REDIS_URL"):
            raise
        pytest.skip("Redis not reachable (set TEST_REDIS_URL in CI)")
    others = [RedisRateLimiter(url, limiter.key, rate=10, burst=5) for _ in range(2)]
    elapsed = run_together([limiter, *others], per_limiter=8)  # 24 requests at 10/s, burst 5
    assert elapsed >= (24 - 5) / 10 * 0.95


def test_a_redis_limiter_lets_a_full_burst_through_at_once():
    """An idle bucket is full: a second's worth goes at once, as with the file limiter."""
    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        limiter = RedisRateLimiter(url, f"test:{time.time_ns()}", rate=50)
        limiter.redis.ping()
    except Exception:
        if os.environ.get("TEST_REDIS_URL"):
            raise
        pytest.skip("Redis not reachable (set TEST_REDIS_URL in CI)")
    assert run_together([limiter], per_limiter=50) < 0.5
    assert run_together([limiter], per_limiter=10) >= 10 / 50 * 0.9  # then the rate
