"""A real announcement to N volunteers through the worker, against the LINE simulator.

Separate processes, as in production: the simulator (LINE's real limits: multicast 200/s),
the huey consumer (`python -m bot.consumer`) and this script, on a fresh SQLite database (or
PostgreSQL + Redis: --database-url, --redis-url) with N following volunteers. With --faults the simulator answers 5 % of sends 500 and has 429 bursts,
and the worker is killed (SIGKILL) twice mid-send and restarted. Counts come from the
simulator's own record of deliveries.

Last line (a contract):
{"recipients", "seconds", "floor_seconds", "duplicates", "missing", "peak_rss_mb"}
where floor_seconds = requests needed ÷ 200/s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT = "ประกาศ: ส่งรายงานความก้าวหน้าการจัดเก็บข้อมูล จปฐ. ภายในวันที่ 5 ส.ค. 2563"
FAULTS = {"error_rate": 0.05, "burst_429_every_s": 0.5, "burst_429_length_s": 0.05, "seed": 2563}


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=150_000)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL (its public schema is rebuilt)"
    )
    parser.add_argument("--redis-url", default=None, help="huey and the rate limiter on Redis")
    args = parser.parse_args()
    os.environ.pop("QUEUE_IMMEDIATE", None)

    from bench.stack import call, free_port, fresh_database, wait_until

    workdir = Path(tempfile.mkdtemp(prefix="broadcast-bench-"))
    database_url = fresh_database(args.database_url, args.redis_url, workdir)
    sim_port = free_port()
    env = {
        **os.environ,
        "LINE_CHANNEL_SECRET": "bench-secret",
        "LINE_CHANNEL_ACCESS_TOKEN": "bench-token",
        "LINE_API_BASE": f"http://127.0.0.1:{sim_port}",
        "SIM_PORT": str(sim_port),
        "DATABASE_URL": database_url,
        "HUEY_SQLITE_PATH": str(workdir / "huey.db"),
        "DOTENV_PATH": str(workdir / "none.env"),
        "BROADCAST_LEASE_S": "3",  # a killed worker's batches are taken over after 3 s
        "SIM_WEBHOOK_URL": "http://127.0.0.1:9/",
    }
    env.pop("QUEUE_IMMEDIATE", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    else:
        env.pop("REDIS_URL", None)
    if args.faults:
        env["SIM_FAULTS"] = json.dumps(FAULTS)
    os.environ.update(env)  # this process enqueues on the same queue and database

    from sqlalchemy import func, insert, select

    import broadcast.models  # noqa: F401
    import faq.models  # noqa: F401
    from bot.db import transaction
    from bot.runtime import get_runtime
    from broadcast import service
    from broadcast.models import Announcement, Batch
    from ticketing.models import Volunteer

    rt = get_runtime()
    provinces = list(rt.directory.region_of)
    users = [f"U{n:032x}" for n in range(args.recipients)]
    with rt.engine.begin() as conn:
        rows = [
            {"user_id": u, "province": provinces[n % len(provinces)], "following": True}
            for n, u in enumerate(users)
        ]
        for i in range(0, len(rows), 10_000):
            conn.execute(insert(Volunteer), rows[i : i + 10_000])

    python = sys.executable
    sim = subprocess.Popen(
        [python, "-m", "simulator"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    sim_url = f"http://127.0.0.1:{sim_port}"
    wait_until(lambda: bool(call(f"{sim_url}/_sim/stats")), 120, "the simulator")

    call(f"{sim_url}/_sim/config", {"monthly_quota": None})
    # The volunteers are friends of the bot: LINE delivers a multicast only to accounts it knows.
    for i in range(0, len(users), 50_000):
        call(f"{sim_url}/_sim/users", {"users": users[i : i + 50_000]}, timeout=60)

    def start_worker() -> subprocess.Popen:
        log = open(workdir / "worker.log", "ab")  # noqa: SIM115 (closed with the process)
        return subprocess.Popen(
            [python, "-m", "bot.consumer"], cwd=ROOT, env=env, stdout=log, stderr=log
        )

    def consumer_ready(starts: int) -> None:
        """Until the worker's log says its consumer started (imports take seconds on a busy
        machine): the time measured is the sending, not a process start."""
        log = workdir / "worker.log"
        started = b"Huey consumer started"
        wait_until(lambda: log.read_bytes().count(started) >= starts, 120, "the worker")

    worker = start_worker()
    consumer_ready(1)
    with transaction(rt.sessions) as session:
        audience = service.parse_audience("regions:" + ",".join(rt.directory.regions), rt.directory)
        number = service.create(session, TEXT, audience).id

    from bot.worker import send_announcement_task

    peak = 0.0
    kills = 2 if args.faults else 0
    total_batches = math.ceil(args.recipients / service.BATCH_SIZE)
    kill_at = [total_batches // 3, 2 * total_batches // 3][:kills]
    started = time.perf_counter()
    send_announcement_task(number)
    status = "scheduled"
    while time.perf_counter() - started < 600:
        peak = max(peak, peak_rss_mb(worker.pid))
        with rt.sessions() as session:
            status = session.scalar(select(Announcement.status).where(Announcement.id == number))
            sent = session.scalar(
                select(func.count())
                .select_from(Batch)
                .where(Batch.announcement_id == number, Batch.status != "pending")
            )
        if status in ("sent", "partial", "refused"):
            break
        if kill_at and sent >= kill_at[0]:
            kill_at.pop(0)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            print(f"killed the worker after {sent}/{total_batches} batches; restarting", flush=True)
            worker = start_worker()
            time.sleep(3.5)  # the dead worker's lease runs out
            send_announcement_task(number)  # what the periodic sweep does
        time.sleep(0.05)
    seconds = time.perf_counter() - started

    counts = call(f"{sim_url}/_sim/delivery-counts?" + urllib.parse.urlencode({"text": TEXT}))
    stats = call(f"{sim_url}/_sim/stats")
    worker.send_signal(signal.SIGTERM)
    sim.send_signal(signal.SIGTERM)
    worker.wait(timeout=20)
    sim.wait(timeout=20)

    floor = total_batches / 200
    print(
        f"status {status}; multicast requests by status: {stats['requests'].get('POST /v2/bot/message/multicast')}"
    )
    print(
        f"{args.recipients:,} recipients in {seconds:.2f} s (floor {floor:.2f} s, ratio {seconds / floor:.2f}); "
        f"reached {counts['users']:,}, duplicates {counts['duplicates']}, worker peak RSS {peak:.0f} MB"
    )
    print(
        json.dumps(
            {
                "recipients": args.recipients,
                "seconds": round(seconds, 2),
                "floor_seconds": round(floor, 2),
                "duplicates": counts["duplicates"],
                "missing": args.recipients - counts["users"],
                "peak_rss_mb": round(peak, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
