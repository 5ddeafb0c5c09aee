"""Ticket sweep over 100,000 open tickets, and ticket creations per second through the webhook.

1. Sweep: 100,000 tickets in every state and age, of which --due are past a deadline. One
   `sweep_tickets` run is timed (it must find due rows through indexes, not scan them); the
   plan of its main query is printed. SQLite always; PostgreSQL with --database-url.
2. Creations: volunteers send "แจ้งปัญหา …" through the signed webhook; the handling runs inline
   (the worker's code, in this process) and replies go to an in-process LINE simulator.

Last line: {"tickets", "due", "sweep_s_sqlite", "sweep_s_postgresql", "creations_per_s"}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

os.environ["QUEUE_IMMEDIATE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

import faq.models  # noqa: E402, F401
import ticketing.models  # noqa: E402, F401
from bot import migrate  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import transaction  # noqa: E402
from bot.models import utcnow  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.ticket_sweep import sweep_tickets  # noqa: E402
from ticketing import service  # noqa: E402
from ticketing.models import Ticket, TicketState  # noqa: E402


def seed_tickets(rt: Runtime, total: int, due: int) -> None:
    """`total` tickets; `due` of them unclaimed and past the region deadline, the rest not due."""
    now = utcnow()
    rng = random.Random(7)
    provinces = list(rt.faq.directory.region_of.items())
    rows = []
    for n in range(total):
        province, region = provinces[n % len(provinces)]
        if n < due:
            state, created, claimed = TicketState.NEW, now - timedelta(minutes=40), None
        else:
            state = rng.choice([TicketState.NEW, TicketState.CLAIMED, TicketState.WAITING])
            created = now - timedelta(minutes=rng.randint(0, 25))
            claimed = created if state != TicketState.NEW else None
        rows.append(
            {
                "user_id": f"U{n:032x}",
                "province": province,
                "region": region,
                "description": "ส่งข้อมูลไม่ได้",
                "state": state,
                "level": "province",
                "created_at": created,
                "claimed_at": claimed,
                "last_reply_at": claimed,
            }
        )
    with rt.engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(Ticket), rows[i : i + 5000])


def time_sweep(url: str, total: int, due: int) -> float:
    settings = Settings(database_url=url, channel_secret="s", channel_access_token="t")
    rt = Runtime.from_settings(settings)
    if rt.engine.dialect.name == "postgresql":
        with rt.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(url)
    seed_tickets(rt, total, due)
    with rt.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    query = (
        select(Ticket.id)
        .where(
            Ticket.state == "new",
            Ticket.level == "province",
            Ticket.created_at <= utcnow() - rt.timings.region_after,
        )
        .limit(500)
    )
    compiled = query.compile(rt.engine, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN QUERY PLAN " if rt.engine.dialect.name == "sqlite" else "EXPLAIN "
    with rt.engine.connect() as conn:
        plan = [
            " ".join(str(c) for c in row) for row in conn.execute(text(explain + str(compiled)))
        ]
    print(f"{rt.engine.dialect.name}: plan of the due-ticket query: {' | '.join(plan)}")
    started = time.perf_counter()
    changed = sweep_tickets(rt, send=False)
    seconds = time.perf_counter() - started
    print(
        f"{rt.engine.dialect.name}: one sweep over {total:,} open tickets: {seconds:.3f} s, {changed} changed"
    )
    if rt.engine.dialect.name == "postgresql":
        with rt.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    rt.engine.dispose()
    return seconds


def time_creations(workdir: Path, count: int) -> float:
    from werkzeug.serving import make_server

    from bot.app import build_app
    from simulator.app import create_sim_app
    from simulator.signing import sign
    from simulator.state import SimState

    state = SimState(channel_secret="s", access_token="t", webhook_url="http://127.0.0.1:9/")
    sim = make_server("127.0.0.1", 0, create_sim_app(state), threaded=True)
    import threading

    threading.Thread(target=sim.serve_forever, daemon=True).start()
    url = f"sqlite:///{workdir / 'create.db'}"
    settings = Settings(
        database_url=url,
        channel_secret="s",
        channel_access_token="t",
        line_api_base=f"http://127.0.0.1:{sim.server_port}",
        queue_immediate=True,
        inbox_coalesce_s=0,
        drain_recheck_s=0,
    )
    migrate.upgrade(url)
    rt = Runtime.from_settings(settings)
    client = build_app(runtime=rt).test_client()
    with transaction(rt.sessions) as session:
        code = service.invite_coordinator(session, rt.faq.directory, "ผู้ประสานงาน", "central")
        for n in range(count):
            service.set_province(session, f"U{n:032x}", "สงขลา", rt.faq.directory)
    with transaction(rt.sessions) as session:
        service.link_coordinator(session, "U" + "c" * 32, code)
    bodies = []
    for n in range(count):
        user = f"U{n:032x}"
        event = {
            "type": "message",
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user},
            "webhookEventId": f"create-{n}",
            "deliveryContext": {"isRedelivery": False},
            "replyToken": state.issue_reply_token(user),
            "message": {
                "id": str(n),
                "type": "text",
                "quoteToken": "q",
                "text": f"แจ้งปัญหา ส่งข้อมูลไม่ได้ {n}",
            },
        }
        bodies.append(json.dumps({"destination": "U0", "events": [event]}).encode())
    started = time.perf_counter()
    for body in bodies:
        assert (
            client.post(
                "/callback", data=body, headers={"X-Line-Signature": sign("s", body)}
            ).status_code
            == 200
        )
    seconds = time.perf_counter() - started
    with rt.sessions() as session:
        created = session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    sim.shutdown()
    rate = count / seconds
    print(
        f"ticket creations through the webhook (handled inline, one process): {created} in {seconds:.2f} s = {rate:.0f}/s"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--creations", type=int, default=300)
    parser.add_argument(
        "--database-url", help="PostgreSQL to time too, e.g. postgresql://postgres@127.0.0.1/test"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="escalation-bench-"))
    results = {
        "tickets": args.tickets,
        "due": args.due,
        "sweep_s_sqlite": round(
            time_sweep(f"sqlite:///{workdir / 'sweep.db'}", args.tickets, args.due), 3
        ),
        "sweep_s_postgresql": None,
    }
    if args.database_url:
        results["sweep_s_postgresql"] = round(
            time_sweep(args.database_url, args.tickets, args.due), 3
        )
    results["creations_per_s"] = round(time_creations(workdir, args.creations), 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
