"""The benchmarks' own arithmetic: a failed request is counted, never dropped from p99."""

from __future__ import annotations

from bench.e2e_bench import reply_times
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


def test_e2e_reply_times_pair_the_nth_answer_with_the_nth_question():
    def asked(at: float) -> dict:
        return {"from": "user", "sentAt": at}

    def answer(at: float, request: str) -> dict:
        return {"from": "bot", "sentAt": at, "requestId": request}

    chat = [
        asked(10.0),
        asked(11.0),  # asked again before the first answer came
        answer(11.5, "r1"),
        answer(11.5, "r1"),  # the same answer's second message
        answer(12.0, "r2"),
        asked(13.0),  # never answered
    ]
    waited, missing = reply_times(chat)
    assert waited == [1.5, 1.0] and missing == 1
