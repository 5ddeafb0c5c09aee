"""Answers at a steady question rate, end to end: simulator → webhook → queue → worker → LINE.

The service runs as `make run` runs it (the simulator, gunicorn with `bot.wsgi:app`, one huey
consumer), on SQLite by default or on PostgreSQL + Redis (--database-url, --redis-url). `--users`
volunteers each ask an FAQ question once every `users ÷ rate` seconds, on a fixed schedule (an
open loop: a slow service does not slow the questions down), through the simulator's control
API, which signs and posts each one as LINE does. Questions are real held-out volunteer
questions (faq/data/blindB.jsonl) about plain FAQ topics.

Reply time is taken from the simulator's own record: from the moment the simulated user sent the
question to the moment LINE received the answer. Per user, answers arrive in order (the bot's
per-user ordering), so the n-th answer (a LINE request id) answers the n-th question. A question
without an answer `--grace` seconds after the last one was sent is unanswered.

It also prints the CPU time each process used per question while the questions came (simulator,
web, worker, the load generator itself): where a machine's two cores go.

Last line (a contract): {"rate", "sent", "unanswered", "p50_ms", "p99_ms"}
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from bench.stack import (
    ROOT,
    Stack,
    free_port,
    fresh_database,
    percentile,
    stack_environment,
    wait_until,
    workdir,
)

# Topics whose answer starts a conversation (a ticket, a province question): asked once a
# second, they would measure that conversation, not answering.
CONVERSATION_TOPICS = {
    "open-ticket",
    "ticket-status",
    "coordinator-province",
    "coordinator-region",
    "thanks",
    "greeting",
}


def questions(seed: int = 2563) -> list[str]:
    rows = [
        json.loads(line)
        for line in (ROOT / "faq/data/blindB.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = [r["q"] for r in rows if r.get("id") and r["id"] not in CONVERSATION_TOPICS and r["q"]]
    random.Random(seed).shuffle(texts)
    return texts


def reply_times(conversation: list[dict[str, Any]]) -> tuple[list[float], int]:
    """One user's chat as the simulator recorded it → (seconds from each question to its
    answer, questions without one). An answer is one LINE request (its messages share a request
    id); the bot answers a user's questions in order, so the n-th answer is the n-th question's."""
    asked: list[float] = []
    answers: OrderedDict[str, float] = OrderedDict()
    for item in conversation:
        if item["from"] == "user":
            asked.append(item["sentAt"])
        else:
            answers.setdefault(item["requestId"], item["sentAt"])
    times = list(answers.values())
    return [a - q for q, a in zip(asked, times, strict=False)], max(0, len(asked) - len(times))


class Sender:
    """Posts to the simulator's /_sim/send over one kept-alive connection per thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def send(self, user: str, text: str) -> int:
        body = json.dumps({"user": user, "text": text}).encode()
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, 30)
            try:
                conn.request("POST", "/_sim/send", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = json.loads(response.read())
                return int(answer.get("webhookStatus", 0))
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def load(stack: Stack, sim_port: int, args: argparse.Namespace) -> dict[str, Any]:
    """Send `rate` questions a second for `seconds`; each user asks once every users/rate s."""
    texts = questions()
    users = [f"U{0xE2E00000 + n:032x}" for n in range(args.users)]
    total = int(args.rate * args.seconds)
    jobs: queue.Queue[tuple[str, str] | None] = queue.Queue()
    sender = Sender(sim_port)
    refused = 0
    late: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        nonlocal refused
        while (job := jobs.get()) is not None:
            status = sender.send(*job)
            if status != 200:
                with lock:
                    refused += 1

    threads = [threading.Thread(target=work, daemon=True) for _ in range(args.senders)]
    for thread in threads:
        thread.start()
    cpu_before = stack.cpu_seconds() | {"load generator": _own_cpu_seconds()}
    started = time.perf_counter()
    for k in range(total):
        due = started + k / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            late.append(-delay)
        jobs.put((users[k % len(users)], texts[k % len(texts)]))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    send_seconds = time.perf_counter() - started
    cpu_after = stack.cpu_seconds() | {"load generator": _own_cpu_seconds()}
    cpu_ms = {
        name: round((cpu_after[name] - cpu_before[name]) * 1000 / total, 2)
        for name in cpu_after
        if name in cpu_before
    }

    # Answers: wait until every question has one, or `grace` seconds have passed.
    def answered() -> tuple[list[float], int]:
        latencies: list[float] = []
        missing = 0
        for user in users:
            waited, unanswered = reply_times(stack.conversation(user))
            latencies += waited
            missing += unanswered
        return latencies, missing

    result: dict[str, Any] = {}

    def settled() -> bool:
        latencies, missing = answered()
        result.update(latencies=latencies, missing=missing)
        return missing == 0

    with contextlib.suppress(TimeoutError):
        wait_until(settled, args.grace, "answers", poll_s=1.0)
    return {
        "sent": total,
        "refused": refused,
        "send_seconds": send_seconds,
        "late_sends": len(late),
        "max_late_ms": round(max(late, default=0) * 1000, 1),
        "cpu_ms_per_question": cpu_ms,
        **result,
    }


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def warm_up(stack: Stack, sim_port: int) -> None:
    """Each consumer thread's first question builds the FAQ (seconds): not part of the rate."""
    sender = Sender(sim_port)
    users = [f"U{0xAAAA0000 + n:032x}" for n in range(8)]
    for user in users:
        sender.send(user, "ลืมรหัสผ่าน")
    wait_until(lambda: all(stack.answers(u) for u in users), 180, "the warm-up answers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="questions per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long questions come")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--senders", type=int, default=32, help="load generator threads")
    parser.add_argument("--grace", type=float, default=15.0, help="seconds to wait for answers")
    parser.add_argument("--workers", type=int, default=1, help="huey consumer processes")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL (its public schema is rebuilt)"
    )
    parser.add_argument("--redis-url", default=None, help="huey on Redis (with PostgreSQL)")
    args = parser.parse_args()
    os.environ.pop("QUEUE_IMMEDIATE", None)

    folder = workdir("e2e-bench-")
    database_url = fresh_database(args.database_url, args.redis_url, folder)
    web_port, sim_port = free_port(), free_port()
    env = stack_environment(database_url, args.redis_url, folder, web_port, sim_port)
    stack = Stack(env, args.workers, web_port, sim_port)
    try:
        warm_up(stack, sim_port)
        measured = load(stack, sim_port, args)
    finally:
        stack.stop()
    latencies = measured["latencies"]
    backend = "PostgreSQL + Redis" if args.database_url else "SQLite"
    print(
        f"{backend}: {measured['sent']} questions at {args.rate:g}/s from {args.users} users "
        f"(sent in {measured['send_seconds']:.1f} s, {measured['late_sends']} sends late, "
        f"worst {measured['max_late_ms']} ms; webhook refused {measured['refused']}); "
        f"logs in {folder}",
        flush=True,
    )
    print(f"CPU ms per question while sending: {measured['cpu_ms_per_question']}", flush=True)
    print(
        json.dumps(
            {
                "rate": args.rate,
                "sent": measured["sent"],
                "unanswered": measured["missing"],
                "p50_ms": round(percentile(latencies, 0.5) * 1000, 1) if latencies else None,
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
            }
        )
    )


if __name__ == "__main__":
    main()
