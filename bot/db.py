"""Engine and session factory. SQLite runs in WAL mode; PostgreSQL comes through DATABASE_URL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, create_engine, event, or_, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy would otherwise look for psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


_sqlite_write_locks: dict[int, threading.Lock] = {}


def write_lock(engine: Engine) -> AbstractContextManager[object]:
    """Serialise this process's writers on SQLite (one writer at a time anyway).

    Waiting on a Python lock takes microseconds; SQLite's own busy handler sleeps a millisecond
    or more per try, which under load costs more than the write itself. PostgreSQL: no lock.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    return _sqlite_write_locks.setdefault(id(engine), threading.Lock())


def make_engine(url: str, *, autocommit: bool = False, durable: bool = True) -> Engine:
    """Parameters never reach logs or error messages (`hide_parameters`).

    `autocommit` (PostgreSQL): every statement is its own transaction, committed in the same
    round trip — for single-statement writes on the hot path (the webhook's inbox).
    `durable=False` (PostgreSQL): commits do not wait for the write-ahead log to reach the
    disk (`synchronous_commit=off`); a database crash may lose the last ~0.6 s of them — only
    for writes that are safe to lose (claims).

    The pool does not ping a connection before each use: that is a round trip per checkout,
    and profiled at 100 questions/s it was 12 % of the worker's wall time on PostgreSQL. A
    connection the database dropped (a restart, a failover) fails its first statement
    instead, and the pool is invalidated; the hot paths try once more on a fresh connection
    (`on_fresh_connection`), others fail once (an event is retried later, a page reloaded)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if not durable:
        options["connect_args"] = {"options": "-c synchronous_commit=off"}
    return create_engine(
        url,
        pool_pre_ping=False,
        pool_size=10,
        max_overflow=20,
        # Errors and logs show the SQL, not the values: those are LINE user ids and messages.
        hide_parameters=True,
        **options,
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the web read while the worker writes; NORMAL is durable across app crashes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def on_fresh_connection(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work` in one transaction (under the SQLite write lock); when the pooled connection
    turns out to be one the database dropped, once more on a fresh one."""
    for attempt in (1, 2):
        try:
            with write_lock(engine), engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if not exc.connection_invalidated or attempt == 2:
                raise
            log.warning("a pooled database connection was dropped; trying a fresh one")
    raise AssertionError("unreachable")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def claimable(model: Any, now: datetime, lease_s: float) -> ColumnElement[bool]:
    """Rows nobody holds: never claimed, or claimed by a worker whose lease ran out."""
    return or_(model.claimed_at.is_(None), model.claimed_at < now - timedelta(seconds=lease_s))


def claim(
    session: Session, model: Any, pk: int, now: datetime, lease_s: float, *conds: Any
) -> bool:
    """Take a row for this worker. One conditional UPDATE, so two workers (or a worker and the
    sweep) never both win."""
    result = session.execute(
        update(model)
        .where(model.id == pk, claimable(model, now, lease_s), *conds)
        .values(claimed_at=now, attempts=model.attempts + 1)
    )
    return result.rowcount == 1
