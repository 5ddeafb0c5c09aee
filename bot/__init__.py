"""SmartBMN Desk: the LINE help line of the จปฐ. survey.

`create_app` is imported lazily so that `import bot.models` (from the domain packages) does not
pull in Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(settings: Any = None, runtime: Any = None) -> Flask:
    from bot.app import build_app

    return build_app(settings, runtime)
