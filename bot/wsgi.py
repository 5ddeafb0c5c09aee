"""The web process's entry: `gunicorn -c gunicorn.conf.py bot.wsgi:app`."""

from __future__ import annotations

from bot.app import build_app
from bot.config import ConfigError, Settings

try:
    _settings = Settings.from_env()
    _settings.require_line_credentials()
except ConfigError as exc:
    raise SystemExit(f"smartbmn web: {exc}") from None

app = build_app(_settings)
