"""Ticket sweep over 100,000 open tickets, and ticket creations per second through the webhook.

1. Sweep: 100,000 tickets in every state and age, of which --due are past the region deadline,
   with a coordinator linked in every region and at central. The sweep's transactions are timed
   (each due ticket escalated, its event logged, its notice written to the outbox; it must find
   due rows through indexes, not scan them; the plan of its main query is printed), then the
   delivery of those notices to an in-process LINE simulator. The counts of each are printed.
   SQLite always; PostgreSQL with --database-url.
2. Creations: volunteers send "แจ้งปัญหา …" through the signed webhook; the handling runs inline
   (the worker's code, in this process) and replies go to an in-process LINE simulator.

Last line: {"tickets", "due", then per database (_sqlite, _postgresql; null when not run)
"sweep_s", "deliver_s", "escalated", "logged", "notices", "pushed"; "creations_per_s"}
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

from collections import Counter  # noqa: E402

from sqlalchemy import func, insert, select, text  # noqa: E402

import faq.models  # noqa: E402, F401
import ticketing.models  # noqa: E402, F401
from bot import migrate  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import transaction  # noqa: E402
from bot.models import OutboundMessage, utcnow  # noqa: E402
from bot.outbox import deliver  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.ticket_sweep import sweep_tickets  # noqa: E402
from ticketing import service  # noqa: E402
from ticketing.models import Ticket, TicketEvent, TicketState  # noqa: E402


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


class LocalSimulator:
    """The LINE simulator on a local port, in this process: where the notices are pushed."""

    def __init__(self) -> None:
        import logging
        import threading

        from werkzeug.serving import make_server

        from simulator.app import create_sim_app
        from simulator.state import SimState

        self.state = SimState(
            channel_secret="s", access_token="t", webhook_url="http://127.0.0.1:9/"
        )
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self.server = make_server("127.0.0.1", 0, create_sim_app(self.state), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def link_coordinators(rt: Runtime, sim: LocalSimulator) -> int:
    """One linked coordinator per region and one at central: every escalation reaches someone.
    Each is a friend of the bot on the simulator (LINE refuses a push to an unknown account)."""
    directory = rt.faq.directory
    areas = [("region", region) for region in directory.regions] + [("central", None)]
    codes = []
    with transaction(rt.sessions) as session:
        for n, (level, region) in enumerate(areas):
            code = service.invite_coordinator(
                session, "cli", directory, f"ผู้ประสานงาน {n}", level, region=region
            )
            codes.append(code)
    users = [f"U{'c' * 24}{n:08x}" for n in range(len(codes))]
    sim.state.register_users(users)
    with transaction(rt.sessions) as session:
        for user, code in zip(users, codes, strict=True):
            service.link_coordinator(session, user, code)
    return len(codes)


def count(rt: Runtime, query) -> int:
    with rt.sessions() as session:
        return session.scalar(query)


def time_sweep(url: str, total: int, due: int) -> dict[str, float | int]:
    """One sweep over `total` tickets with `due` of them past the region deadline, then the
    delivery of its notices: the same two steps as `sweep_tickets(send=True)`, timed apart."""
    sim = LocalSimulator()
    settings = Settings(
        database_url=url, channel_secret="s", channel_access_token="t", line_api_base=sim.url
    )
    rt = Runtime.from_settings(settings)
    name = rt.engine.dialect.name
    if name == "postgresql":
        with rt.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(url)
    coordinators = link_coordinators(rt, sim)
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
    explain = "EXPLAIN QUERY PLAN " if name == "sqlite" else "EXPLAIN "
    with rt.engine.connect() as conn:
        plan = [
            " ".join(str(c) for c in row) for row in conn.execute(text(explain + str(compiled)))
        ]
    print(f"{name}: plan of the due-ticket query: {' | '.join(plan)}")

    # 1. The sweep's transactions: each due ticket escalated, its event logged, its notices
    #    rendered into outbox rows (what a crash after this point still delivers).
    started = time.perf_counter()
    changed = sweep_tickets(rt, send=False)
    sweep_s = time.perf_counter() - started
    escalated = count(
        rt,
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.level != "province", Ticket.state == "new"),
    )
    logged = count(
        rt, select(func.count()).select_from(TicketEvent).where(TicketEvent.actor == "system")
    )
    with rt.sessions() as session:
        outbox_ids = list(
            session.scalars(select(OutboundMessage.id).where(OutboundMessage.status == "pending"))
        )

    # 2. Their delivery: every outbox row pushed to the coordinator through the simulator.
    started = time.perf_counter()
    statuses = Counter(deliver(rt, outbox_id) for outbox_id in outbox_ids)
    deliver_s = time.perf_counter() - started
    pushed = len({d.request_id for d in sim.state.deliveries})
    print(
        f"{name}: one sweep over {total:,} open tickets, {coordinators} coordinators linked: "
        f"{sweep_s:.3f} s for {changed} changed ({escalated} escalated, {logged} events logged, "
        f"{len(outbox_ids)} notices written to the outbox); delivering them: {deliver_s:.3f} s "
        f"({dict(statuses)}, {pushed} pushes received by the simulator)"
    )
    if name == "postgresql":
        with rt.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    rt.dispose()
    sim.close()
    return {
        "sweep_s": round(sweep_s, 3),
        "deliver_s": round(deliver_s, 3),
        "escalated": escalated,
        "logged": logged,
        "notices": len(outbox_ids),
        "pushed": pushed,
    }


def time_creations(workdir: Path, count: int) -> float:
    from bot.app import build_app
    from simulator.signing import sign

    sim = LocalSimulator()
    state = sim.state
    url = f"sqlite:///{workdir / 'create.db'}"
    settings = Settings(
        database_url=url,
        channel_secret="s",
        channel_access_token="t",
        line_api_base=sim.url,
        queue_immediate=True,
        inbox_coalesce_s=0,
        drain_recheck_s=0,
    )
    migrate.upgrade(url)
    rt = Runtime.from_settings(settings)
    client = build_app(runtime=rt).test_client()
    with transaction(rt.sessions) as session:
        code = service.invite_coordinator(session, "cli", rt.faq.directory, "ผู้ประสานงาน", "central")
        for n in range(count):
            service.set_province(session, f"U{n:032x}", "สงขลา", rt.faq.directory)
    with transaction(rt.sessions) as session:
        service.link_coordinator(session, "U" + "c" * 32, code)
    state.register_users(["U" + "c" * 32])  # the coordinator is a friend of the bot
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
    sim.close()
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
    results: dict[str, object] = {"tickets": args.tickets, "due": args.due}
    databases = {"sqlite": f"sqlite:///{workdir / 'sweep.db'}", "postgresql": args.database_url}
    for name, url in databases.items():
        figures = time_sweep(url, args.tickets, args.due) if url else {}
        for key in ("sweep_s", "deliver_s", "escalated", "logged", "notices", "pushed"):
            results[f"{key}_{name}"] = figures.get(key)
    results["creations_per_s"] = round(time_creations(workdir, args.creations), 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
