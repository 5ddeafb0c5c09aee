"""What every console view needs: the runtime, the signed-in person (`g.actor`), a unit of work
that sends the domain's notices after its commit, and `signed_in`, the guard on every view."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.notices import send_soon, stage
from bot.runtime import Runtime
from console.security import csrf
from ticketing import staff
from ticketing.authority import Actor, actor_of
from ticketing.service import Notice

F = TypeVar("F", bound=Callable[..., Any])


def runtime() -> Runtime:
    return current_app.extensions["smartbmn"]


def client_address() -> str | None:
    return request.remote_addr


@dataclass
class Work:
    """One transaction of a console action, and what it must tell people in LINE."""

    session: Session
    notices: list[Notice] = field(default_factory=list)

    def tell(self, notices: list[Notice]) -> None:
        self.notices.extend(notices)


@contextmanager
def work() -> Iterator[Work]:
    """Commit the change with its outbox rows; only then start sending (no network inside)."""
    rt = runtime()
    with transaction(rt.sessions) as db:
        done = Work(db)
        yield done
        outbox_ids = stage(db, rt, done.notices)
    send_soon(outbox_ids)


def load_actor() -> None:
    """Before each console request: who is signed in (None when nobody, or the session ended
    — idle, signed out, deactivated, password changed)."""
    g.actor = None
    token = session.get("sid")
    if not token:
        return
    rt = runtime()
    idle = timedelta(seconds=rt.settings.console_idle_s)
    view = current_app.view_functions.get(request.endpoint or "")
    with transaction(rt.sessions) as db:
        person = staff.session_person(db, token, idle, touch=not getattr(view, "passive", False))
        if person is not None:
            g.actor = actor_of(person, "console", client_address())
    if g.actor is None:
        session.pop("sid", None)


def protect() -> None:
    """CSRF on every state-changing console request (forms and htmx send the token)."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def actor() -> Actor:
    assert g.actor is not None, "view not guarded by signed_in"
    return g.actor


def signed_in(view: F) -> F:
    """The view needs a live session; otherwise to the sign-in page (htmx: a full redirect)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            target = url_for("console_auth.sign_in", next=request.full_path.rstrip("?"))
            if request.headers.get("HX-Request"):
                return "", 401, {"HX-Redirect": target}
            return redirect(target)
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def passive(view: F) -> F:
    """A request the page makes by itself (a poll every few seconds): it does not count as
    activity, so a tab left open never keeps an idle session alive. Put under `signed_in`."""
    view.passive = True  # type: ignore[attr-defined]
    return view


def console_blueprint(name: str, url_prefix: str = "/console") -> Any:
    """A console blueprint: actor loaded and CSRF checked before each of its requests."""
    from flask import Blueprint

    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    bp.before_request(load_actor)
    bp.before_request(protect)
    return bp
