"""The staff queue: the tickets a person may see, filtered, counted, and what falls due next.

A pure query layer on a SQLAlchemy session: no Flask, nothing changed. Who sees what is
`authority.visible` for the person as the database has them now (`refreshed`), so a moved or
deactivated coordinator's open page follows the move at its next request. Filters come from
request arguments through a whitelist (`parse_filter`): an unknown value is dropped with a Thai
message, never put into a query; every value reaches SQL as a bound parameter.

Time left (`Row.deadline`): when the sweep (`ticketing.escalation`) does something to the
ticket next — an unclaimed ticket goes up a level (province → region at `region_after`, and to
central at `central_after`, both from creation); a claimed ticket nobody has answered gets a
reminder `remind_after` after the claim. An unclaimed ticket at central has nothing automatic
left: staff must take it (`Row.due == "staff"`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Interval, and_, case, false, func, literal, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.util import ClauseAdapter

from ticketing import calls
from ticketing.authority import Actor, refreshed, visible
from ticketing.escalation import Timings, next_deadline
from ticketing.models import (
    CHANNELS,
    LEVELS,
    Coordinator,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketState,
    Volunteer,
    format_number,
)

# The states a person can filter on: the open ones, and resolved (it reopens when the volunteer
# writes, until the sweep closes it). Closed tickets are found by number or phone.
STATES = (*TicketState.OPEN, TicketState.RESOLVED)
SORTS = ("urgent", "newest", "oldest")
NO_CATEGORY = "none"
SEARCH_MAX = 100
PAGE_SIZE = 50
MAX_PAGE = 1000
# The poll's cursor only moves past rows this old: a row whose id was taken before a row the
# poll already saw may commit a moment later (PostgreSQL sequences), and must still be seen.
SETTLE = timedelta(seconds=10)
DEFAULT_CATEGORY_LABEL = "ทั่วไป"  # as the LINE cards say for a ticket without a topic

_TRUE = ("1", "on", "true", "yes")


@dataclass(frozen=True)
class QueueFilter:
    state: str | None = None  # None: every open state (or any state for a number/phone search)
    level: str | None = None
    region: str | None = None
    province: str | None = None
    channel: str | None = None
    category: str | None = None  # a FAQ topic id, or NO_CATEGORY
    mine: bool = False
    unattended: bool = False
    search: str = ""
    sort: str = "urgent"
    page: int = 1

    def args(self, **changes: object) -> dict[str, str]:
        """As query arguments (only what is set), e.g. for links and the poll."""
        values = {**self.__dict__, **changes}
        out: dict[str, str] = {}
        for name in ("state", "level", "region", "province", "channel", "category"):
            if values[name]:
                out[name] = str(values[name])
        for name in ("mine", "unattended"):
            if values[name]:
                out[name] = "1"
        if values["search"]:
            out["q"] = str(values["search"])
        if values["sort"] != "urgent":
            out["sort"] = str(values["sort"])
        if values["page"] != 1:
            out["page"] = str(values["page"])
        return out

    @property
    def narrowed(self) -> bool:
        """Anything chosen beyond the default view (sort and page aside)."""
        return bool(self.args(sort="urgent", page=1))


def parse_filter(
    args: Mapping[str, str], region_of: Mapping[str, str], labels: Mapping[str, str]
) -> tuple[QueueFilter, list[str]]:
    """A filter from request arguments, keeping only known values. `region_of`: province →
    region (the directory); `labels`: FAQ topic id → Thai label. Returns the filter and a Thai
    message for each value that was dropped."""
    errors: list[str] = []

    def pick(name: str, allowed, what: str) -> str | None:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        if value in allowed:
            return value
        errors.append(f"ไม่รู้จัก{what} “{value[:40]}” จึงไม่ได้ใช้ตัวกรองนี้")
        return None

    regions = set(region_of.values())
    page_text = (args.get("page") or "1").strip()
    page = int(page_text) if page_text.isdigit() else 0
    if not 1 <= page <= MAX_PAGE:
        errors.append("เลขหน้าไม่ถูกต้อง จึงแสดงหน้าแรก")
        page = 1
    search = " ".join((args.get("q") or "").split())
    if len(search) > SEARCH_MAX:
        errors.append(f"คำค้นยาวเกิน {SEARCH_MAX} ตัวอักษร จึงตัดส่วนที่เกินออก")
        search = search[:SEARCH_MAX]
    sort = pick("sort", SORTS, "การเรียงลำดับ") or "urgent"
    return (
        QueueFilter(
            state=pick("state", STATES, "สถานะ"),
            level=pick("level", LEVELS, "ระดับ"),
            region=pick("region", regions, "ภาค"),
            province=pick("province", region_of, "จังหวัด"),
            channel=pick("channel", CHANNELS, "ช่องทาง"),
            category=pick("category", {*labels, NO_CATEGORY}, "หมวด"),
            mine=(args.get("mine") or "").lower() in _TRUE,
            unattended=(args.get("unattended") or "").lower() in _TRUE,
            search=search,
            sort=sort,
            page=page,
        ),
        errors,
    )


# -- search -------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^(?:BMN)?[-\s]*0*(\d{1,8})$", re.IGNORECASE)


@dataclass(frozen=True)
class Search:
    """What a search box's text means: a ticket number, a phone number, or words."""

    number: int | None = None
    phone: str | None = None
    text: str | None = None

    @property
    def exact(self) -> bool:
        """A number or phone: looks through every state (closed tickets too), by index."""
        return self.number is not None or self.phone is not None


