"""Which handling errors can never succeed on a retry.

A permanent error is set aside at once with its error kept, and the user gets a polite answer;
anything else is retried with a backoff (bounded: see `bot.inbox.MAX_HANDLING_ATTEMPTS`).
Unknown errors count as transient: a retry costs little, a wrongly dropped message costs a
volunteer's work.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from bot.line_client import LineRejected

# The same input through the same code raises these again: a value that does not parse
# (`int("²")`), does not fit (`datetime.fromtimestamp(1e30)`, a 23-digit id) or cannot be encoded.
_BAD_VALUE = (ValueError, TypeError, OverflowError, UnicodeError)

# SQLSTATE of an integrity error a second writer can cause (the row appears or goes away a
# moment later): a retry then succeeds. Not-null, foreign-key and check violations are the
# value's fault and stay.
_RACE_SQLSTATES = {"23505", "40001", "40P01"}  # unique, serialization, deadlock
_RACE_SQLITE_WORDS = ("UNIQUE constraint failed",)


def is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, DataError):  # out of range, invalid text, NUL in a PostgreSQL string
        return True
    if isinstance(exc, IntegrityError):
        return not _is_race(exc)
    if isinstance(exc, LineRejected):  # LINE said the request itself is wrong (4xx)
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        # A value the column type refused before the database saw it (`orig` says which).
        return isinstance(exc.orig, _BAD_VALUE)
    return isinstance(exc, _BAD_VALUE)


def _is_race(exc: IntegrityError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _RACE_SQLSTATES
    return any(word in str(exc.orig) for word in _RACE_SQLITE_WORDS)
