"""The console queue: who sees which tickets, filters and counts, search, the time left before
the next escalation, and the poll that answers 204 until something the person sees changes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import transaction
from common.tables import utcnow
from console.queue import clock, clock_class
from tests.console_support import make_coordinator, make_staff, sign_in_as
from ticketing import service
from ticketing.authority import actor_of
from ticketing.escalation import Timings
from ticketing.models import (
    ConsoleSession,
    Coordinator,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketState,
    Volunteer,
)
from ticketing.queue import (
    QueueFilter,
    changed_since,
    countdown,
    parse_filter,
    parse_search,
    queue_page,
)

TIMINGS = Timings(
    region_after=timedelta(minutes=30),
    central_after=timedelta(minutes=60),
    remind_after=timedelta(minutes=30),
)
SOUTH, NORTH = "ภาคใต้", "ภาคเหนือ"


def add_ticket(runtime, province: str = "สงขลา", **fields) -> int:
    """A ticket as the bot leaves it (with its opening event), any fields overridden."""
    region = runtime.directory.region_of[province]
    values = {
        "user_id": "U" + "1" * 32,
        "province": province,
        "region": region,
        "description": "ส่งข้อมูลไม่ได้",
        "state": TicketState.NEW,
        "level": "province",
        "created_at": utcnow(),
        **fields,
    }
    with transaction(runtime.sessions) as session:
        ticket = Ticket(**values)
        session.add(ticket)
        session.flush()
        session.add(TicketEvent(ticket_id=ticket.id, actor="volunteer", to_state=ticket.state))
        return ticket.id


def actor(runtime, person_id: int):
    with runtime.sessions() as session:
        return actor_of(session.get(Coordinator, person_id), "console")


def page(runtime, who, now=None, labels=None, **chosen):
    with runtime.sessions() as session:
        return queue_page(
            session, who, QueueFilter(**chosen), TIMINGS, now or utcnow(), labels or {}
        )


def ids(result) -> set[int]:
    return {row.id for row in result.rows}


@pytest.fixture
def area(runtime):
    """Tickets in two southern provinces and one northern one, and the people who see them."""
    tickets = {
        "songkhla": add_ticket(runtime, "สงขลา"),
        "phuket": add_ticket(runtime, "ภูเก็ต"),
        "chiangmai": add_ticket(runtime, "เชียงใหม่"),
    }
    people = {
        "province": actor(runtime, make_coordinator(runtime, "province", "สงขลา", name="สมชาย")),
        "region": actor(runtime, make_coordinator(runtime, "region", region=SOUTH, name="สมหญิง")),
        "operator": actor(runtime, make_staff(runtime, "operator")[0]),
    }
    return tickets, people


# -- who sees what ------------------------------------------------------------------------------


def test_a_province_coordinator_sees_only_their_province(runtime, area):
    tickets, people = area
    result = page(runtime, people["province"])
    assert ids(result) == {tickets["songkhla"]}
    assert result.counts.open == 1 and result.total == 1


def test_a_region_coordinator_sees_their_region_and_an_operator_everything(runtime, area):
    tickets, people = area
    assert ids(page(runtime, people["region"])) == {tickets["songkhla"], tickets["phuket"]}
    assert ids(page(runtime, people["operator"])) == set(tickets.values())
    assert page(runtime, people["operator"]).counts.open == 3


def test_filters_cannot_widen_what_a_person_sees(runtime, area):
    tickets, people = area
    assert ids(page(runtime, people["province"], province="เชียงใหม่")) == set()
    assert ids(page(runtime, people["region"], region=NORTH)) == set()
    number = parse_search(str(tickets["chiangmai"])).number
    assert number == tickets["chiangmai"]
    assert ids(page(runtime, people["province"], search=str(number))) == set()


def test_a_moved_coordinator_sees_the_new_area_at_once(runtime, area):
    tickets, people = area
    who = people["province"]
    with transaction(runtime.sessions) as session:
        person = session.get(Coordinator, who.person_id)
        person.province, person.region = "เชียงใหม่", NORTH
    assert ids(page(runtime, who)) == {tickets["chiangmai"]}


# -- filters and counts -------------------------------------------------------------------------


def test_each_filter_narrows_the_queue(runtime):
    me = make_staff(runtime, "operator")[0]
    other = make_coordinator(runtime, "province", "สงขลา", name="คนอื่น")
    now = utcnow()
    t = {
        "new": add_ticket(runtime, "สงขลา", category="forgot-password"),
        "claimed": add_ticket(
            runtime, "ภูเก็ต", state="claimed", claimed_by=me, claimed_at=now, level="region"
        ),
        "waiting": add_ticket(
            runtime, "เชียงใหม่", state="waiting", claimed_by=other, claimed_at=now, level="central"
        ),
        "phone": add_ticket(runtime, "สงขลา", channel="phone", user_id=None, phone="0812345678"),
        "resolved": add_ticket(runtime, "สงขลา", state="resolved", resolved_at=now),
        "closed": add_ticket(runtime, "สงขลา", state="closed"),
    }
    who = actor(runtime, me)
    assert ids(page(runtime, who)) == {t["new"], t["claimed"], t["waiting"], t["phone"]}
    assert ids(page(runtime, who, state="claimed")) == {t["claimed"]}
    assert ids(page(runtime, who, state="resolved")) == {t["resolved"]}
    assert ids(page(runtime, who, level="central")) == {t["waiting"]}
    assert ids(page(runtime, who, region=NORTH)) == {t["waiting"]}
    assert ids(page(runtime, who, province="ภูเก็ต")) == {t["claimed"]}
    assert ids(page(runtime, who, channel="phone")) == {t["phone"]}
    assert ids(page(runtime, who, category="forgot-password")) == {t["new"]}
    assert ids(page(runtime, who, category="none")) == {
        t["claimed"],
        t["waiting"],
        t["phone"],
    }
    assert ids(page(runtime, who, mine=True)) == {t["claimed"]}
    # Nobody is linked for สงขลา's province level except `other`: ภูเก็ต's region and
    # เชียงใหม่'s central have nobody, so those two wait for staff.
    assert ids(page(runtime, who, unattended=True)) == {t["claimed"], t["waiting"]}
    assert ids(page(runtime, who, province="สงขลา", channel="line")) == {t["new"]}

    counts = page(runtime, who).counts
    assert counts.by_state == {"new": 2, "claimed": 1, "waiting": 1, "resolved": 1}
    assert counts.by_level == {"province": 2, "region": 1, "central": 1}
    assert counts.open == 4 and counts.unattended == 2 and counts.mine == 1


def test_counts_stay_within_the_persons_area(runtime, area):
    _, people = area
    counts = page(runtime, people["region"], state="claimed").counts
    assert counts.by_state["new"] == 2 and counts.open == 2
    assert counts.by_level == {"province": 2, "region": 0, "central": 0}


def test_unattended_follows_who_is_linked_at_the_tickets_level(runtime):
    ticket = add_ticket(runtime, "ภูเก็ต")
    who = actor(runtime, make_staff(runtime, "operator")[0])
    assert [r.unattended for r in page(runtime, who).rows] == [True]
    assert page(runtime, who).counts.unattended == 1
    make_coordinator(runtime, "province", "ภูเก็ต")
    row = page(runtime, who).rows[0]
    assert row.id == ticket and not row.unattended
    assert page(runtime, who, unattended=True).rows == []


def test_the_category_is_the_faq_topics_thai_label(runtime, faq_service):
    add_ticket(runtime, category="forgot-password")
    add_ticket(runtime)
    who = actor(runtime, make_staff(runtime, "operator")[0])
    labels = page(runtime, who, labels=faq_service.labels).rows
    assert sorted(r.category_label for r in labels) == sorted(
        [faq_service.labels["forgot-password"], "ทั่วไป"]
    )


def test_the_claimer_is_named_and_paging_counts_every_match(runtime):
    me = make_staff(runtime, "operator")[0]
    for n in range(7):
        add_ticket(runtime, created_at=utcnow() - timedelta(minutes=n))
    add_ticket(runtime, state="claimed", claimed_by=me, claimed_at=utcnow())
    who = actor(runtime, me)
    with runtime.sessions() as session:
        first = queue_page(session, who, QueueFilter(), TIMINGS, utcnow(), {}, limit=5)
        second = queue_page(session, who, QueueFilter(page=2), TIMINGS, utcnow(), {}, limit=5)
    assert first.total == second.total == 8 and first.pages == 2
    assert len(first.rows) == 5 and len(second.rows) == 3
    assert ids(first).isdisjoint(ids(second))
    assert [r.claimer for r in first.rows + second.rows].count("คุณoperator") == 1


# -- search -------------------------------------------------------------------------------------


def test_search_by_number_finds_the_ticket_in_any_state(runtime):
    who = actor(runtime, make_staff(runtime, "operator")[0])
    closed = add_ticket(runtime, state="closed")
    add_ticket(runtime)
    for typed in (f"BMN-{closed:06d}", f"bmn{closed}", str(closed), f"{closed:06d}"):
        assert ids(page(runtime, who, search=typed)) == {closed}, typed
    assert ids(page(runtime, who, search="BMN-999999")) == set()


def test_search_by_text_looks_in_the_description_and_the_messages(runtime):
    who = actor(runtime, make_staff(runtime, "operator")[0])
    described = add_ticket(runtime, description="แอปค้างตอนซิงค์ข้อมูล")
    said = add_ticket(runtime)
    add_ticket(runtime, description="อย่างอื่น")
    with transaction(runtime.sessions) as session:
        session.add(TicketMessage(ticket_id=said, sender="volunteer", text="ตอนนี้ซิงค์ไม่ผ่านเลย"))
    assert ids(page(runtime, who, search="ซิงค์")) == {described, said}
    assert ids(page(runtime, who, search="ค้างตอน")) == {described}
    # LIKE's wildcards are only characters here
    assert ids(page(runtime, who, search="%")) == set()
    assert ids(page(runtime, who, search="_")) == set()


def test_search_by_phone_finds_phone_tickets_and_volunteers_who_shared_it(runtime):
    who = actor(runtime, make_staff(runtime, "operator")[0])
    called = add_ticket(runtime, channel="phone", user_id=None, phone="0812345678", state="closed")
    with transaction(runtime.sessions) as session:
        session.add(Volunteer(user_id="U" + "9" * 32, province="สงขลา", phone="0812345678"))
    shared = add_ticket(runtime, user_id="U" + "9" * 32)
    add_ticket(runtime, channel="phone", user_id=None, phone="0899999999")
    for typed in ("0812345678", "081-234-5678", "+66 81 234 5678"):
        assert ids(page(runtime, who, search=typed)) == {called, shared}, typed


def test_what_the_search_box_means():
    assert parse_search("BMN-000123").number == 123
    assert parse_search(" 42 ").number == 42
    assert parse_search("081 234 5678").phone == "0812345678"
    assert parse_search("021234567").phone == "021234567"
    assert parse_search("ลืมรหัสผ่าน").text == "ลืมรหัสผ่าน"
    assert parse_search("BMN-12a").text == "BMN-12a"


# -- time left before the next escalation --------------------------------------------------------


def test_a_rows_countdown_follows_the_sweeps_rules():
    created = utcnow() - timedelta(minutes=10)
    claimed = created + timedelta(minutes=5)

    def ticket(state, level="province", claimed_at=None, last_reply_at=None, reminded_at=None):
        return Ticket(
            state=state,
            level=level,
            created_at=created,
            claimed_at=claimed_at,
            last_reply_at=last_reply_at,
            reminded_at=reminded_at,
        )

    new, claim, wait = TicketState.NEW, TicketState.CLAIMED, TicketState.WAITING
    minutes = timedelta(minutes=1)
    assert countdown(ticket(new), TIMINGS) == (created + 30 * minutes, "escalate")
    assert countdown(ticket(new, "region"), TIMINGS) == (created + 60 * minutes, "escalate")
    assert countdown(ticket(new, "central"), TIMINGS) == (None, "staff")
    assert countdown(ticket(claim, claimed_at=claimed), TIMINGS) == (
        claimed + 30 * minutes,
        "remind",
    )
    assert countdown(ticket(claim, claimed_at=claimed, reminded_at=claimed), TIMINGS) == (
        None,
        None,
    )
    assert countdown(ticket(claim, claimed_at=claimed, last_reply_at=claimed), TIMINGS) == (
        None,
        None,
    )
    assert countdown(ticket(wait, claimed_at=claimed, last_reply_at=claimed), TIMINGS) == (
        None,
        None,
    )


def test_the_countdown_values_at_a_given_moment(runtime):
    who = actor(runtime, make_staff(runtime, "operator")[0])
    start = utcnow().replace(microsecond=0) - timedelta(hours=2)
    at_province = add_ticket(runtime, created_at=start)
    at_region = add_ticket(runtime, created_at=start, level="region")
    claimed = add_ticket(
        runtime, created_at=start, state="claimed", claimed_at=start + timedelta(minutes=10)
    )
    now = start + timedelta(minutes=26)
    rows = {r.id: r for r in page(runtime, who, now=now).rows}
    assert rows[at_province].left(now) == 4 * 60  # amber: under 5 minutes
    assert rows[at_region].left(now) == 34 * 60
    assert rows[claimed].left(now) == 14 * 60
    assert rows[at_province].age == timedelta(minutes=26)
    later = start + timedelta(minutes=31)
    assert page(runtime, who, now=later).rows[0].left(later) == -60


def test_the_countdown_text_and_colour():
    assert (clock(14 * 60), clock_class(14 * 60)) == ("อีก 14:00", "")
    assert (clock(299), clock_class(299)) == ("อีก 4:59", "amber")
    assert (clock(-7), clock_class(-7)) == ("เกินมา 0:07", "overdue")
    assert clock(3723) == "อีก 1:02:03"
    assert clock(-(2 * 86400 + 3 * 3600 + 4 * 60 + 5)) == "เกินมา 2 วัน 3:04:05"


def test_the_most_pressing_ticket_comes_first(runtime):
    who = actor(runtime, make_staff(runtime, "operator")[0])
    now = utcnow()
    fresh = add_ticket(runtime, created_at=now - timedelta(minutes=1))  # 29 min left
    nearly = add_ticket(runtime, created_at=now - timedelta(minutes=28))  # 2 min left
    at_region = add_ticket(runtime, created_at=now - timedelta(minutes=45), level="region")
    waiting = add_ticket(runtime, created_at=now - timedelta(hours=5), state="waiting")
    remind = add_ticket(
        runtime, created_at=now, state="claimed", claimed_at=now - timedelta(minutes=25)
    )
    order = [r.id for r in page(runtime, who, now=now).rows]
    assert order == [nearly, remind, at_region, fresh, waiting]
    assert [r.id for r in page(runtime, who, now=now, sort="newest").rows] == [
        remind,
        fresh,
        nearly,
        at_region,
        waiting,
    ]
    assert page(runtime, who, now=now, sort="oldest").rows[0].id == waiting


# -- filter arguments ---------------------------------------------------------------------------


def test_unknown_filter_values_are_dropped_with_a_thai_message(runtime, faq_service):
    chosen, errors = parse_filter(
        {
            "state": "closed'; DROP TABLE tickets; --",
            "level": "planet",
            "province": "กรุงเทพมหานคร",
            "region": "ภาคใต้",
            "channel": "fax",
            "category": "no-such-topic",
            "sort": "random()",
            "page": "-3",
            "mine": "1",
        },
        runtime.directory.region_of,
        faq_service.labels,
    )
    assert chosen == QueueFilter(region="ภาคใต้", mine=True)
    assert len(errors) == 7
    assert all(re.search("[ก-๙]", e) for e in errors)


def test_the_search_is_cut_to_a_hundred_characters(runtime, faq_service):
    chosen, errors = parse_filter({"q": "ก" * 300}, runtime.directory.region_of, {})
    assert chosen.search == "ก" * 100 and errors


# -- the page -----------------------------------------------------------------------------------


def test_the_page_shows_rows_linking_to_each_ticket_with_its_countdown(client, runtime):
    person = make_staff(runtime, "operator")[0]
    ticket = add_ticket(
        runtime, "ภูเก็ต", created_at=utcnow() - timedelta(minutes=27), category="forgot-password"
    )
    sign_in_as(client, runtime, person)
    html = client.get("/console/queue").get_data(as_text=True)
    assert f'href="/console/tickets/{ticket}"' in html
    assert f"BMN-{ticket:06d}" in html
    assert "ภูเก็ต" in html and "รอรับเรื่อง" in html and "ไม่มีผู้ดูแล" in html
    assert runtime.faq.labels["forgot-password"] in html
    countdown = re.search(
        r'<time class="countdown ([a-z]*)"[^>]*data-deadline="([^"]+)">([^<]+)<', html
    )
    assert countdown, html
    assert countdown.group(1) == "amber" and countdown.group(3).startswith("อีก 2:")
    assert "queue.js" in html and "<script>" not in html and "style=" not in html
    assert 'hx-get="/console/queue/poll' in html and 'hx-trigger="every 2s"' in html


def test_the_page_applies_filters_from_the_form_and_reports_bad_ones(client, runtime):
    person = make_staff(runtime, "operator")[0]
    phone = add_ticket(runtime, channel="phone", user_id=None, phone="0812345678")
    line = add_ticket(runtime)
    sign_in_as(client, runtime, person)
    response = client.get("/console/queue?channel=phone&level=planet")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"BMN-{phone:06d}" in html and f"BMN-{line:06d}" not in html
    assert "ไม่รู้จักระดับ" in html and "planet" in html


def test_a_province_coordinator_is_offered_no_other_area(client, runtime, area):
    tickets, people = area
    sign_in_as(client, runtime, people["province"].person_id)
    html = client.get("/console/queue").get_data(as_text=True)
    assert f"BMN-{tickets['songkhla']:06d}" in html
    assert f"BMN-{tickets['phuket']:06d}" not in html
    assert 'name="province"' not in html and 'name="region"' not in html


# -- the poll -----------------------------------------------------------------------------------


def version_of(html: str) -> str:
    found = re.search(r'id="queue-version" name="v" value="([^"]+)"', html)
    assert found
    return found.group(1)


def open_ticket(runtime, province: str, user: str, text: str) -> int:
    with transaction(runtime.sessions) as session:
        service.set_province(session, user, province, runtime.directory)
        ticket, _ = service.open_ticket(session, runtime.directory, user, text)
        return ticket.id


def test_the_poll_answers_204_until_a_ticket_is_added_then_the_fragment(client, runtime):
    person = make_staff(runtime, "operator")[0]
    add_ticket(runtime)
    sign_in_as(client, runtime, person)
    version = version_of(client.get("/console/queue").get_data(as_text=True))
    unchanged = client.get(f"/console/queue/poll?v={version}", headers={"HX-Request": "true"})
    assert unchanged.status_code == 204 and unchanged.get_data() == b""
    assert unchanged.headers["X-Queue-Version"]

    ticket = open_ticket(runtime, "ภูเก็ต", "U" + "2" * 32, "กรอกข้อมูลแล้วแอปปิดเอง")
    changed = client.get(
        f"/console/queue/poll?v={unchanged.headers['X-Queue-Version']}",
        headers={"HX-Request": "true"},
    )
    html = changed.get_data(as_text=True)
    assert changed.status_code == 200 and f"BMN-{ticket:06d}" in html
    assert "<html" not in html and version_of(html) != version
    again = client.get(f"/console/queue/poll?v={version_of(html)}")
    assert again.status_code == 204


def test_the_poll_shows_a_new_message_on_a_ticket(client, runtime):
    person = make_staff(runtime, "operator")[0]
    ticket = open_ticket(runtime, "ภูเก็ต", "U" + "3" * 32, "ส่งข้อมูลไม่ได้")
    sign_in_as(client, runtime, person)
    version = version_of(client.get("/console/queue").get_data(as_text=True))
    assert client.get(f"/console/queue/poll?v={version}").status_code == 204
    with transaction(runtime.sessions) as session:
        service.volunteer_message(session, session.get(Ticket, ticket), "ยังส่งไม่ได้ครับ ขึ้นรหัส 502")
    changed = client.get(f"/console/queue/poll?v={version}")
    assert changed.status_code == 200
    assert "ขึ้นรหัส 502" in changed.get_data(as_text=True)


def test_the_poll_ignores_changes_outside_the_persons_area(client, runtime, area):
    _, people = area
    sign_in_as(client, runtime, people["province"].person_id)
    version = version_of(client.get("/console/queue").get_data(as_text=True))
    open_ticket(runtime, "เชียงใหม่", "U" + "4" * 32, "เรื่องของจังหวัดอื่น")
    assert client.get(f"/console/queue/poll?v={version}").status_code == 204
    mine = open_ticket(runtime, "สงขลา", "U" + "5" * 32, "เรื่องในจังหวัด")
    changed = client.get(f"/console/queue/poll?v={version}")
    assert changed.status_code == 200
    html = changed.get_data(as_text=True)
    assert f"BMN-{mine:06d}" in html and "เรื่องของจังหวัดอื่น" not in html


def test_the_poll_keeps_the_filter_and_draws_a_bad_version_afresh(client, runtime):
    person = make_staff(runtime, "operator")[0]
    phone = add_ticket(runtime, channel="phone", user_id=None, phone="0812345678")
    line = add_ticket(runtime)
    sign_in_as(client, runtime, person)
    fresh = client.get("/console/queue/poll?channel=phone&v=not-a-version")
    html = fresh.get_data(as_text=True)
    assert fresh.status_code == 200
    assert f"BMN-{phone:06d}" in html and f"BMN-{line:06d}" not in html


def test_the_poll_needs_a_session_and_does_not_keep_it_alive(client, runtime):
    assert client.get("/console/queue/poll", headers={"HX-Request": "true"}).status_code == 401
    person = make_staff(runtime, "operator")[0]
    sign_in_as(client, runtime, person)
    long_ago = utcnow() - timedelta(minutes=10)
    with transaction(runtime.sessions) as session:
        for row in session.scalars(select(ConsoleSession)):
            row.last_seen_at = long_ago
    assert client.get("/console/queue/poll?v=x").status_code == 200
    with runtime.sessions() as session:
        seen = session.scalars(select(ConsoleSession.last_seen_at)).one()
    assert abs((seen - long_ago).total_seconds()) < 1  # a poll is not activity
    client.get("/console/queue")
    with runtime.sessions() as session:
        assert session.scalars(select(ConsoleSession.last_seen_at)).one() > long_ago


def test_changed_since_reads_only_the_persons_area(runtime, area):
    tickets, people = area
    with runtime.sessions() as session:
        version = queue_page(
            session, people["province"], QueueFilter(), TIMINGS, utcnow() + timedelta(minutes=1)
        ).version
    with transaction(runtime.sessions) as session:
        session.add(TicketEvent(ticket_id=tickets["phuket"], actor="system", to_state="new"))
    with runtime.sessions() as session:
        assert not changed_since(session, people["province"], version)
        assert changed_since(session, people["region"], version)


def test_unattended_is_the_same_rule_as_the_services(runtime):
    """`Linked` reads the staff table once; `service.seen_by_nobody` asks per ticket. Both must
    flag the same tickets, whoever is linked, active or not, and at whatever level."""
    import random

    from ticketing.queue import linked_areas

    rng = random.Random(7)
    provinces = list(runtime.directory.region_of)[:12]
    regions = sorted({runtime.directory.region_of[p] for p in provinces})
    for _ in range(40):
        add_ticket(
            runtime, rng.choice(provinces), level=rng.choice(("province", "region", "central"))
        )
    with transaction(runtime.sessions) as session:
        for n in range(10):
            level = rng.choice(("province", "region", "central"))
            province = rng.choice(provinces) if level == "province" else None
            session.add(
                Coordinator(
                    name=f"คนที่ {n}",
                    level=level,
                    province=province,
                    region=(
                        runtime.directory.region_of[province]
                        if province
                        else rng.choice(regions)
                        if level == "region"
                        else None
                    ),
                    line_user_id=f"U{n:032d}" if rng.random() < 0.7 else None,
                    active=rng.random() < 0.8,
                )
            )
    with runtime.sessions() as session:
        linked = linked_areas(session)
        ours = set(session.scalars(select(Ticket.id).where(linked.nobody())))
        theirs = {t.id for t in service.unattended_tickets(session, limit=1000)}
        flagged = {
            t.id
            for t in session.scalars(select(Ticket))
            if not linked.attends(t.level, t.province, t.region)
        }
    assert ours == theirs == flagged
    assert 0 < len(ours) < 40


def test_search_words_ignore_case_and_stay_within_the_other_filters(runtime):
    who = actor(runtime, make_staff(runtime, "operator")[0])
    gps = add_ticket(runtime, description="GPS ไม่ขึ้น")
    closed = add_ticket(runtime, state="closed", description="gps ไม่ขึ้นเหมือนกัน")
    phuket = add_ticket(runtime, "ภูเก็ต")
    with transaction(runtime.sessions) as session:
        session.add(TicketMessage(ticket_id=phuket, sender="volunteer", text="พิกัด Gps ผิด"))
        session.add(TicketMessage(ticket_id=closed, sender="volunteer", text="พิกัด gps ผิด"))
    assert ids(page(runtime, who, search="gps")) == {gps, phuket}
    assert ids(page(runtime, who, search="gps", province="ภูเก็ต")) == {phuket}
    assert ids(page(runtime, who, search="ผิด", province="สงขลา")) == set()
