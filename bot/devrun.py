"""`make run`: web + worker + LINE simulator on this machine, with development credentials.

The three are the Procfile's processes plus the simulator. A process that dies is started again
(after a pause that doubles while it keeps dying), so a crashed worker does not take the
simulator's conversations down with it. Ctrl-C (or SIGTERM) stops them all.

The staff console is served by the web process at /console. On the first run (no console
account in the database yet) a demo operator and a demo admin are made with random passwords,
printed and kept in var/demo-accounts.txt (mode 600); `make totp` prints the admin's current
second-factor code from that file. The console's cookie key is generated once into
var/console-secret-key unless CONSOLE_SECRET_KEY is set.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from dotenv import dotenv_values
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import PROJECT_ROOT, VAR_DIR, Settings

DEV_SECRET = "dev-channel-secret-for-the-simulator"
DEV_TOKEN = "dev-access-token-for-the-simulator"
# LINE Login (the staff console's sign-in) against the simulator: a made-up channel that both
# the console and the simulator read, as they share LINE_CHANNEL_SECRET.
DEV_LOGIN_CHANNEL_ID = "2000000001"
DEV_LOGIN_CHANNEL_SECRET = "0d1e2v3c4h5a6n7n8e9l0s1e2c3r4e5t"
CONSOLE_KEY_FILE = VAR_DIR / "console-secret-key"
DEMO_ACCOUNTS_FILE = VAR_DIR / "demo-accounts.txt"
DEMO = (  # role, username, name shown in the console
    ("operator", "demo-operator", "เจ้าหน้าที่ทดลอง"),
    ("admin", "demo-admin", "ผู้ดูแลระบบทดลอง"),
)


def _write_private(path: Path, text: str, *, replace: bool) -> bool:
    """Write `text` to `path`, readable by this user only (mode 600). With replace=False, only
    if `path` does not exist yet (False: it did). Written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not replace:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return True
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return True


def dev_console_key(path: Path = CONSOLE_KEY_FILE) -> str:
    """The console's cookie key for development: random, made once, kept in `path` (600).

    Without it the key would be derived from DEV_SECRET, which is in this file for anyone to
    read, so anyone could sign a session cookie for a local console."""
    _write_private(path, secrets.token_hex(32) + "\n", replace=False)
    key = path.read_text(encoding="utf-8").strip()
    if not key:  # a file left empty by an interrupted first run
        key = secrets.token_hex(32)
        _write_private(path, key + "\n", replace=True)
    return key


def dev_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LINE_CHANNEL_SECRET", DEV_SECRET)
    env.setdefault("LINE_CHANNEL_ACCESS_TOKEN", DEV_TOKEN)
    env.setdefault("LINE_LOGIN_CHANNEL_ID", DEV_LOGIN_CHANNEL_ID)
    env.setdefault("LINE_LOGIN_CHANNEL_SECRET", DEV_LOGIN_CHANNEL_SECRET)
    settings = Settings.from_env(env)
    env.setdefault("LINE_API_BASE", f"http://127.0.0.1:{settings.sim_port}")
    env.setdefault("HOST", "127.0.0.1")
    if not children_settings(env).console_secret_key:
        env["CONSOLE_SECRET_KEY"] = dev_console_key()
    env["PYTHONUNBUFFERED"] = "1"
    return env


def children_settings(env: Mapping[str, str]) -> Settings:
    """The settings the web and worker will read: `env`, then .env for what it lacks."""
    dotenv = dotenv_values(env.get("DOTENV_PATH") or PROJECT_ROOT / ".env")
    return Settings.from_env({**{k: v for k, v in dotenv.items() if v is not None}, **env})


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    password: str
    totp_secret: str = ""


def demo_accounts_file(env: Mapping[str, str]) -> Path:
    return Path(env.get("DEMO_ACCOUNTS_FILE") or DEMO_ACCOUNTS_FILE)


