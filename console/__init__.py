"""The staff web console under /console: server-rendered pages, htmx for what changes.

One blueprint per area (`auth`, `queue`, …), templates in console/templates/console/. Routes
only translate: they read the form, call `ticketing` with the signed-in `Actor`, and render
what comes back; who may do what is decided there (`ticketing.authority`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint

from console.security import install_security

if TYPE_CHECKING:
    from flask import Flask

    from bot.runtime import Runtime


def register_console(app: Flask, runtime: Runtime) -> None:
    from console import audit, auth, calls, line_login, people, queue, tickets
    from console.filters import install_filters
    from console.web import permissions

    install_security(app, runtime.settings)
    install_filters(app)
    app.context_processor(permissions)
    line_login.install_line_login(app, runtime.settings)
    # Templates and static files (htmx vendored, pinned) for every console blueprint.
    app.register_blueprint(
        Blueprint(
            "console",
            __name__,
            template_folder="templates",
            static_folder="static",
            url_prefix="/console",
        )
    )
    for blueprint in (auth.bp, line_login.bp, queue.bp, calls.bp, people.bp, audit.bp, tickets.bp):
        app.register_blueprint(blueprint)