def parse_search(text: str) -> Search:
    """ "BMN-000123", "bmn123" or "123" → number 123; "081-234-5678", "+66 81 234 5678" →
    phone "0812345678" (`calls.phone_or_none`, as numbers are stored); anything else → words."""
    text = text.strip()
    if not text:
        return Search()
    phone = calls.phone_or_none(text)  # the form numbers are stored in
    if phone is not None:
        return Search(phone=phone)
    found = _NUMBER.match(text)
    if found and (text.upper().startswith("BMN") or text.isdigit()):
        return Search(number=int(found.group(1)))
    return Search(text=text)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_condition(
    session: Session, search: Search, narrowed: list[ColumnElement[bool]]
) -> ColumnElement[bool] | None:
    """`narrowed`: the other conditions; words are looked for in the messages of those
    tickets only (a few thousand open ones, not every message ever written)."""
    if search.number is not None:
        return Ticket.id == search.number
    if search.phone is not None:
        # The volunteers who shared this number first (an index lookup): `user_id IN
        # (subquery)` OR'ed with the phone would have PostgreSQL read every ticket.
        users = list(
            session.scalars(select(Volunteer.user_id).where(Volunteer.phone == search.phone))
        )
        if not users:
            return Ticket.phone == search.phone
        return or_(Ticket.phone == search.phone, Ticket.user_id.in_(users))
    if not search.text:
        return None
    pattern = _like(search.text)
    # ILIKE lowers every value it reads (twice the time of LIKE over Thai text on PostgreSQL);
    # words without case (Thai, digits) match the same either way. SQLite's LIKE already
    # ignores ASCII case.
    caseless = search.text.lower() == search.text.upper()
    plain = caseless or session.get_bind().dialect.name == "sqlite"

    def contains(column) -> ColumnElement[bool]:
        if plain:
            return column.like(pattern, escape="\\")
        return column.ilike(pattern, escape="\\")

    # The messages of the narrowed tickets, joined explicitly: as a correlated EXISTS,
    # PostgreSQL turns it into one scan of every message (2,000,000 at the benchmark's size).
    candidate = Ticket.__table__.alias("candidate")
    adapt = ClauseAdapter(candidate).traverse
    said = (
        select(TicketMessage.ticket_id)
        .join(candidate, candidate.c.id == TicketMessage.ticket_id)
        .where(contains(TicketMessage.text), *(adapt(c) for c in narrowed))
    )
    return or_(contains(Ticket.description), contains(Ticket.display_name), Ticket.id.in_(said))


# -- who is linked where ------------------------------------------------------------------------


@dataclass(frozen=True)
class Linked:
    """Where someone has linked LINE (active staff): a ticket addressed to a level and area
    with nobody here is *unattended* — the rule of `service.seen_by_nobody`, read once from the
    small staff table instead of once per ticket."""

    central: bool
    regions: frozenset[str]
    provinces: frozenset[str]

    def attends(self, level: str, province: str, region: str) -> bool:
        if level == "central":
            return self.central
        if level == "region":
            return region in self.regions
        return province in self.provinces

    def nobody(self) -> ColumnElement[bool]:
        """SQL: the ticket's level has nobody linked for its area."""
        waiting = [
            and_(Ticket.level == "region", Ticket.region.not_in(self.regions)),
            and_(Ticket.level == "province", Ticket.province.not_in(self.provinces)),
        ]
        if not self.central:
            waiting.append(Ticket.level == "central")
        return or_(*waiting)