def read_demo_accounts(path: Path) -> list[DemoAccount]:
    """The accounts in a file written by `ensure_demo_accounts` ([] when there is none)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    accounts = []
    for line in lines:
        fields = line.split()
        if len(fields) == 4 and not line.startswith("#"):
            role, username, password, secret = fields
            accounts.append(DemoAccount(role, username, password, "" if secret == "-" else secret))
    return accounts


def ensure_demo_accounts(
    sessions: sessionmaker[Session], path: Path
) -> tuple[list[DemoAccount], bool]:
    """On the first run, when the database has no console account at all, make a demo
    operator and a demo admin (random passwords; the admin has a TOTP secret), and keep them in
    `path` (mode 600). Later runs: the accounts in `path` if they are still in this database.

    Returns (accounts, made now). ([], False): someone made real accounts; nothing is added.
    """
    from bot.db import transaction
    from ticketing import staff
    from ticketing.models import StaffLogin

    with transaction(sessions) as session:
        if session.scalar(select(func.count()).select_from(StaffLogin)) == 0:
            made = []
            for role, username, name in DEMO:
                password = secrets.token_urlsafe(15)  # 20 characters, about 120 bits
                _, secret = staff.create_staff(session, "devrun", username, name, role, password)
                made.append(DemoAccount(role, username, password, secret or ""))
            # Written before the commit: if the file cannot be written, no account is made
            # whose password nobody knows.
            _write_private(path, _demo_file_text(made), replace=True)
            return made, True
        saved = read_demo_accounts(path)
        if not saved:
            return [], False
        known = set(
            session.scalars(
                select(StaffLogin.username).where(
                    StaffLogin.username.in_([a.username for a in saved])
                )
            )
        )
    return ([a for a in saved if a.username in known], False) if known else ([], False)


def _demo_file_text(accounts: list[DemoAccount]) -> str:
    lines = [
        "# Demo console accounts made by `make run` on its first run (local use only).",
        "# The admin's code: `make totp`, or add the secret to an authenticator app.",
        "# role  username  password  totp-secret",
    ]
    lines += [f"{a.role} {a.username} {a.password} {a.totp_secret or '-'}" for a in accounts]
    return "\n".join(lines) + "\n"


def totp_code(path: Path) -> str:
    """The demo admin's current code, from the secret in `path` (never from the database)."""
    for account in read_demo_accounts(path):
        if account.totp_secret:
            return pyotp.TOTP(account.totp_secret).now()
    raise LookupError(f"no demo admin in {path}: `make run` makes one on its first run")


def console_lines(
    settings: Settings, accounts: list[DemoAccount], made: bool, path: Path
) -> list[str]:
    """What the banner says about the staff console and how to sign in to it here."""
    url = f"http://127.0.0.1:{settings.port}/console"
    lines = [f"  Staff console:               {url}"]
    if not accounts:
        lines.append(
            "    Sign in with your console account "
            "(new one: make flask ARGS='staff create --username … --name … --role operator')."
        )
        return lines
    for account in accounts:
        line = f"    {account.role:<9} {account.username:<14} password {account.password}"
        if account.totp_secret:
            line += "  + code: make totp"
        lines.append(line)
    admin = next((a for a in accounts if a.totp_secret), None)
    if admin:
        lines.append(f"    (admin's TOTP secret for an authenticator app: {admin.totp_secret})")
    when = "made now, on the first run" if made else "made on the first run"
    lines.append(f"    Demo accounts {when}; kept in {_shown(path)} (mode 600).")
    return lines


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def demo_sign_in(env: Mapping[str, str], settings: Settings) -> list[str]:
    """Make the demo accounts if this is the first run; the banner's console lines."""
    from bot.db import make_engine, make_session_factory

    path = demo_accounts_file(env)
    engine = make_engine(settings.database_url)
    try:
        accounts, made = ensure_demo_accounts(make_session_factory(engine), path)
    except SQLAlchemyError as exc:
        print(f"[devrun] no demo console accounts: {exc.__class__.__name__}", file=sys.stderr)
        print("[devrun] is the database migrated? make migrate", file=sys.stderr)
        accounts, made = [], False
    finally:
        engine.dispose()
    return console_lines(settings, accounts, made, path)


