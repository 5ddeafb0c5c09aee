"""Server time of the console's queue and ticket pages over 100,000 tickets.

A fresh database (SQLite; PostgreSQL with --database-url, its public schema rebuilt) gets
--tickets tickets spread as a season of the Call Desk leaves them — most closed or resolved, a
few thousand open, at every level, over the directory's provinces (some far busier than
others), LINE and phone, with --messages messages each (2,000,000 rows at the defaults: COPY
on PostgreSQL, Core executemany on SQLite) — and coordinators linked in some provinces and
regions (so some open tickets are unattended). Then, in this process, the app from `build_app`
answers through Flask's test client, and each request is timed:

- the queue as an admin, without filters and with each of a set of filters and searches;
- the queue as the busiest province's coordinator (scoped), with filters;
- the poll as the admin when nothing changed (the page asks every 2 s);
- a ticket page /console/tickets/<id> (another part of the console: skipped, with a message,
  where this branch does not have it yet).

Last line (a contract): {"tickets", "queue_p95_ms", "queue_scoped_p95_ms", "ticket_p95_ms"}
(ticket_p95_ms null when the ticket page was not there). Target: each p95 ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DESCRIPTIONS = (
    "ส่งข้อมูลไม่ได้ ขึ้นข้อความว่าเชื่อมต่อเซิร์ฟเวอร์ไม่สำเร็จ",
    "ลืมรหัสผ่านเข้าแอป Smart Survey",
    "หาครัวเรือนในหมู่บ้านไม่เจอ บ้านเลขที่ไม่อยู่ในรายการ",
    "แอปค้างตอนบันทึกแบบสอบถามหมวดรายได้",
    "รายได้ต่ำกว่า 38,000 บาท ระบบแจ้งเตือน ต้องแก้อย่างไร",
    "พิกัด GPS ไม่ขึ้น ถ่ายรูปบ้านไม่ได้",
    "ต้องการแก้ข้อมูลที่ส่งไปแล้ว",
    "หัวหน้าครัวเรือนอายุต่ำกว่า 15 ปี บันทึกไม่ได้",
    "ไม่มีอินเทอร์เน็ตในพื้นที่ เก็บข้อมูลแบบออฟไลน์ได้ไหม",
    "ติดตั้งแอปไม่ได้ บอกว่าเครื่องไม่รองรับ",
)
VOLUNTEER_SAYS = (
    "ลองแล้วยังไม่ได้ครับ",
    "ขึ้นข้อความเดิมอีกแล้ว",
    "ส่งภาพหน้าจอให้ดูครับ",
    "ตอนนี้ใช้ได้แล้ว ขอบคุณครับ",
    "ต้องกดตรงไหนต่อครับ",
    "เครื่องเป็น Android ครับ",
)
STAFF_SAYS = (
    "รบกวนลองออกจากแอปแล้วเข้าใหม่อีกครั้งครับ",
    "กรุณาอัปเดตแอปเป็นเวอร์ชันล่าสุดครับ",
    "ตรวจสอบให้แล้ว ระบบกลับมาใช้งานได้ครับ",
    "ขอเลขบัตรประชาชนของหัวหน้าครัวเรือนครับ",
    "แก้ไขในระบบให้เรียบร้อยแล้วครับ",
)
RARE_WORD = "รหัสข้อผิดพลาด E-4096"  # in a few messages only: a selective text search


def spread(n: int, rng: random.Random, directory) -> Iterator[dict[str, Any]]:
    """`n` tickets as a season leaves them (ids 1…n, oldest first)."""
    provinces = list(directory.region_of)
    weights = [rng.lognormvariate(0, 0.8) for _ in provinces]
    now = datetime.now(UTC)
    states = ("closed", "resolved", "new", "claimed", "waiting")
    state_weights = (88, 6, 2, 2.5, 1.5)
    topics = list(_labels())
    for ticket_id in range(1, n + 1):
        state = rng.choices(states, state_weights)[0]
        province = rng.choices(provinces, weights)[0]
        phone = rng.random() < 0.15
        if state == "new":
            created = now - timedelta(minutes=rng.uniform(0, 180))
            age = (now - created).total_seconds() / 60
            level = "province" if age < 30 else "region" if age < 60 else "central"
        elif state in ("claimed", "waiting"):
            created = now - timedelta(hours=rng.uniform(0.5, 72))
            level = rng.choices(("province", "region", "central"), (70, 20, 10))[0]
        else:
            created = now - timedelta(days=rng.uniform(0, 60))
            level = rng.choices(("province", "region", "central"), (75, 15, 10))[0]
        claimed_at = (
            None
            if state == "new"
            else min(created + timedelta(minutes=rng.uniform(1, 50)), now - timedelta(minutes=1))
        )
        replied = state in ("waiting", "resolved", "closed") or rng.random() < 0.5
        resolved_at = claimed_at + timedelta(hours=rng.uniform(1, 30)) if claimed_at else None
        yield {
            "id": ticket_id,
            "user_id": None if phone else f"U{rng.randrange(60_000):032x}",
            "channel": "phone" if phone else "line",
            "phone": f"08{rng.randrange(10**8):08d}" if phone else None,
            "display_name": f"อาสาสมัคร {ticket_id % 997}",
            "province": province,
            "region": directory.region_of[province],
            "category": rng.choice(topics) if rng.random() < 0.8 else None,
            "description": rng.choice(DESCRIPTIONS) + f" (หมู่ {ticket_id % 20 + 1})",
            "state": state,
            "level": level,
            "claimed_by": None,  # filled in by the caller (coordinators of the area)
            "created_at": created,
            "claimed_at": claimed_at,
            "last_reply_at": claimed_at + timedelta(minutes=5) if claimed_at and replied else None,
            "reminded_at": None,
            "resolved_at": resolved_at if state in ("resolved", "closed") else None,
            "resolution": "แก้ไขแล้ว" if state in ("resolved", "closed") else None,
            "closed_at": resolved_at + timedelta(days=3) if state == "closed" else None,
            "rating": None,
            "merged_into": None,
        }


def _labels() -> dict[str, str]:
    from faq.kb import load_entries

    return {e.id: e.label for e in load_entries()}


def message_rows(
    ticket: dict[str, Any], per_ticket: int, first_id: int, rng: random.Random
) -> list[tuple]:
    rows = []
    at = ticket["created_at"]
    # Written before now, spaced out over the ticket's life (an open ticket's last one recent).
    step = min(20.0, (datetime.now(UTC) - at).total_seconds() / 60 / (per_ticket + 1))
    staff = f"coordinator:{ticket['claimed_by']}" if ticket["claimed_by"] else "coordinator:1"
    for n in range(per_ticket):
        volunteer = n % 2 == 0 or not ticket["claimed_at"]
        text = rng.choice(VOLUNTEER_SAYS if volunteer else STAFF_SAYS)
        if rng.random() < 0.0005:
            text += " " + RARE_WORD
        at = at + timedelta(minutes=rng.uniform(0.5, 1) * step)
        rows.append(
            (first_id + n, ticket["id"], at, "volunteer" if volunteer else staff, text, False)
        )
    return rows


MESSAGE_COLUMNS = ("id", "ticket_id", "at", "sender", "text", "internal")
EVENT_COLUMNS = ("id", "ticket_id", "at", "actor", "from_state", "to_state", "note")


def load(runtime, tickets: int, per_ticket: int, seed: int) -> dict[str, Any]:
    """Coordinators, then tickets, their messages and events, in bulk. Returns who is who."""
    from sqlalchemy import insert, text

    from bot.db import transaction
    from ticketing import staff
    from ticketing.models import Coordinator, Ticket, TicketEvent, TicketMessage, Volunteer

    engine, directory = runtime.engine, runtime.directory
    rng = random.Random(seed)
    provinces = list(directory.region_of)
    with transaction(runtime.sessions) as session:
        admin, _ = staff.create_staff(
            session, "cli", "bench-admin", "ผู้ดูแลทดสอบ", "admin", "bench password 2563!"
        )
        people: dict[str, list[int]] = {}
        linked = rng.sample(provinces, len(provinces) // 2)
        for n, province in enumerate(provinces):
            person = Coordinator(
                name=f"ผู้ประสานงาน{province}",
                level="province",
                province=province,
                region=directory.region_of[province],
                line_user_id=f"Uprovince{n:024d}" if province in linked else None,
            )
            session.add(person)
            session.flush()
            people[province] = [person.id]
        for n, region in enumerate(directory.regions):
            if n < 3:
                person = Coordinator(
                    name=f"ผู้ประสานงาน{region}",
                    level="region",
                    region=region,
                    line_user_id=f"Uregion{n:025d}",
                )
                session.add(person)
                session.flush()
                people[region] = [person.id]
        admin_id = admin.id

    generated = list(spread(tickets, rng, directory))
    busiest: dict[str, int] = {}
    for t in generated:
        busiest[t["province"]] = busiest.get(t["province"], 0) + 1
        if t["claimed_at"]:
            if t["level"] == "region" and t["region"] in people:
                t["claimed_by"] = people[t["region"]][0]
            elif t["level"] == "central":
                t["claimed_by"] = admin_id
            else:
                t["claimed_by"] = people[t["province"]][0]
    top_province = max(busiest, key=busiest.get)

    volunteers = {
        t["user_id"]: t["province"] for t in generated if t["user_id"] is not None
    }  # the province of their last ticket
    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        vrows = [
            {
                "user_id": u,
                "province": p,
                "following": True,
                "phone": f"09{i:08d}" if i % 10 == 0 else None,
                "updated_at": datetime.now(UTC),
            }
            for i, (u, p) in enumerate(volunteers.items())
        ]
        for i in range(0, len(vrows), 20_000):
            conn.execute(insert(Volunteer), vrows[i : i + 20_000])
        for i in range(0, len(generated), 20_000):
            conn.execute(insert(Ticket), generated[i : i + 20_000])
        message_id, event_id = 1, 1
        if postgres:
            raw = conn.connection.driver_connection
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY ticket_messages ({', '.join(MESSAGE_COLUMNS)}) FROM STDIN") as copy,
            ):
                for t in generated:
                    for row in message_rows(t, per_ticket, message_id, rng):
                        copy.write_row(row)
                    message_id += per_ticket
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY ticket_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy,
            ):
                for t in generated:
                    for row in event_rows(t, event_id):
                        copy.write_row(row)
                        event_id += 1
            for table in ("tickets", "ticket_messages", "ticket_events"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        else:
            batch: list[dict] = []
            events: list[dict] = []
            for t in generated:
                batch += [
                    dict(zip(MESSAGE_COLUMNS, row, strict=True))
                    for row in message_rows(t, per_ticket, message_id, rng)
                ]
                message_id += per_ticket
                for row in event_rows(t, event_id):
                    events.append(dict(zip(EVENT_COLUMNS, row, strict=True)))
                    event_id += 1
                if len(batch) >= 50_000:
                    conn.execute(insert(TicketMessage), batch)
                    conn.execute(insert(TicketEvent), events)
                    batch, events = [], []
            if batch:
                conn.execute(insert(TicketMessage), batch)
            if events:
                conn.execute(insert(TicketEvent), events)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    return {
        "admin": admin_id,
        "province": top_province,
        "coordinator": people[top_province][0],
        "open_ids": [t["id"] for t in generated if t["state"] in ("new", "claimed", "waiting")],
        "province_ids": [t["id"] for t in generated if t["province"] == top_province],
        "phone": next(t["phone"] for t in reversed(generated) if t["phone"]),
        "load_s": time.perf_counter() - started,
        "messages": message_id - 1,
        "open": sum(1 for t in generated if t["state"] in ("new", "claimed", "waiting")),
    }


def event_rows(t: dict[str, Any], first_id: int) -> list[tuple]:
    rows = [(first_id, t["id"], t["created_at"], "volunteer", None, "new", "ส่งถึงระดับจังหวัด")]
    if t["claimed_at"]:
        rows.append((first_id + 1, t["id"], t["claimed_at"], "coordinator", "new", "claimed", None))
    return rows


def timed(client, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(path)
    return time.perf_counter() - started, response.status_code


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def signed_in_client(app, sessions, person_id: int):
    from bot.db import transaction
    from ticketing import staff
    from ticketing.models import Coordinator

    client = app.test_client()
    with transaction(sessions) as session:
        person = session.get(Coordinator, person_id)
        token = staff.start_session(session, person, "password", "127.0.0.1", "bench")
    with client.session_transaction() as cookie:
        cookie["sid"] = token
    return client


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=20, help="per ticket")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per scenario")
    parser.add_argument("--seed", type=int, default=2563)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL (its public schema is rebuilt)"
    )
    args = parser.parse_args(argv)

    import shutil

    from bench.stack import fresh_database, workdir
    from bot.app import build_app
    from bot.config import Settings
    from bot.runtime import Runtime, install_runtime

    scratch = workdir("console-bench-")
    database_url = fresh_database(args.database_url, None, scratch)
    settings = Settings(
        channel_secret="bench-secret",
        channel_access_token="bench-token",
        line_api_base="http://127.0.0.1:9",
        database_url=database_url,
    )
    runtime = Runtime.from_settings(settings)
    try:
        return run(args, runtime, build_app(runtime=runtime))
    finally:
        install_runtime(None)
        runtime.dispose()
        shutil.rmtree(scratch, ignore_errors=True)  # the SQLite file is ~450 MB at the defaults


def run(args, runtime, app) -> dict[str, Any]:
    dialect = runtime.engine.dialect.name
    print(f"loading {args.tickets:,} tickets × {args.messages} messages on {dialect} …", flush=True)
    who = load(runtime, args.tickets, args.messages, args.seed)
    print(
        f"loaded in {who['load_s']:.1f} s: {args.tickets:,} tickets ({who['open']:,} open), "
        f"{who['messages']:,} messages; scoped coordinator: {who['province']} "
        f"({len(who['province_ids']):,} tickets)",
        flush=True,
    )
    labels = runtime.faq.labels  # the FAQ is loaded once per process, before timing
    region = runtime.directory.region_of[who["province"]]
    topic = sorted(labels)[3]
    admin = signed_in_client(app, runtime.sessions, who["admin"])
    scoped = signed_in_client(app, runtime.sessions, who["coordinator"])
    some_open = who["open_ids"][len(who["open_ids"]) // 2]
    filters = [
        "state=new",
        "level=central",
        f"region={region}&channel=phone",
        f"category={topic}",
        "unattended=1",
        f"q=BMN-{some_open:06d}",
        "q=ซิงค์ไม่ผ่าน",
        f"q={RARE_WORD.split()[-1]}",
        f"q={who['phone']}",
        "sort=newest&page=3",
        "state=resolved",
        "mine=1&state=claimed",
    ]
    scoped_filters = [
        "",
        "state=new",
        "state=claimed",
        "channel=line&sort=oldest",
        "q=ลืมรหัสผ่าน",
        "mine=1",
        "unattended=1",
        f"category={topic}",
    ]

    by_path: dict[str, list[float]] = {}

    def measure(who: str, client, paths: list[str]) -> tuple[list[float], list[int]]:
        for path in paths[:3]:  # warm-up: templates, statement caches, the pool
            client.get(path)
        seconds, statuses = [], []
        for n in range(args.requests):
            path = paths[n % len(paths)]
            took, status = timed(client, path)
            seconds.append(took)
            statuses.append(status)
            by_path.setdefault(f"{who} {path.removeprefix('/console')}", []).append(took)
        return seconds, statuses

    results: dict[str, list[float]] = {}
    bad: list[str] = []

    def scenario(name: str, client, paths: list[str], expect: int = 200) -> None:
        who = "coordinator" if client is scoped else "admin"
        seconds, statuses = measure(who, client, paths)
        wrong = [s for s in statuses if s != expect]
        if wrong:
            bad.append(f"{name}: {len(wrong)} answers were not {expect} ({sorted(set(wrong))})")
        results[name] = seconds

    scenario("queue, admin, no filter", admin, ["/console/queue"])
    scenario("queue, admin, filters", admin, [f"/console/queue?{q}" for q in filters])
    scenario(
        f"queue, {who['province']} coordinator",
        scoped,
        [f"/console/queue?{q}" for q in scoped_filters],
    )
    version = _version(admin.get("/console/queue").get_data(as_text=True))
    scenario("poll, nothing changed", admin, [f"/console/queue/poll?v={version}"], expect=204)

    ticket_ids = random.Random(args.seed).sample(
        who["province_ids"], min(20, len(who["province_ids"]))
    )
    probe = admin.get(f"/console/tickets/{ticket_ids[0]}")
    ticket_note = None
    if probe.status_code == 404:
        ticket_note = (
            "ticket page: /console/tickets/<id> answered 404 — the route is not on this branch; "
            "not measured (run again once it is merged)"
        )
    else:
        scenario("ticket page, admin", admin, [f"/console/tickets/{i}" for i in ticket_ids])

    print(f"\n{'what':<44} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, seconds in results.items():
        print(
            f"{name:<44} {len(seconds):>8} {percentile(seconds, 0.5) * 1000:>8.1f} "
            f"{percentile(seconds, 0.95) * 1000:>8.1f} {max(seconds) * 1000:>8.1f}"
        )
    print(f"\n{'each page (median of its requests)':<60} {'ms':>8}")
    for path, seconds in by_path.items():
        print(f"{path[:60]:<60} {percentile(seconds, 0.5) * 1000:>8.1f}")
    if ticket_note:
        print(ticket_note)
    for line in bad:
        print("ERROR", line)

    def p95(*names: str) -> float | None:
        values = [s for n in names if n in results for s in results[n]]
        return round(percentile(values, 0.95) * 1000, 1) if values else None

    figures = {
        "tickets": args.tickets,
        "queue_p95_ms": p95("queue, admin, no filter", "queue, admin, filters"),
        "queue_scoped_p95_ms": p95(f"queue, {who['province']} coordinator"),
        "ticket_p95_ms": p95("ticket page, admin"),
    }
    print(json.dumps(figures))
    if bad:
        raise SystemExit(1)
    return figures


def _version(html: str) -> str:
    import re

    found = re.search(r'id="queue-version" name="v" value="([^"]+)"', html)
    return found.group(1) if found else ""


if __name__ == "__main__":
    main()
