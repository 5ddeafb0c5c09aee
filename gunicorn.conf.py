"""gunicorn settings for the web process (`web:` in the Procfile)."""

import multiprocessing
import os

from bot.config import VAR_DIR, Settings

_sqlite = Settings.from_env().database_url.startswith("sqlite")

_port = os.environ.get("PORT", "8000")
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{_port}"
# gunicorn's control socket (for `gunicornc`) defaults to one path per user account: a second
# instance (a test's, another checkout's) would replace the first one's and remove it on exit.
# One per checkout and port, like the bind address. (A Unix socket path has at most 107 bytes.)
control_socket = str(VAR_DIR / f"gunicorn-{_port}.ctl")
# The webhook is short work (verify, insert, signal the worker): threads keep LINE's
# connections alive without a process per connection. SQLite has one writer at a time, so more
# processes only queue on its lock (measured: 1 process is as fast as 4); PostgreSQL scales out.
_default_workers = 1 if _sqlite else multiprocessing.cpu_count() * 2
workers = int(os.environ.get("WEB_CONCURRENCY", _default_workers))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8" if _sqlite else "4"))
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