def linked_areas(session: Session) -> Linked:
    rows = session.execute(
        select(Coordinator.level, Coordinator.province, Coordinator.region)
        .where(Coordinator.line_user_id.is_not(None), Coordinator.active)
        .distinct()
    ).all()
    return Linked(
        any(level == "central" for level, _, _ in rows),
        frozenset(r for level, _, r in rows if level == "region" and r),
        frozenset(p for level, p, _ in rows if level == "province" and p),
    )


# -- the page -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LastMessage:
    sender: str  # volunteer | coordinator:<id> | system
    text: str
    at: datetime
    internal: bool
    image: bool


@dataclass(frozen=True)
class Row:
    id: int
    state: str
    level: str
    province: str
    region: str
    category: str | None
    category_label: str
    channel: str
    display_name: str | None
    phone: str | None
    description: str
    created_at: datetime
    age: timedelta
    # When the sweep acts next, and what it does: "escalate" (up a level), "remind" (the
    # claimer); "staff": unclaimed at central, nothing automatic left; None: nothing pending.
    deadline: datetime | None
    due: str | None
    claimer: str | None
    claimed_by: int | None
    unattended: bool
    last: LastMessage | None

    @property
    def number(self) -> str:
        return format_number(self.id)

    def left(self, now: datetime) -> float | None:
        """Seconds until `deadline` (negative: past)."""
        return None if self.deadline is None else (self.deadline - now).total_seconds()


@dataclass(frozen=True)
class Counts:
    """Within what the person may see, whatever else is chosen."""

    by_state: dict[str, int] = field(default_factory=dict)  # STATES
    by_level: dict[str, int] = field(default_factory=dict)  # open tickets per level
    open: int = 0
    unattended: int = 0
    mine: int = 0


@dataclass(frozen=True)
class QueuePage:
    rows: list[Row]
    total: int  # tickets matching the filter
    counts: Counts
    filter: QueueFilter
    search: Search
    offset: int
    limit: int
    version: str  # hand back to `changed_since`

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


def countdown(ticket: Ticket, timings: Timings) -> tuple[datetime | None, str | None]:
    """A row's countdown: when the sweep acts next (`escalation.next_deadline`) and how —
    "escalate" or "remind" — or "staff" for an unclaimed ticket at central, which only staff
    can take now."""
    step = next_deadline(ticket, timings)
    if step is not None:
        return step.at, "remind" if step.what == "remind" else "escalate"
    if ticket.state == TicketState.NEW:
        return None, "staff"
    return None, None