def wait_for(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM if the supervisor itself is killed
    (kill -9), so no orphan keeps a port. Elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    name: str
    command: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # deaths in a row, each within `stable_s` of its start
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Keeps a set of processes running: one that exits is started again after a backoff
    (base, 2×base, … up to cap; back to base once it has run `stable_s`); stop() ends them all.

    Children run in their own session, so Ctrl-C reaches only the supervisor, which then
    stops them in order instead of racing their own SIGINT handling.
    """

    commands: Mapping[str, Sequence[str]]
    cwd: str | os.PathLike[str] = PROJECT_ROOT
    env: Mapping[str, str] | None = None
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0
    stable_s: float = 30.0
    on_restart: Callable[[str], None] = lambda name: None
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    children: dict[str, Child] = field(init=False, default_factory=dict)
    stopping: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.children = {name: Child(name, cmd) for name, cmd in self.commands.items()}

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            list(child.command),
            cwd=self.cwd,
            env=dict(self.env) if self.env is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def start(self) -> None:
        for child in self.children.values():
            self._spawn(child)

    def backoff(self, failures: int) -> float:
        return min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(failures - 1, 0))

    def check(self) -> None:
        """One round: notice children that exited, start those whose pause is over."""
        now = time.monotonic()
        for child in self.children.values():
            if self.stopping:
                return
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._spawn(child)
                    child.restarts += 1
                    self.say(f"[devrun] {child.name} started again (restart {child.restarts})")
                    # In a thread: a slow hook (waiting for the port) must not hold the others.
                    threading.Thread(
                        target=self.on_restart, args=(child.name,), daemon=True
                    ).start()
                continue
            assert child.process is not None
            code = child.process.poll()
            if code is None:
                continue
            ran = now - child.started_at
            child.failures = 1 if ran >= self.stable_s else child.failures + 1
            delay = self.backoff(child.failures)
            child.restart_at = now + delay
            self.say(
                f"[devrun] {child.name} exited ({_describe(code)}) after {ran:.0f} s; "
                f"starting it again in {delay:g} s"
            )

    def run(self, poll_s: float = 0.2) -> None:
        """Check until stop() is called (from a signal handler) or Ctrl-C."""
        try:
            while not self.stopping:
                self.check()
                time.sleep(poll_s)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM to every live child, then SIGKILL to any still there after timeout_s."""
        self.stopping = True
        live = [c.process for c in self.children.values() if c.process and c.process.poll() is None]
        for process in live:
            process.terminate()
        deadline = time.monotonic() + timeout_s
        for process in live:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["totp"]:
        # `make totp`: the demo admin's current code, from the secret in var/demo-accounts.txt
        # (as an authenticator app holding it would show); the database is never read.
        try:
            print(totp_code(demo_accounts_file(os.environ)))
        except LookupError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python -m bot.devrun [totp]", file=sys.stderr)
        return 2
    env = dev_environment()
    settings = Settings.from_env(env)
    console = demo_sign_in(env, children_settings(env))
    python = sys.executable
    bin_dir = os.path.dirname(python)
    sim_url = f"http://127.0.0.1:{settings.sim_port}"

    def give_rich_menu() -> None:
        # The simulator starts empty: give it the rich menu, as a real channel would have.
        subprocess.run(
            [os.path.join(bin_dir, "flask"), "--app", "bot", "richmenu"],
            cwd=PROJECT_ROOT,
            env=env,
            check=False,
            capture_output=True,
        )

    def on_restart(name: str) -> None:
        if name != "simulator":
            return
        print(
            "[devrun] the simulator kept its chats in memory: the chat page starts empty again",
            file=sys.stderr,
            flush=True,
        )
        if wait_for(f"{sim_url}/_sim/stats"):
            give_rich_menu()  # lost with the rest of its state

    supervisor = Supervisor(
        {
            "simulator": [python, "-m", "simulator"],
            "web": [os.path.join(bin_dir, "gunicorn"), "-c", "gunicorn.conf.py", "bot.wsgi:app"],
            "worker": [python, "-m", "bot.consumer"],
        },
        env=env,
        on_restart=on_restart,
    )

    def on_sigterm(*_: object) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C stops everything, even when started from a shell that ignores SIGINT (a
    # background job of a script): the children are in their own sessions and never see it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    supervisor.start()
    try:
        if wait_for(f"http://127.0.0.1:{settings.port}/healthz") and wait_for(
            f"{sim_url}/_sim/stats"
        ):
            give_rich_menu()
            print(
                "\n  SmartBMN Desk is running.\n"
                f"  Chat page (as a volunteer):  {sim_url}/\n"
                f"  Webhook:                     http://127.0.0.1:{settings.port}/callback\n"
                + "".join(line + "\n" for line in console)
                + "  A process that stops is started again; Ctrl-C stops everything.\n",
                flush=True,
            )
        else:
            print("a process did not start; see the messages above", file=sys.stderr)
    except KeyboardInterrupt:
        supervisor.stop()
        return 0
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
