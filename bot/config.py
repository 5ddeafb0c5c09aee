"""Settings read from the environment (and a `.env` file when present).

Nothing here imports Flask, so the worker and the domain packages can read settings too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message tells the operator what to set."""


def parse_duration(text: str) -> float:
    """Seconds from "90", "90s", "30m", "2h" or "1d"."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    try:
        if value and value[-1] in units:
            return float(value[:-1]) * units[value[-1]]
        return float(value)
    except ValueError:
        raise ConfigError(f"not a duration: {text!r} (use seconds, or 30m / 2h / 1d)") from None


@dataclass(frozen=True)
class Settings:
    channel_secret: str = ""
    channel_access_token: str = ""
    # None means the real LINE hosts (api.line.me / api-data.line.me).
    line_api_base: str | None = None
    database_url: str = field(default_factory=lambda: f"sqlite:///{VAR_DIR / 'smartbmn.db'}")
    redis_url: str | None = None
    huey_sqlite_path: str = field(default_factory=lambda: str(VAR_DIR / "huey.db"))
    port: int = 8000
    sim_port: int = 8001
    # Where LINE reaches this app (the host of the webhook URL); links to ticket screenshots
    # are built on it. Empty: http://127.0.0.1:$PORT, which only the simulator can use.
    public_url: str = ""
    # How old a reply token may be before we push instead (LINE: valid for one minute).
    reply_token_max_age_s: float = 50.0
    # A claimed but unfinished event is retried by the sweep after this lease.
    event_lease_s: float = 60.0
    # LINE API call timeout and retry budget.
    line_timeout_s: float = 10.0
    line_max_attempts: int = 5
    # The web signals the worker at most once per this window; the worker's drain looks again
    # after `drain_recheck_s` (must be longer) so a coalesced signal loses no event.
    inbox_coalesce_s: float = 0.02
    drain_recheck_s: float = 0.05
    # Tickets: unclaimed → region, → central (from creation); claimed but silent → reminder;
    # resolved → closed.
    escalate_region_after_s: float = 30 * 60
    escalate_central_after_s: float = 60 * 60
    ticket_remind_after_s: float = 30 * 60
    ticket_close_after_s: float = 3 * 86400
    # Huey runs tasks inline (tests) instead of through the worker.
    queue_immediate: bool = False
    # Threads of one worker process: enough to keep working while others wait on the
    # database or LINE (see README "Answers at 100 questions a second").
    worker_threads: int = 8
    # The staff console. The key signs its cookies (empty: derived from the channel secret, so
    # every web process agrees); sessions end after `console_idle_s` without a request.
    console_secret_key: str = ""
    console_idle_s: float = 30 * 60
    # Secure cookies: browsers send them over HTTPS, and to http://localhost / 127.0.0.1.
    console_cookie_secure: bool = True
    # LINE Login (a channel of its own in the LINE Developers console). None: the real hosts
    # (access.line.me for the authorize page, api.line.me for tokens); `make run` points both
    # at the simulator.
    line_login_channel_id: str = ""
    line_login_channel_secret: str = ""
    line_login_base: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        if env is None:
            load_dotenv(os.environ.get("DOTENV_PATH") or PROJECT_ROOT / ".env", override=False)
            env = dict(os.environ)
        defaults = cls()

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        def get_int(name: str, default: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be an integer, got {raw!r}") from None

        return cls(
            channel_secret=get("LINE_CHANNEL_SECRET") or "",
            channel_access_token=get("LINE_CHANNEL_ACCESS_TOKEN") or "",
            line_api_base=(get("LINE_API_BASE") or "").rstrip("/") or None,
            database_url=get("DATABASE_URL") or defaults.database_url,
            redis_url=get("REDIS_URL"),
            huey_sqlite_path=get("HUEY_SQLITE_PATH") or defaults.huey_sqlite_path,
            port=get_int("PORT", defaults.port),
            sim_port=get_int("SIM_PORT", defaults.sim_port),
            public_url=(get("PUBLIC_URL") or "").rstrip("/"),
            reply_token_max_age_s=parse_duration(get("REPLY_TOKEN_MAX_AGE") or "50"),
            event_lease_s=parse_duration(get("EVENT_LEASE") or "60"),
            line_timeout_s=parse_duration(get("LINE_TIMEOUT") or "10"),
            line_max_attempts=get_int("LINE_MAX_ATTEMPTS", defaults.line_max_attempts),
            escalate_region_after_s=parse_duration(get("ESCALATE_REGION_AFTER") or "30m"),
            escalate_central_after_s=parse_duration(get("ESCALATE_CENTRAL_AFTER") or "60m"),
            ticket_remind_after_s=parse_duration(get("TICKET_REMIND_AFTER") or "30m"),
            ticket_close_after_s=parse_duration(get("TICKET_CLOSE_AFTER") or "3d"),
            queue_immediate=(get("QUEUE_IMMEDIATE") or "").lower() in {"1", "true", "yes"},
            worker_threads=get_int("WORKER_THREADS", defaults.worker_threads),
            console_secret_key=get("CONSOLE_SECRET_KEY") or "",
            console_idle_s=parse_duration(get("CONSOLE_IDLE_TIMEOUT") or "30m"),
            console_cookie_secure=(get("CONSOLE_COOKIE_SECURE") or "1").lower()
            not in {"0", "false", "no"},
            line_login_channel_id=get("LINE_LOGIN_CHANNEL_ID") or "",
            line_login_channel_secret=get("LINE_LOGIN_CHANNEL_SECRET") or "",
            line_login_base=(get("LINE_LOGIN_BASE") or "").rstrip("/") or None,
        )

    @property
    def line_login_hosts(self) -> tuple[str, str]:
        """(authorize host, API host) of LINE Login: LINE_LOGIN_BASE for both, else the
        Messaging API's base (the simulator serves both), else LINE's own hosts."""
        base = self.line_login_base or self.line_api_base
        if base:
            return base, base
        return "https://access.line.me", "https://api.line.me"

    @property
    def public_base_url(self) -> str:
        return self.public_url or f"http://127.0.0.1:{self.port}"

    def require_line_credentials(self) -> None:
        """Fail at start-up, with a readable message, when the web or worker cannot talk to LINE."""
        missing = [
            name
            for name, value in (
                ("LINE_CHANNEL_SECRET", self.channel_secret),
                ("LINE_CHANNEL_ACCESS_TOKEN", self.channel_access_token),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} not set. Copy them from the LINE Developers console "
                "(Messaging API channel) into the environment or a .env file; `make run` sets "
                "development values for the simulator."
            )
