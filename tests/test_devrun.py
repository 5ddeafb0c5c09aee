"""`make run`'s supervisor with tiny children: a process that dies is started again, the others
keep running (the simulator keeps its conversations), and stop() leaves nothing behind."""

from __future__ import annotations

import os
import re
import runpy
import signal
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from bot.config import PROJECT_ROOT
from bot.db import make_engine, make_session_factory, transaction
from bot.devrun import (
    Supervisor,
    console_lines,
    dev_console_key,
    dev_environment,
    ensure_demo_accounts,
    read_demo_accounts,
    totp_code,
)
from bot.devrun import main as devrun_main
from common.tables import Base
from tests.conftest import dev_settings
from tests.console_support import make_staff
from ticketing import staff
from ticketing.models import StaffLogin

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
QUITTER = [sys.executable, "-c", "import sys; sys.exit(3)"]


def stubborn(ready: Path) -> list[str]:
    """A child that ignores SIGTERM, and says (by creating `ready`) once it does."""
    code = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    )
    return [sys.executable, "-c", code, str(ready)]


def poll_until(condition: Callable[[], bool], supervisor: Supervisor, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        supervisor.check()
        time.sleep(0.01)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def make_supervisor(lines: list[str]) -> Iterator[Callable[..., Supervisor]]:
    made: list[Supervisor] = []

    def make(commands, **options) -> Supervisor:
        options = {"backoff_base_s": 0.01, "backoff_cap_s": 0.04, "say": lines.append, **options}
        supervisor = Supervisor(commands, **options)
        made.append(supervisor)
        supervisor.start()
        return supervisor

    yield make
    for supervisor in made:
        supervisor.stop(timeout_s=2)


def test_a_killed_child_is_started_again_and_the_others_keep_running(make_supervisor, lines):
    restarted: list[str] = []
    supervisor = make_supervisor(
        {"simulator": SLEEPER, "worker": SLEEPER}, on_restart=restarted.append
    )
    simulator_pid = supervisor.children["simulator"].process.pid
    worker_pid = supervisor.children["worker"].process.pid
    os.kill(worker_pid, signal.SIGKILL)

    poll_until(lambda: supervisor.children["worker"].restarts == 1, supervisor)
    worker = supervisor.children["worker"].process
    assert worker.pid != worker_pid and worker.poll() is None
    assert supervisor.children["simulator"].process.pid == simulator_pid  # untouched
    assert alive(simulator_pid)
    poll_until(lambda: restarted == ["worker"], supervisor)  # the hook runs in a thread
    assert any("worker exited (signal SIGKILL)" in line for line in lines), lines
    assert any("worker started again (restart 1)" in line for line in lines), lines


def test_a_child_that_keeps_dying_waits_longer_each_time_up_to_the_cap(make_supervisor, lines):
    supervisor = make_supervisor({"worker": QUITTER}, stable_s=60)
    poll_until(lambda: supervisor.children["worker"].restarts >= 4, supervisor)
    pauses = [line.rsplit("in ", 1)[1] for line in lines if "exited (exit code 3)" in line]
    assert pauses[:4] == ["0.01 s", "0.02 s", "0.04 s", "0.04 s"]
    assert [supervisor.backoff(n) for n in (1, 2, 3, 9)] == [0.01, 0.02, 0.04, 0.04]


def test_stop_ends_every_child_even_one_that_ignores_sigterm(make_supervisor, tmp_path):
    ready = tmp_path / "ready"
    supervisor = make_supervisor({"web": SLEEPER, "worker": stubborn(ready)})
    pids = [c.process.pid for c in supervisor.children.values()]
    poll_until(ready.exists, supervisor)
    supervisor.stop(timeout_s=0.5)
    assert [alive(pid) for pid in pids] == [False, False]
    supervisor.check()  # after stop, nothing is started again
    assert all(c.restarts == 0 for c in supervisor.children.values())


def test_each_gunicorn_instance_has_its_own_control_socket_under_var(monkeypatch):
    def control_socket(port: str) -> str:
        monkeypatch.setenv("PORT", port)
        return runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))["control_socket"]

    first, second = control_socket("8000"), control_socket("8100")
    assert first != second
    assert first.startswith(str(PROJECT_ROOT / "var")) and "8000" in first


# -- the console on `make run`: demo accounts, the banner, the admin's code, the cookie key --


def staff_logins(runtime) -> list[str]:
    with runtime.sessions() as session:
        return sorted(session.scalars(select(StaffLogin.username)))


