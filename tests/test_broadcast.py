"""Announcements: audience, batches, retry keys, quota, schedule, cancel, dates, reminders."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.broadcast_sender import LINE_STATS_TZ, send_announcement, start_due
from bot.db import transaction
from bot.models import utcnow
from broadcast import reminders
from broadcast import service as announcements
from broadcast.models import Announcement, Batch, Status
from common.thaidate import parse_thai_datetime, thai_datetime
from simulator.state import Faults
from tests.conftest import sim_send
from ticketing import service as tickets


def add_volunteers(runtime, sim, count: int, province: str, start: int = 0) -> list[str]:
    users = [f"U{n:032x}" for n in range(start, start + count)]
    with transaction(runtime.sessions) as session:
        for user in users:
            tickets.set_province(session, user, province, runtime.faq.directory)
    for user in users:
        sim[0].ensure_user(user)
    return users


def create(runtime, audience: str = "all", text: str = "ประกาศทดสอบ", **kwargs) -> int:
    with transaction(runtime.sessions) as session:
        spec = announcements.parse_audience(audience, runtime.faq.directory)
        return announcements.create(session, text, spec, **kwargs).id


def deliveries(sim, text: str = "ประกาศทดสอบ") -> Counter:
    return Counter(d.user_id for d in sim[0].deliveries if d.message.get("text") == text)


def announcement(runtime, announcement_id: int) -> Announcement:
    with runtime.sessions() as session:
        return session.get(Announcement, announcement_id)


# -- audience -----------------------------------------------------------------------------------


def test_audience_by_province_region_and_level_skips_unfollowed_users(runtime, bot, sim):
    songkhla = add_volunteers(runtime, sim, 3, "สงขลา")
    satun = add_volunteers(runtime, sim, 2, "สตูล", start=10)
    nan = add_volunteers(runtime, sim, 2, "น่าน", start=20)
    sim_send(sim[1].url, user=songkhla[0], type="unfollow")  # blocked the account
    with transaction(runtime.sessions) as session:
        code = tickets.invite_coordinator(
            session, "cli", runtime.faq.directory, "ก", "region", region="ภาคใต้"
        )
        tickets.link_coordinator(session, "U" + "c" * 32, code)
        tickets.set_province(session, "U" + "c" * 32, "สงขลา", runtime.faq.directory)
    directory = runtime.faq.directory
    with runtime.sessions() as session:

        def resolve(spec: str):
            return announcements.resolve_audience(
                session, directory, announcements.parse_audience(spec, directory)
            )

        assert resolve("provinces:สงขลา") == sorted(songkhla[1:])  # no blocked user, no coordinator
        assert resolve("regions:ใต้") == sorted(songkhla[1:] + satun)
        assert resolve("provinces:น่าน,สตูล") == sorted(nan + satun)
        assert resolve("coordinators:region") == ["U" + "c" * 32]
        assert resolve("coordinators:province") == []
        assert resolve("all") is None  # LINE's broadcast endpoint


@pytest.mark.parametrize(
    "spec",
    [
        "everyone",
        "provinces:",
        "provinces:กรุงเทพ",
        "regions:ภาคตะวันตก",
        "coordinators:boss",
        "users:x1",
    ],
)
def test_bad_audiences_are_refused_with_a_reason(runtime, spec):
    with pytest.raises(announcements.AnnouncementError):
        announcements.parse_audience(spec, runtime.faq.directory)


def test_text_over_5000_utf16_units_is_refused(runtime):
    with pytest.raises(announcements.AnnouncementError, match="5000"):
        create(runtime, text="🙏" * 2501)


# -- batches and retry keys ---------------------------------------------------------------------


def test_1234_recipients_go_in_batches_of_500_each_once(runtime, sim):
    users = add_volunteers(runtime, sim, 1234, "สงขลา")
    number = create(runtime, "provinces:สงขลา")
    assert send_announcement(runtime, number) == Status.SENT
    with runtime.sessions() as session:
        sizes = [len(r) for r in session.scalars(select(Batch.recipients).order_by(Batch.seq))]
    assert sizes == [500, 500, 234]
    counts = deliveries(sim)
    assert set(counts) == set(users) and set(counts.values()) == {1}
    assert announcement(runtime, number).audience_size == 1234


def test_retry_keys_are_stable_across_a_restart(runtime, sim):
    add_volunteers(runtime, sim, 600, "สตูล")
    number = create(runtime, "provinces:สตูล")
    with runtime.sessions() as session:
        item = session.get(Announcement, number)
        expected = [announcements.batch_key(item, seq) for seq in range(2)]
    assert expected == [announcements.batch_key(announcement(runtime, number), s) for s in range(2)]
    assert len(set(expected)) == 2
    send_announcement(runtime, number)
    with runtime.sessions() as session:
        assert list(session.scalars(select(Batch.retry_key).order_by(Batch.seq))) == expected


def test_a_worker_killed_mid_send_resumes_and_409_counts_as_delivered(runtime, sim):
    users = add_volunteers(runtime, sim, 1200, "สงขลา")
    number = create(runtime, "provinces:สงขลา")
    now = utcnow()
    with transaction(runtime.sessions) as session:
        announcements.start(
            session, number, runtime.faq.directory, announcements.Quota(None, 0), now=now
        )
    # The dead worker had sent batch 0 (LINE accepted it) but not recorded it.
    with runtime.sessions() as session:
        first = session.scalars(select(Batch).where(Batch.seq == 0)).one()
        item = session.get(Announcement, number)
        runtime.line.multicast(first.recipients, announcements.messages(item), first.retry_key)
    assert number not in start_due(runtime, now + timedelta(seconds=30))  # its lease stands
    later = now + timedelta(minutes=5)
    assert number in start_due(runtime, later)
    assert send_announcement(runtime, number, now=later) == Status.SENT
    counts = deliveries(sim)
    assert set(counts) == set(users) and set(counts.values()) == {1}
    assert sim[0].stats["POST /v2/bot/message/multicast"].get("409") == 1
    with runtime.sessions() as session:
        assert session.scalars(select(Batch.status_code).where(Batch.seq == 0)).one() == 409


def test_server_errors_are_retried_other_4xx_recorded(runtime, sim):
    add_volunteers(runtime, sim, 10, "สงขลา")
    sim[0].set_faults(Faults(error_rate=0.5, seed=3))
    number = create(runtime, "provinces:สงขลา")
    assert send_announcement(runtime, number) == Status.SENT
    sim[0].set_faults(Faults())
    bad = create(runtime, "users:Unot-a-line-id", text="x")
    assert send_announcement(runtime, bad) == Status.PARTIAL
    with runtime.sessions() as session:
        report = announcements.report(session, bad)
    assert report.batches_failed == 1 and report.errors_by_status == {400: 1}


def test_everyone_uses_the_broadcast_endpoint(runtime, sim):
    add_volunteers(runtime, sim, 3, "สงขลา")
    number = create(
        runtime, "all", link_label="เปิด Smart Data", link_url="https://cddsmartdata.com"
    )
    assert send_announcement(runtime, number) == Status.SENT
    assert sim[0].stats["POST /v2/bot/message/broadcast"] == {"200": 1}
    assert "POST /v2/bot/message/multicast" not in sim[0].stats
    assert len(deliveries(sim)) == 3
    flex = [d.message for d in sim[0].deliveries if d.message["type"] == "flex"]
    assert (
        flex
        and flex[0]["contents"]["body"]["contents"][0]["action"]["uri"]
        == "https://cddsmartdata.com"
    )


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"link_label": "ก" * 41, "link_url": "https://cddsmartdata.com"}, "40"),
        ({"link_label": "เปิด", "link_url": "https://cddsmartdata.com/" + "a" * 1000}, "1000"),
        ({"image_url": "https://cddsmartdata.com/a.gif"}, "JPEG or PNG"),
    ],
)
def test_what_line_would_refuse_is_refused_when_the_announcement_is_created(runtime, options, says):
    with pytest.raises(announcements.AnnouncementError, match=says):
        create(runtime, "all", **options)
    with runtime.sessions() as session:
        assert session.scalars(select(Announcement)).all() == []


def test_an_announcement_over_the_quota_is_refused_with_the_numbers(runtime, sim):
    add_volunteers(runtime, sim, 30, "สงขลา")
    sim[0].monthly_quota = 20
    number = create(runtime, "provinces:สงขลา")
    assert send_announcement(runtime, number) == Status.REFUSED
    error = announcement(runtime, number).error
    assert "30" in error and "20" in error
    assert deliveries(sim) == Counter()


def test_everyone_is_counted_as_line_counts_them(runtime, sim):
    add_volunteers(runtime, sim, 5, "สงขลา")  # the followers this bot has met
    for n in range(100, 125):  # friends LINE knows who never wrote to the bot
        sim[0].ensure_user(f"U{n:032x}")
    sim[0].ensure_user("U" + "f" * 32).following = False  # blocked: a broadcast skips them
    # LINE's statistics for yesterday (UTC+9) are not computed yet; the day before's are.
    today = utcnow().astimezone(LINE_STATS_TZ).date()
    assert runtime.line.reachable_followers(today - timedelta(days=1)) is None
    assert runtime.line.reachable_followers(today - timedelta(days=2)) == 30
    sim[0].monthly_quota = 20
    number = create(runtime, "all")
    assert send_announcement(runtime, number) == Status.REFUSED
    refused = announcement(runtime, number)
    assert refused.audience_size == 30 and "30" in refused.error
    assert deliveries(sim) == Counter()


def test_without_line_statistics_everyone_is_the_followers_met(runtime, sim, monkeypatch):
    add_volunteers(runtime, sim, 5, "สงขลา")
    monkeypatch.setattr(runtime.line, "reachable_followers", lambda day: None)  # "unready"
    number = create(runtime, "all")
    assert send_announcement(runtime, number) == Status.SENT
    assert announcement(runtime, number).audience_size == 5


# -- schedule and cancel ------------------------------------------------------------------------


def test_a_scheduled_send_fires_at_its_time(runtime, sim):
    add_volunteers(runtime, sim, 2, "สงขลา")
    at = parse_thai_datetime("5 ส.ค. 2563 09:00")
    number = create(runtime, "provinces:สงขลา", at=at, now=at - timedelta(days=1))
    assert start_due(runtime, at - timedelta(seconds=1)) == []
    assert start_due(runtime, at) == [number]
    send_announcement(runtime, number, now=at)
    assert len(deliveries(sim)) == 2


def test_a_time_already_past_is_refused_and_nothing_is_scheduled(runtime):
    now = parse_thai_datetime("5 ส.ค. 2563 09:00")
    with pytest.raises(announcements.PastScheduleError, match="ผ่านไปแล้ว"):
        create(runtime, "all", at=now - timedelta(hours=1), now=now)
    with runtime.sessions() as session:
        assert session.scalars(select(Announcement)).all() == []
    # The minute being typed is still "now"; leaving the time out sends at once.
    assert create(runtime, "all", at=now - timedelta(seconds=30), now=now)
    assert announcement(runtime, create(runtime, "all", now=now)).scheduled_at == now


def test_cli_refuses_a_past_time_in_thai_and_sends_only_when_asked(app, runtime, sim):
    add_volunteers(runtime, sim, 1, "สงขลา")
    runner = app.test_cli_runner()
    past = runner.invoke(
        args=["broadcast", "create", "--text", "ประกาศทดสอบ", "--at", "5 ส.ค. 2563 09:00"]
    )
    assert past.exit_code != 0
    assert "ผ่านไปแล้ว" in past.output and "--now" in past.output
    with runtime.sessions() as session:
        assert session.scalars(select(Announcement)).all() == []
    both = runner.invoke(
        args=["broadcast", "create", "--text", "x", "--at", "5 ส.ค. 2563", "--now"]
    )
    assert both.exit_code != 0
    now = runner.invoke(args=["broadcast", "create", "--text", "ประกาศทดสอบ", "--now"])
    assert now.exit_code == 0, now.output
    assert deliveries(sim) == Counter({add_volunteers(runtime, sim, 1, "สงขลา")[0]: 1})


def test_cancel_before_start_and_not_after(runtime, sim):
    add_volunteers(runtime, sim, 2, "สงขลา")
    later = create(runtime, "provinces:สงขลา", at=utcnow() + timedelta(hours=1))
    with transaction(runtime.sessions) as session:
        announcements.cancel(session, later)
    assert start_due(runtime, utcnow() + timedelta(hours=2)) == []
    sent = create(runtime, "provinces:สงขลา")
    send_announcement(runtime, sent)
    with (
        pytest.raises(announcements.AnnouncementError, match="too late"),
        transaction(runtime.sessions) as session,
    ):
        announcements.cancel(session, sent)


def test_buddhist_era_in_and_out():
    at = parse_thai_datetime("5 ส.ค. 2563 09:00")
    assert at == datetime(2020, 8, 5, 2, 0, tzinfo=UTC)  # 09:00 in Bangkok
    assert thai_datetime(at) == "5 ส.ค. 2563 09:00"
    assert parse_thai_datetime("๕ สิงหาคม ๒๕๖๓ เวลา 09.00 น.") == at
    for bad in ("5 aug 2020", "31 ก.พ. 2563", "5 ส.ค. 2020 09:00", "พรุ่งนี้"):
        with pytest.raises(ValueError):
            parse_thai_datetime(bad)


# -- deadline reminders -------------------------------------------------------------------------


def test_reminder_rules_produce_the_right_schedule(runtime):
    plan = {r.key: r for r in reminders.plan(runtime.faq.directory)}
    staff = plan["staff-list/coordinators-3d/2020-06-27"]
    assert thai_datetime(staff.at) == "24 มิ.ย. 2563 09:00"
    assert staff.audience == {"kind": "coordinators", "values": ["central", "province", "region"]}
    assert thai_datetime(plan["district-report-2/everyone-1d/2020-08-05"].at) == "4 ส.ค. 2563 09:00"


def test_reminders_sync_is_idempotent_and_a_changed_date_reschedules(runtime, tmp_path):
    early = datetime(2020, 6, 1, tzinfo=UTC)
    with transaction(runtime.sessions) as session:
        first = reminders.sync(session, runtime.faq.directory, now=early)
    with transaction(runtime.sessions) as session:
        again = reminders.sync(session, runtime.faq.directory, now=early)
    assert first["created"] == 16 and again["created"] == 0 and again["kept"] == 16

    moved = tmp_path / "deadlines.yaml"
    moved.write_text(
        reminders.DEADLINES.read_text(encoding="utf-8").replace(
            "date: 27 มิ.ย. 2563", "date: 30 มิ.ย. 2563"
        ),
        encoding="utf-8",
    )
    with transaction(runtime.sessions) as session:
        changed = reminders.sync(session, runtime.faq.directory, now=early, path=moved)
    assert changed["cancelled"] == 2 and changed["created"] == 2
    with runtime.sessions() as session:
        scheduled = session.scalars(
            select(Announcement.scheduled_at).where(
                Announcement.reminder_key.like("staff-list/%"),
                Announcement.status == Status.SCHEDULED,
            )
        ).all()
    assert sorted(thai_datetime(t) for t in scheduled) == [
        "27 มิ.ย. 2563 09:00",
        "29 มิ.ย. 2563 09:00",
    ]


def test_reminders_in_the_past_are_not_created(runtime):
    with transaction(runtime.sessions) as session:
        counts = reminders.sync(
            session, runtime.faq.directory, now=datetime(2020, 8, 20, tzinfo=UTC)
        )
    assert counts["past"] == 12 and counts["created"] == 4  # only 31 Aug and 5 Sep remain
