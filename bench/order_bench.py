"""Per-user order, loss, duplicates and fairness of the event queue, with 1 and then 3 workers.

Separate processes on loopback, as in production: the LINE simulator, the web (gunicorn,
`bot.wsgi:app`) and 1, then 3, huey consumers (`python -m bot.consumer`, `WORKER_THREADS` each, 8 by default) on
PostgreSQL + Redis. Messages go in through the simulator's control API (/_sim/send), which
signs and posts each one as LINE would; one client thread per user sends that user's messages
one after another, as fast as the webhook acknowledges them (a burst).

Per worker count:
1. throughput: N users × M messages in bursts, all at once; events/s from the first send to
   the last event handled;
2. fairness: one user sends a 1,000-message burst while another user sends a message every
   `--other-every` seconds; the other user's latency is from its send to its answer arriving at
   the simulator.
Out of order: an event of a user handled (handled_at) before an earlier event of that user.
Lost: sent and acknowledged but not handled and answered by the end. Duplicated: an event
answered more than once. The run is bounded: every wait has a deadline (--timeout).

Last line (a contract; "events" = N × M of one run, "workers" = the larger count):
{"events", "workers", "events_per_s_1", "events_per_s_3", "out_of_order", "lost",
 "duplicated", "p99_other_user_ms"}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack
from bench.stack import free_port, percentile, wait_until

TEXT = "ลืมรหัสผ่านครับ"  # an FAQ question: the answer is the real handling path


class Stack(stack.Stack):
    def send(self, user: str, text: str = TEXT) -> str:
        return super().send(user, text)


def send_bursts(stack: Stack, users: list[str], messages: int) -> dict[str, list[str]]:
    """Each user sends `messages` messages one after another; all users at once."""

    def burst(user: str) -> list[str]:
        return [stack.send(user) for _ in range(messages)]

    with ThreadPoolExecutor(max_workers=min(len(users), 16)) as pool:
        return dict(zip(users, pool.map(burst, users), strict=True))


class Queue:
    """What the database says about the events of a run (read only)."""

    def __init__(self, database_url: str) -> None:
        from bot.db import make_engine

        self.engine = make_engine(database_url)

    def settled(self, event_ids: list[str]) -> bool:
        """Every event handled and every answer it caused sent (or failed for good)."""
        from sqlalchemy import func, select

        from bot.models import OutboundMessage, WebhookEvent

        ours = WebhookEvent.webhook_event_id.in_(event_ids)
        with self.engine.connect() as conn:
            handled = conn.scalar(
                select(func.count())
                .select_from(WebhookEvent)
                .where(ours, WebhookEvent.handled_at.is_not(None))
            )
            unsent = conn.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .join(WebhookEvent, OutboundMessage.event_id == WebhookEvent.id)
                .where(ours, OutboundMessage.status == "pending")
            )
        return handled == len(event_ids) and unsent == 0

    def check(self, sent: dict[str, list[str]]) -> dict[str, Any]:
        """Out of order, lost and duplicated among `sent` (user → event ids in send order)."""
        from sqlalchemy import func, select

        from bot.models import OutboundMessage, WebhookEvent

        every = [e for ids in sent.values() for e in ids]
        rows: dict[str, tuple[int, Any, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in range(0, len(every), 500):
                part = every[chunk : chunk + 500]
                for row in conn.execute(
                    select(
                        WebhookEvent.webhook_event_id,
                        WebhookEvent.id,
                        WebhookEvent.handled_at,
                        WebhookEvent.last_error,
                    ).where(WebhookEvent.webhook_event_id.in_(part))
                ):
                    rows[row[0]] = (row[1], row[2], row[3])
            answered = dict(
                conn.execute(
                    select(OutboundMessage.event_id, func.count())
                    .where(OutboundMessage.status == "sent")
                    .group_by(OutboundMessage.event_id)
                ).all()
            )
        out_of_order = lost = duplicated = 0
        for ids in sent.values():
            last = None
            for event_id in ids:
                pk, handled_at, error = rows.get(event_id, (None, None, None))
                if handled_at is None or error is not None or answered.get(pk, 0) == 0:
                    lost += 1
                    continue
                duplicated += max(0, answered[pk] - 1)
                if last is not None and handled_at < last:
                    out_of_order += 1
                last = handled_at if last is None else max(last, handled_at)
        times = [rows[e][1] for e in every if e in rows and rows[e][1] is not None]
        return {
            "out_of_order": out_of_order,
            "lost": lost,
            "duplicated": duplicated,
            "last_handled": max(times) if times else None,
        }


def fairness(stack: Stack, queue: Queue, args: argparse.Namespace) -> dict[str, Any]:
    """One user's burst of `--burst` messages; another user's answer latencies meanwhile."""
    noisy, other = "U" + "b" * 32, "U" + "c" * 32
    latencies: list[float] = []
    other_sent: list[str] = []
    burst_done = threading.Event()

    def burst() -> list[str]:
        try:
            return [stack.send(noisy) for _ in range(args.burst)]
        finally:
            burst_done.set()

    with ThreadPoolExecutor(max_workers=1) as pool:
        burst_ids = pool.submit(burst)
        time.sleep(args.other_every)  # the burst is under way
        while not burst_done.is_set() and len(latencies) < args.other_max:
            before = stack.answers(other)
            started = time.perf_counter()
            other_sent.append(stack.send(other))
            wait_until(
                lambda before=before: stack.answers(other) > before,
                args.timeout,
                "the answer",
                poll_s=0.005,
            )
            latencies.append(time.perf_counter() - started)
            time.sleep(args.other_every)
        sent = {noisy: burst_ids.result(), other: other_sent}
    total = len(sent[noisy]) + len(other_sent)
    wait_until(lambda: queue.settled(sent[noisy] + other_sent), args.timeout, "the burst")
    checked = queue.check(sent)
    checked["other_latencies"] = latencies
    checked["events"] = total
    return checked


def run(workers: int, args: argparse.Namespace) -> dict[str, Any]:
    folder = stack.workdir("order-bench-")
    database_url = stack.fresh_database(args.database_url, args.redis_url, folder)
    web_port, sim_port = free_port(), free_port()
    env = {
        **stack.stack_environment(database_url, args.redis_url, folder, web_port, sim_port),
        "WEB_CONCURRENCY": "2",
    }
    running = Stack(env, workers, web_port, sim_port)
    queue = Queue(database_url)
    try:
        # Each consumer builds the FAQ on its first question (seconds): 40 users at once reach
        # every consumer before the measured part starts.
        warm = send_bursts(running, [f"U{n:032x}" for n in range(40)], 1)
        warm_ids = [e for ids in warm.values() for e in ids]
        wait_until(lambda: queue.settled(warm_ids), args.timeout, "warm-up")

        users = [f"U{n:032x}" for n in range(1000, 1000 + args.users)]
        started = time.perf_counter()
        sent = send_bursts(running, users, args.messages)
        every = [e for ids in sent.values() for e in ids]
        wait_until(lambda: queue.settled(every), args.timeout, "the bursts")
        seconds = time.perf_counter() - started
        checked = queue.check(sent)
        fair = fairness(running, queue, args)
    finally:
        running.stop()
        queue.engine.dispose()
    latencies = fair["other_latencies"]
    result = {
        "workers": workers,
        "events": len(every),
        "seconds": round(seconds, 2),
        "events_per_s": round(len(every) / seconds, 1),
        "out_of_order": checked["out_of_order"] + fair["out_of_order"],
        "lost": checked["lost"] + fair["lost"],
        "duplicated": checked["duplicated"] + fair["duplicated"],
        "burst_events": fair["events"],
        "other_answers": len(latencies),
        "other_p50_ms": round(percentile(latencies, 0.5) * 1000, 1) if latencies else None,
        "other_p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=20, help="per user, in one burst")
    parser.add_argument("--burst", type=int, default=1000, help="the noisy user's messages")
    parser.add_argument("--other-every", type=float, default=0.2, help="seconds between sends")
    parser.add_argument("--other-max", type=int, default=200, help="the other user's messages")
    parser.add_argument("--timeout", type=float, default=300, help="the longest any wait lasts")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL; its public schema is dropped and rebuilt for each run",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    os.environ.pop("QUEUE_IMMEDIATE", None)
    one, three = run(1, args), run(3, args)
    print(
        json.dumps(
            {
                "events": three["events"],
                "workers": 3,
                "events_per_s_1": one["events_per_s"],
                "events_per_s_3": three["events_per_s"],
                "out_of_order": one["out_of_order"] + three["out_of_order"],
                "lost": one["lost"] + three["lost"],
                "duplicated": one["duplicated"] + three["duplicated"],
                "p99_other_user_ms": max(one["other_p99_ms"] or 0, three["other_p99_ms"] or 0),
            }
        )
    )


if __name__ == "__main__":
    main()
