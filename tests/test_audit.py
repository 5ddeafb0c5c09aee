"""The audit log: every action on a ticket or an account, from LINE or the console — who, what,
when (Buddhist Era, Bangkok), from where — append-only, readable by admins only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from bot.db import transaction
from tests.conftest import sim_send
from tests.console_support import PASSWORD, csrf_token, make_staff, sign_in_as, totp_now
from tests.test_console_people import VOLUNTEER, linked, open_ticket
from ticketing import audit, service
from ticketing.authority import actor_of
from ticketing.models import AuditEntry, Coordinator

SURAT = "U" + "b8" * 16


def rows(page: str) -> list[str]:
    """The audit table's lines, as text."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tr)).strip() for tr in body.split("<tr>")[1:]
    ]


def test_every_action_from_line_and_the_console_is_on_the_audit_page(app, runtime, bot, sim):
    admin_id, secret = make_staff(runtime, "admin", "boss")
    client = app.test_client()
    response = client.post(
        "/console/login",
        data={
            "csrf_token": csrf_token(client),
            "username": "boss",
            "password": PASSWORD,
            "code": totp_now(secret),
        },
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert response.status_code == 302
    surat = linked(runtime, SURAT, name="นางสุราษ")
    first = open_ticket(runtime, sim)
    second = open_ticket(runtime, sim, user="U" + "c8" * 16)
    # A claim in LINE, and one in the console (the same domain function, a console Actor).
    sim_send(sim[1].url, user=SURAT, postback=f"action=claim&t={first.id}")
    operator_id, _ = make_staff(runtime, "operator", "desk")
    with transaction(runtime.sessions) as session:
        desk = actor_of(session.get(Coordinator, operator_id), "console", "10.9.9.9")
        service.claim(session, desk, second.id)
    # An invite and a deactivation through the console's forms.
    token = csrf_token(client, "/console/queue")
    client.post(
        "/console/people/invite",
        data={"csrf_token": token, "name": "นางใหม่", "level": "central"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    client.post(
        f"/console/people/{surat}/deactivate",
        data={"csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )

    lines = rows(client.get("/console/audit").get_data(as_text=True))
    joined = "\n".join(lines)

    def line(*parts: str) -> str:
        found = [ln for ln in lines if all(p in ln for p in parts)]
        assert found, f"no audit line with {parts} in:\n{joined}"
        return found[0]

    assert "2569" in line("คุณadmin", "เข้าสู่ระบบ", "คอนโซล · 10.1.2.3")
    line("นางสุราษ", "รับเรื่อง", first.number, "LINE")
    line("คุณoperator", "รับเรื่อง", second.number, "คอนโซล · 10.9.9.9")
    line("คุณadmin", "ออกรหัสลงทะเบียน", "นางใหม่", "คอนโซล · 10.1.2.3")
    line("คุณadmin", "ระงับการใช้งาน", "นางสุราษ", "คอนโซล · 10.1.2.3")
    line("คุณadmin", "ปล่อยเรื่องกลับเข้าคิว", first.number)
    line("อาสาสมัคร", "เปิดเรื่อง", first.number, "LINE")
    line("ผู้ดูแลเซิร์ฟเวอร์", "สร้างบัญชีเจ้าหน้าที่", "คำสั่งบนเซิร์ฟเวอร์")
    # Newest first: the deactivation's release came after the invite.
    assert joined.index("ปล่อยเรื่องกลับเข้าคิว") < joined.index("ออกรหัสลงทะเบียน")
    # Bangkok time: the sign-in line shows the hour in UTC+7.
    with runtime.sessions() as session:
        sign_in = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "person.sign-in")
        ).first()
    bangkok = sign_in.at.astimezone(UTC) + timedelta(hours=7)
    assert f"{bangkok:%H:%M}" in line("เข้าสู่ระบบ", "10.1.2.3")
    assert VOLUNTEER not in joined  # a volunteer is named by role, never by LINE id
    # Each person's last action is what the log says.
    with runtime.sessions() as session:
        admin = session.get(Coordinator, admin_id)
        last = session.scalars(
            select(AuditEntry.at)
            .where(AuditEntry.actor == f"coordinator:{admin_id}")
            .order_by(AuditEntry.id.desc())
        ).first()
    assert admin.last_action_at == last


def test_the_log_is_append_only(runtime):
    with transaction(runtime.sessions) as session:
        audit.log(session, "cli", "person.create", audit.person(1), "ก")
    with pytest.raises(audit.AppendOnly), transaction(runtime.sessions) as session:
        session.scalars(select(AuditEntry)).one().detail = "แก้แล้ว"
    with pytest.raises(audit.AppendOnly), transaction(runtime.sessions) as session:
        session.delete(session.scalars(select(AuditEntry)).one())
    with pytest.raises(audit.AppendOnly), transaction(runtime.sessions) as session:
        session.execute(update(AuditEntry).values(detail="x"))
    with pytest.raises(audit.AppendOnly), transaction(runtime.sessions) as session:
        session.execute(delete(AuditEntry.__table__))
    with runtime.sessions() as session:
        (entry,) = session.scalars(select(AuditEntry)).all()
    assert entry.detail == "ก"
    # The domain offers reading and appending only.
    public = {
        name
        for name, obj in vars(audit).items()
        if callable(obj) and getattr(obj, "__module__", None) == audit.__name__
    }
    assert {"log", "entries"} <= public
    assert not {n for n in public if re.match(r"(update|delete|remove|edit|purge)", n)}


def many(runtime, count: int, start: datetime, step: timedelta) -> None:
    with transaction(runtime.sessions) as session:
        for n in range(count):
            audit.log(
                session,
                "system" if n % 2 else "cli",
                "ticket.escalate" if n % 2 else "person.create",
                audit.ticket(n + 1),
                f"รายการ {n}",
                now=start + step * n,
            )


def test_filters_and_pages(app, runtime):
    admin_id, _ = make_staff(runtime, "admin", "boss")
    client = app.test_client()
    sign_in_as(client, runtime, admin_id, method="password")
    # 120 entries, one every 6 hours from 1 Nov 2569 00:00 Bangkok (31 Oct 17:00 UTC).
    start = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
    many(runtime, 120, start, timedelta(hours=6))

    def lines(query: str) -> list[str]:
        return rows(client.get("/console/audit?" + query).get_data(as_text=True))

    page = client.get("/console/audit").get_data(as_text=True)
    assert len(rows(page)) == audit.PAGE_SIZE
    assert "รายการ 119" in rows(page)[0]  # newest first
    older = re.search(r'href="([^"]+)" id="older"', page).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert "รายการ 69" in rows(second)[0] and 'id="older"' in second
    assert "ล่าสุด" in second

    assert lines("target=BMN-000007") == lines("target=ticket:7")
    (only,) = lines("target=BMN-000007")
    assert "รายการ 6" in only and "BMN-000007" in only
    escalations = lines("action=ticket.escalate&who=system")
    assert len(escalations) == audit.PAGE_SIZE and all("ส่งต่อ" in ln for ln in escalations)
    assert lines("action=ticket.escalate&who=cli") == ["ไม่มีบันทึกตามเงื่อนไขนี้"]
    # Days are Buddhist Era, in Bangkok: 2 Nov 2569 holds entries 4..7 (00:00, 06:00, 12:00, 18:00).
    day = lines("since=2/11/2569&until=2 พ.ย. 2569")
    assert [re.search(r"รายการ (\d+)", ln).group(1) for ln in day] == ["7", "6", "5", "4"]
    assert all("2 พ.ย. 2569" in ln for ln in day)
    shown = client.get("/console/audit?since=2/11/2569").get_data(as_text=True)
    assert 'value="2 พ.ย. 2569"' in shown

    # Whitelisted: a filter that is not one is said so and left out, never an error.
    bad = client.get("/console/audit?since=2/11/2026&target=drop table&action=x;y&who='or 1=1")
    assert bad.status_code == 200
    text = bad.get_data(as_text=True)
    assert "วันที่เริ่มไม่ถูกต้อง" in text and "เป้าหมายต้องเป็นเลขเรื่อง" in text
    assert len(rows(text)) == audit.PAGE_SIZE


def test_filter_by_person_shows_what_they_did(app, runtime, bot, sim):
    admin_id, _ = make_staff(runtime, "admin", "boss")
    client = app.test_client()
    sign_in_as(client, runtime, admin_id, method="password")
    surat = linked(runtime, SURAT, name="นางสุราษ")
    ticket = open_ticket(runtime, sim)
    sim_send(sim[1].url, user=SURAT, postback=f"action=claim&t={ticket.id}")
    theirs = rows(client.get(f"/console/audit?who={surat}").get_data(as_text=True))
    assert len(theirs) == 1 and "รับเรื่อง" in theirs[0] and ticket.number in theirs[0]
    person_page = client.get(f"/console/people/{surat}").get_data(as_text=True)
    assert f"/console/audit?who={surat}" in person_page