def test_the_first_run_makes_a_demo_operator_and_admin_with_random_passwords(runtime, tmp_path):
    path = tmp_path / "demo-accounts.txt"
    accounts, made = ensure_demo_accounts(runtime.sessions, path)
    assert made and [(a.role, a.username) for a in accounts] == [
        ("operator", "demo-operator"),
        ("admin", "demo-admin"),
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_demo_accounts(path) == accounts
    operator, admin = accounts
    assert operator.password != admin.password and min(len(a.password) for a in accounts) >= 20
    assert not operator.totp_secret and admin.totp_secret
    with transaction(runtime.sessions) as session:
        assert staff.check_sign_in(session, "demo-operator", operator.password, "").role == (
            "operator"
        )
        with pytest.raises(staff.SignInRefused):  # the admin needs the code
            staff.check_sign_in(session, "demo-admin", admin.password, "")
        assert staff.check_sign_in(session, "demo-admin", admin.password, totp_code(path))

    # Idempotent: the next run makes nothing and shows the same accounts.
    assert ensure_demo_accounts(runtime.sessions, path) == (accounts, False)
    assert staff_logins(runtime) == ["demo-admin", "demo-operator"]

    # Another empty database gets other passwords: none is fixed.
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    engine = make_engine(other_db)
    Base.metadata.create_all(engine)
    try:
        others, made_again = ensure_demo_accounts(make_session_factory(engine), tmp_path / "b.txt")
    finally:
        engine.dispose()
    assert made_again
    assert {a.password for a in others}.isdisjoint({a.password for a in accounts})
    assert others[1].totp_secret != admin.totp_secret


def test_no_demo_account_is_made_where_staff_accounts_exist(runtime, tmp_path):
    make_staff(runtime, "admin", "somchai")
    path = tmp_path / "demo-accounts.txt"
    assert ensure_demo_accounts(runtime.sessions, path) == ([], False)
    assert not path.exists() and staff_logins(runtime) == ["somchai"]
    lines = console_lines(dev_settings(port=8123), [], False, path)
    assert lines[0].endswith("http://127.0.0.1:8123/console")
    assert "staff create" in lines[1]


def test_a_demo_file_from_another_database_is_not_shown(runtime, tmp_path):
    path = tmp_path / "demo-accounts.txt"
    path.write_text("operator demo-operator some-old-password-here -\n")
    make_staff(runtime, "operator", "somsri")
    assert ensure_demo_accounts(runtime.sessions, path) == ([], False)


def test_the_banner_says_where_the_console_is_and_how_to_sign_in(runtime, tmp_path):
    path = tmp_path / "demo-accounts.txt"
    accounts, made = ensure_demo_accounts(runtime.sessions, path)
    text = "\n".join(console_lines(dev_settings(port=8123), accounts, made, path))
    assert "Staff console:               http://127.0.0.1:8123/console" in text
    operator, admin = accounts
    assert f"operator  demo-operator  password {operator.password}" in text
    assert f"admin     demo-admin     password {admin.password}  + code: make totp" in text
    assert admin.totp_secret in text and str(path) in text


def test_make_totp_prints_the_demo_admins_current_code(runtime, tmp_path, monkeypatch, capsys):
    path = tmp_path / "demo-accounts.txt"
    monkeypatch.setenv("DEMO_ACCOUNTS_FILE", str(path))
    assert devrun_main(["totp"]) == 1  # no demo accounts yet
    assert "make run" in capsys.readouterr().err
    accounts, _ = ensure_demo_accounts(runtime.sessions, path)
    assert devrun_main(["totp"]) == 0
    code = capsys.readouterr().out.strip()
    assert re.fullmatch(r"\d{6}", code)
    assert pyotp.TOTP(accounts[1].totp_secret).verify(code, valid_window=1)


def test_the_dev_console_key_is_random_made_once_and_private(tmp_path):
    path = tmp_path / "var" / "console-secret-key"
    key = dev_console_key(path)
    assert len(key) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dev_console_key(path) == key
    assert dev_console_key(tmp_path / "other-key") != key


def test_make_run_sets_the_console_key_unless_one_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("DOTENV_PATH", str(tmp_path / "none.env"))
    monkeypatch.delenv("CONSOLE_SECRET_KEY", raising=False)
    assert dev_environment()["CONSOLE_SECRET_KEY"] == dev_console_key()
    monkeypatch.setenv("CONSOLE_SECRET_KEY", "mine")
    assert dev_environment()["CONSOLE_SECRET_KEY"] == "mine"
    (tmp_path / "with.env").write_text("CONSOLE_SECRET_KEY=from-dotenv\n")
    monkeypatch.setenv("DOTENV_PATH", str(tmp_path / "with.env"))
    monkeypatch.delenv("CONSOLE_SECRET_KEY")
    assert "CONSOLE_SECRET_KEY" not in dev_environment()  # the web reads .env itself
