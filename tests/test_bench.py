"""The benchmarks' own arithmetic: a failed request is counted, never dropped from p99."""

from __future__ import annotations

from bench.webhook_bench import summarize


def test_failed_requests_are_counted_and_rank_slower_than_any_success():
    fast = [0.001] * 97 + [0.002]
    figures = summarize(fast, errors=2, seconds=1.0)
    assert figures["requests"] == 100 and figures["errors"] == 2
    assert figures["error_ratio"] == 0.02
    assert figures["per_s"] == 98  # only acknowledged requests are throughput
    assert figures["p99_ms"] is None  # the 99th request failed: no figure, not 2 ms
    assert figures["p50_ms"] == 1.0


def test_without_failures_p99_is_the_99th_percentile_of_all_requests():
    latencies = [n / 1000 for n in range(1, 101)]  # 1 … 100 ms
    figures = summarize(latencies, errors=0, seconds=2.0)
    assert figures["p99_ms"] == 99.0 and figures["p50_ms"] == 50.0
    assert figures["errors"] == 0 and figures["per_s"] == 50