def _plus(session: Session, column, delta: timedelta):
    """`column + delta` in SQL (SQLite keeps datetimes as text; its datetime() adds)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.datetime(column, f"+{int(delta.total_seconds())} seconds")
    return column + literal(delta, Interval())


def _urgency(session: Session, timings: Timings):
    """SQL for `next_deadline` (an unclaimed ticket at central: when it got there at the
    latest), for sorting the most pressing first."""
    new = Ticket.state == TicketState.NEW
    return case(
        (
            and_(new, Ticket.level == "province"),
            _plus(session, Ticket.created_at, timings.region_after),
        ),
        (new, _plus(session, Ticket.created_at, timings.central_after)),
        (
            and_(
                Ticket.state == TicketState.CLAIMED,
                Ticket.last_reply_at.is_(None),
                Ticket.reminded_at.is_(None),
                Ticket.claimed_at.is_not(None),
            ),
            _plus(session, Ticket.claimed_at, timings.remind_after),
        ),
        else_=None,
    )


def _conditions(
    session: Session, me: Actor, f: QueueFilter, search: Search, linked: Linked
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [visible(me)]
    if f.state:
        conditions.append(Ticket.state == f.state)
    elif not search.exact:
        conditions.append(Ticket.state.in_(TicketState.OPEN))
    for name in ("level", "region", "province", "channel"):
        value = getattr(f, name)
        if value:
            conditions.append(getattr(Ticket, name) == value)
    if f.category == NO_CATEGORY:
        conditions.append(Ticket.category.is_(None))
    elif f.category:
        conditions.append(Ticket.category == f.category)
    if f.mine:
        conditions.append(Ticket.claimed_by == me.person_id)
    if f.unattended:
        conditions += [Ticket.state.in_(TicketState.OPEN), linked.nobody()]
    found = _search_condition(session, search, conditions)
    if found is not None:
        conditions.append(found)
    return conditions


def counts(session: Session, me: Actor, linked: Linked) -> Counts:
    """One pass over the covering queue index: tickets by state, level, area and claimer."""
    by_state: dict[str, int] = dict.fromkeys(STATES, 0)
    by_level: dict[str, int] = dict.fromkeys(LEVELS, 0)
    unattended = mine = 0
    for state, level, province, region, claimer, n in session.execute(
        select(
            Ticket.state,
            Ticket.level,
            Ticket.province,
            Ticket.region,
            Ticket.claimed_by,
            func.count(),
        )
        .where(visible(me), Ticket.state.in_(STATES))
        .group_by(Ticket.state, Ticket.level, Ticket.province, Ticket.region, Ticket.claimed_by)
    ):
        by_state[state] += n
        if state not in TicketState.OPEN:
            continue
        by_level[level] = by_level.get(level, 0) + n
        if not linked.attends(level, province, region):
            unattended += n
        if claimer == me.person_id:
            mine += n
    return Counts(by_state, by_level, sum(by_state[s] for s in TicketState.OPEN), unattended, mine)


def _last_messages(session: Session, ticket_ids: list[int]) -> dict[int, LastMessage]:
    if not ticket_ids:
        return {}
    newest = (
        select(func.max(TicketMessage.id))
        .where(TicketMessage.ticket_id.in_(ticket_ids))
        .group_by(TicketMessage.ticket_id)
    )
    rows = session.execute(
        select(
            TicketMessage.ticket_id,
            TicketMessage.sender,
            TicketMessage.text,
            TicketMessage.at,
            TicketMessage.internal,
            TicketMessage.image_id,
        ).where(TicketMessage.id.in_(newest))
    )
    return {
        r.ticket_id: LastMessage(
            r.sender, r.text[:200], r.at, bool(r.internal), r.image_id is not None
        )
        for r in rows
    }


def queue_page(
    session: Session,
    who: Actor,
    f: QueueFilter,
    timings: Timings,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    limit: int = PAGE_SIZE,
    offset: int | None = None,
) -> QueuePage:
    """One page of the queue for `who` (offset: from `f.page` unless given)."""
    labels = labels or {}
    version = cursor(session, now)  # before reading: what commits after is seen by the poll
    me = refreshed(session, who)
    linked = linked_areas(session)
    search = parse_search(f.search)
    conditions = _conditions(session, me, f, search, linked)
    offset = (f.page - 1) * limit if offset is None else offset
    if f.sort == "newest":
        order = [Ticket.created_at.desc(), Ticket.id.desc()]
    elif f.sort == "oldest":
        order = [Ticket.created_at, Ticket.id]
    else:
        due = _urgency(session, timings)
        order = [due.is_(None), due, Ticket.created_at, Ticket.id]
    # First the page's ids and the number of matches, in one pass that needs only the covering
    # index's columns for the usual filters; then those few tickets in full.
    picked = session.execute(
        select(Ticket.id, func.count().over())
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [ticket_id for ticket_id, _ in picked]
    if picked:
        total = picked[0][1]
    elif offset:
        total = session.scalar(select(func.count()).select_from(Ticket).where(*conditions)) or 0
    else:
        total = 0
    claimer = aliased(Coordinator)
    found = {
        ticket.id: (ticket, name)
        for ticket, name in session.execute(
            select(Ticket, claimer.name)
            .outerjoin(claimer, claimer.id == Ticket.claimed_by)
            .where(Ticket.id.in_(ids) if ids else false())
        )
    }
    last = _last_messages(session, ids)
    rows = []
    for ticket_id in ids:
        ticket, claimer_name = found[ticket_id]
        deadline, due_kind = countdown(ticket, timings)
        rows.append(
            Row(
                id=ticket.id,
                state=ticket.state,
                level=ticket.level,
                province=ticket.province,
                region=ticket.region,
                category=ticket.category,
                category_label=labels.get(ticket.category or "", DEFAULT_CATEGORY_LABEL),
                channel=ticket.channel,
                display_name=ticket.display_name,
                phone=ticket.phone,
                description=ticket.description[:200],
                created_at=ticket.created_at,
                age=now - ticket.created_at,
                deadline=deadline,
                due=due_kind,
                claimer=claimer_name,
                claimed_by=ticket.claimed_by,
                unattended=ticket.state in TicketState.OPEN
                and not linked.attends(ticket.level, ticket.province, ticket.region),
                last=last.get(ticket.id),
            )
        )
    page_counts = counts(session, me, linked)
    return QueuePage(
        rows,
        total,
        page_counts,
        f,
        search,
        offset,
        limit,
        f"{version}.{digest(rows, total, page_counts)}",
    )


# -- what changed since a page was drawn ---------------------------------------------------------


def digest(rows: list[Row], total: int, page_counts: Counts) -> str:
    """What a page shows apart from the clock: equal digests, nothing to redraw."""
    shown = [
        (r.id, r.state, r.level, r.claimed_by, r.unattended, r.last and (r.last.at, r.last.text))
        for r in rows
    ]
    return hashlib.sha256(repr((shown, total, page_counts)).encode()).hexdigest()[:16]


def cursor(session: Session, now: datetime) -> str:
    """ "<event id>.<message id>": the newest ticket event and message older than `SETTLE`
    (ids are global, like ticket numbers: they tell nothing a ticket number does not)."""
    settled = now - SETTLE
    event = session.scalar(
        select(TicketEvent.id)
        .where(TicketEvent.at <= settled)
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )
    message = session.scalar(
        select(TicketMessage.id)
        .where(TicketMessage.at <= settled)
        .order_by(TicketMessage.id.desc())
        .limit(1)
    )
    return f"{event or 0}.{message or 0}"


def parse_version(version: str) -> tuple[int, int, str] | None:
    parts = version.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    if not re.fullmatch(r"[0-9a-f]{16}", parts[2]):
        return None
    return int(parts[0]), int(parts[1]), parts[2]


# More rows than this after a cursor: something changed, no need to look which.
RECENT_MAX = 500


def changed_since(session: Session, who: Actor, version: str) -> bool:
    """Has anything happened to a ticket `who` may see since the page holding `version` was
    drawn (an event — opened, claimed, answered, escalated … — or a message)? Cheap: the rows
    after the cursor through the primary key, then whether any of their tickets is visible.
    (Joined in one statement, SQLite probed every ticket's events instead: 0.3 s.)"""
    parsed = parse_version(version)
    if parsed is None:
        return True
    event_id, message_id, _ = parsed
    touched: set[int] = set()
    for model, after in ((TicketEvent, event_id), (TicketMessage, message_id)):
        found = list(
            session.scalars(
                select(model.ticket_id)
                .where(model.id > after)
                .order_by(model.id)
                .limit(RECENT_MAX + 1)
            )
        )
        if len(found) > RECENT_MAX:
            return True
        touched.update(found)
    if not touched:
        return False
    me = refreshed(session, who)
    return (
        session.scalar(select(Ticket.id).where(Ticket.id.in_(touched), visible(me)).limit(1))
        is not None
    )


@dataclass(frozen=True)
class Poll:
    """The poll's answer: `page` None when nothing the person sees changed (`version` is the
    cursor to poll with next); otherwise the page to draw."""

    version: str
    page: QueuePage | None


def poll(
    session: Session,
    who: Actor,
    f: QueueFilter,
    version: str,
    timings: Timings,
    now: datetime,
    labels: Mapping[str, str] | None = None,
) -> Poll:
    parsed = parse_version(version)
    if parsed is not None:
        settled = cursor(session, now)  # read first: a row committed meanwhile is after it
        if not changed_since(session, who, version):
            return Poll(f"{settled}.{parsed[2]}", None)
    page = queue_page(session, who, f, timings, now, labels)
    if parsed is not None and page.version.rsplit(".", 1)[1] == parsed[2]:
        return Poll(page.version, None)  # something changed, but not what this page shows
    return Poll(page.version, page)
