"""`make run`: web + worker + LINE simulator on this machine, with development credentials.

The three are the Procfile's processes plus the simulator. A process that dies is started again
(after a pause that doubles while it keeps dying), so a crashed worker does not take the
simulator's conversations down with it. Ctrl-C (or SIGTERM) stops them all.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.config import PROJECT_ROOT, Settings

DEV_SECRET = "dev-channel-secret-for-the-simulator"
DEV_TOKEN = "dev-access-token-for-the-simulator"
# LINE Login (the staff console's sign-in) against the simulator: a made-up channel that both
# the console and the simulator read, as they share LINE_CHANNEL_SECRET.
DEV_LOGIN_CHANNEL_ID = "2000000001"
DEV_LOGIN_CHANNEL_SECRET = "0d1e2v3c4h5a6n7n8e9l0s1e2c3r4e5t"


def dev_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LINE_CHANNEL_SECRET", DEV_SECRET)
    env.setdefault("LINE_CHANNEL_ACCESS_TOKEN", DEV_TOKEN)
    env.setdefault("LINE_LOGIN_CHANNEL_ID", DEV_LOGIN_CHANNEL_ID)
    env.setdefault("LINE_LOGIN_CHANNEL_SECRET", DEV_LOGIN_CHANNEL_SECRET)
    settings = Settings.from_env(env)
    env.setdefault("LINE_API_BASE", f"http://127.0.0.1:{settings.sim_port}")
    env.setdefault("HOST", "127.0.0.1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


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


def main() -> int:
    env = dev_environment()
    settings = Settings.from_env(env)
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
                "  A process that stops is started again; Ctrl-C stops everything.\n",
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
