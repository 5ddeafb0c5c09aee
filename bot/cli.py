"""`flask --app bot …` commands: database migrations and the bundled data."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot import migrate
from bot.db import transaction
from broadcast import reminders
from broadcast import service as announcements
from broadcast.models import Announcement
from common.thaidate import parse_thai_datetime, thai_datetime
from ticketing import service as tickets
from ticketing import staff
from ticketing.models import Ticket, TicketEvent, TicketState, parse_number

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def _database_url() -> str:
    return _runtime().settings.database_url


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head). Safe to run again."""
    migrate.upgrade(_database_url(), revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. -1, base)."""
    migrate.downgrade(_database_url(), revision)
    click.echo(f"database at {revision}")


coordinator_cli = AppGroup("coordinator", help="Coordinators who receive tickets in LINE.")
ticket_cli = AppGroup("ticket", help="Support tickets (staff view).")
staff_cli = AppGroup("staff", help="Console accounts of central staff (operators, admins).")


def _runtime():
    return current_app.extensions["smartbmn"]


@coordinator_cli.command("invite")
@click.option("--name", required=True)
@click.option("--level", type=click.Choice(["province", "region", "central"]), required=True)
@click.option("--province", help="for --level province")
@click.option("--region", help="for --level region, e.g. ภาคใต้")
def coordinator_invite(name: str, level: str, province: str | None, region: str | None) -> None:
    """Create a coordinator; print a one-time code (24 h) alone on the last line.

    The coordinator sends "ลงทะเบียนผู้ประสานงาน <code>" to @smartbmn to link their LINE.
    """
    rt = _runtime()
    directory = rt.directory
    if province:
        province = directory.match_province(province) or province
    if region:
        region = directory.match_region(region) or region
    try:
        with transaction(rt.sessions) as session:
            code = tickets.invite_coordinator(
                session, "cli", directory, name, level, province, region
            )
    except tickets.TicketError as exc:
        raise click.BadParameter(str(exc)) from None
    area = province or region or "ทั่วประเทศ"
    click.echo(f"{name} ({level}, {area}): send this in LINE within 24 hours:")
    click.echo(f"  ลงทะเบียนผู้ประสานงาน {code}")
    click.echo(code)


@staff_cli.command("create")
@click.option("--username", required=True)
@click.option("--name", required=True, help="shown to colleagues, e.g. สมศรี ใจดี")
@click.option("--role", type=click.Choice(["operator", "admin"]), required=True)
@click.option("--totp/--no-totp", default=False, help="a second factor (always for admins)")
@click.password_option(help="at least 12 characters; asked for when not given")
def staff_create(username: str, name: str, role: str, totp: bool, password: str) -> None:
    """Create a console account; for a second factor, print its secret and otpauth:// link."""
    rt = _runtime()
    try:
        with transaction(rt.sessions) as session:
            _, secret = staff.create_staff(
                session, "cli", username, name, role, password, with_totp=totp
            )
    except tickets.TicketError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(f"{name} ({role}) can sign in at {rt.settings.public_base_url}/console/login")
    if secret:
        click.echo("Add this to an authenticator app (the code it shows is asked at sign-in):")
        click.echo(f"  secret: {secret}")
        click.echo(f"  {staff.totp_uri(username.strip().lower(), secret)}")


@ticket_cli.command("list")
@click.option("--state", type=click.Choice(["new", "claimed", "waiting", "resolved", "closed"]))
@click.option("--province")
@click.option("--limit", default=50, show_default=True)
@click.option(
    "--unattended", is_flag=True, help="open tickets at a level where nobody has linked LINE"
)
def ticket_list(state: str | None, province: str | None, limit: int, unattended: bool) -> None:
    """Tickets, newest first; "ไม่มีผู้รับ" marks an open one nobody can see in LINE."""
    query = select(Ticket).order_by(Ticket.id.desc()).limit(limit)
    if unattended:
        query = query.where(Ticket.state.in_(TicketState.OPEN), tickets.seen_by_nobody())
    if state:
        query = query.where(Ticket.state == state)
    if province:
        query = query.where(
            Ticket.province == (_runtime().directory.match_province(province) or province)
        )
    with _runtime().sessions() as session:
        rows = session.scalars(query).all()
        for t in rows:
            mark = "  ไม่มีผู้รับ" if tickets.unattended(session, t) else ""
            click.echo(
                f"{t.number}  {t.state:9s} {t.level:9s} {t.province:16s} "
                f"{thai_datetime(t.created_at)}  {t.description[:50]!r}{mark}"
            )
        if not rows:
            click.echo("no tickets")


@ticket_cli.command("show")
@click.argument("number")
def ticket_show(number: str) -> None:
    """One ticket and its timeline (BMN-000123 or 123)."""
    ticket_id = parse_number(number)
    with _runtime().sessions() as session:
        ticket = session.get(Ticket, ticket_id) if ticket_id else None
        if ticket is None:
            raise click.BadParameter(f"no ticket {number}")
        click.echo(
            f"{ticket.number}  {ticket.state}  ({ticket.level})  {ticket.province}, {ticket.region}"
        )
        click.echo(f"from: {ticket.display_name or ticket.user_id}   category: {ticket.category}")
        click.echo(f"rating: {ticket.rating or '-'}   resolution: {ticket.resolution or '-'}")
        click.echo(f"description: {ticket.description}")
        events = session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).all()
        for e in events:
            change = f"{e.from_state} → {e.to_state}" if e.from_state else e.to_state
            click.echo(f"  {thai_datetime(e.at)}  {e.actor:16s} {change:20s} {e.note or ''}")


