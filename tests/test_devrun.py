"""`make run`'s supervisor with tiny children: a process that dies is started again, the others
keep running (the simulator keeps its conversations), and stop() leaves nothing behind."""

from __future__ import annotations

import os
import runpy
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.devrun import Supervisor

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