@click.command("richmenu")
def richmenu_setup() -> None:
    """Create the rich menu (แจ้งปัญหา / สถานะเรื่อง / ช่องทางติดต่อ) and make it the default."""
    from bot.richmenu import setup

    click.echo(f"rich menu {setup(_runtime().line)} is the default")


broadcast_cli = AppGroup("broadcast", help="Announcements to volunteers and coordinators.")


@broadcast_cli.command("create")
@click.option("--text", "body", required=True, help="Thai text, at most 5,000 UTF-16 units")
@click.option(
    "--audience",
    default="all",
    show_default=True,
    help="all | provinces:สงขลา,สตูล | regions:ภาคใต้ | coordinators:province,region,central | users:U…,U…",
)
@click.option(
    "--at",
    "when",
    help='Buddhist Era, Bangkok time, e.g. "5 ส.ค. 2563 09:00"; a time already past is refused',
)
@click.option("--now", "send_now", is_flag=True, help="send at once (the same as leaving out --at)")
@click.option("--image", "image_url", help="https:// image URL")
@click.option("--link-label")
@click.option("--link-url")
def broadcast_create(
    body: str,
    audience: str,
    when: str | None,
    send_now: bool,
    image_url: str | None,
    link_label: str | None,
    link_url: str | None,
) -> None:
    """Schedule an announcement (or send it now)."""
    rt = _runtime()
    if when and send_now:
        raise click.UsageError("give --at or --now, not both / ใส่ --at หรือ --now อย่างใดอย่างหนึ่ง")
    try:
        at = parse_thai_datetime(when) if when else None
        with transaction(rt.sessions) as session:
            item = announcements.create(
                session,
                body,
                announcements.parse_audience(audience, rt.directory),
                at=at,
                image_url=image_url,
                link_label=link_label,
                link_url=link_url,
            )
            number, scheduled = item.id, item.scheduled_at
    except announcements.PastScheduleError as exc:
        raise click.BadParameter(
            f"{exc} (ส่งทันที: ใช้ --now แทน --at / to send now: --now instead of --at)",
            param_hint="--at",
        ) from None
    except (ValueError, announcements.AnnouncementError) as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(f"announcement {number} scheduled for {thai_datetime(scheduled)}")
    if at is None:
        from bot.worker import send_announcement_task

        send_announcement_task(number)
        click.echo("queued for the worker now")


@broadcast_cli.command("list")
@click.option("--limit", default=30, show_default=True)
def broadcast_list(limit: int) -> None:
    """Announcements, newest first."""
    with _runtime().sessions() as session:
        rows = session.scalars(
            select(Announcement).order_by(Announcement.id.desc()).limit(limit)
        ).all()
        for a in rows:
            who = a.audience["kind"] + (
                ":" + ",".join(a.audience["values"]) if a.audience["values"] else ""
            )
            click.echo(
                f"{a.id:5d}  {a.status:9s}  {thai_datetime(a.scheduled_at)}  {who[:40]:40s} {a.text[:40]!r}"
            )
        if not rows:
            click.echo("no announcements")


@broadcast_cli.command("show")
@click.argument("announcement_id", type=int)
def broadcast_show(announcement_id: int) -> None:
    """The report: audience size, batches sent/failed, errors by status, times."""
    with _runtime().sessions() as session:
        try:
            r = announcements.report(session, announcement_id)
        except announcements.AnnouncementError as exc:
            raise click.BadParameter(str(exc)) from None
        a = r.announcement
        click.echo(f"announcement {a.id}: {a.status}")
        click.echo(f"  text: {a.text[:200]}")
        click.echo(f"  audience: {a.audience['kind']} {', '.join(a.audience['values'])}")
        click.echo(f"  scheduled: {thai_datetime(a.scheduled_at)}")
        click.echo(f"  started: {thai_datetime(a.started_at) if a.started_at else '-'}")
        click.echo(f"  finished: {thai_datetime(a.finished_at) if a.finished_at else '-'}")
        click.echo(f"  audience size: {a.audience_size if a.audience_size is not None else '-'}")
        click.echo(
            f"  batches: {r.batches_total} (sent {r.batches_sent}, failed {r.batches_failed}, "
            f"pending {r.batches_pending})"
        )
        click.echo(f"  errors by status: {r.errors_by_status or 'none'}")
        if a.error:
            click.echo(f"  error: {a.error}")


@broadcast_cli.command("cancel")
@click.argument("announcement_id", type=int)
def broadcast_cancel(announcement_id: int) -> None:
    """Cancel an announcement that has not started."""
    try:
        with transaction(_runtime().sessions) as session:
            announcements.cancel(session, announcement_id)
    except announcements.AnnouncementError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(f"announcement {announcement_id} cancelled")


@broadcast_cli.command("reminders")
def broadcast_reminders() -> None:
    """Schedule the deadline reminders of broadcast/data/deadlines.yaml."""
    rt = _runtime()
    with transaction(rt.sessions) as session:
        counts = reminders.sync(session, rt.directory)
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


def register_cli(app: Flask) -> None:
    app.cli.add_command(broadcast_cli)
    app.cli.add_command(richmenu_setup)
    app.cli.add_command(db_cli)
    app.cli.add_command(coordinator_cli)
    app.cli.add_command(ticket_cli)
    app.cli.add_command(staff_cli)
