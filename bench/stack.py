"""The service as separate processes on loopback, for benchmarks: the LINE simulator, the web
(gunicorn, `bot.wsgi:app`) and N huey consumers (`python -m bot.consumer`), as in production.

`fresh_database()` gives each run an empty, migrated database; `Stack` starts the processes and
stops them (terminate, then kill) whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_until(ready: Callable[[], bool], seconds: float, what: str, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(poll_s)
    raise TimeoutError(what)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def fresh_database(database_url: str | None, redis_url: str | None, workdir: Path) -> str:
    """An empty, migrated database for one run and an empty queue; returns its URL.

    PostgreSQL: the public schema is dropped and rebuilt. None: a new SQLite file in `workdir`
    (with the huey queue beside it), as `make run` uses.
    """
    from sqlalchemy import text

    from bot.db import make_engine
    from bot.migrate import upgrade

    if database_url is None:
        database_url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        engine = make_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(database_url)
    if redis_url:
        # The worker's queue (`bot.worker.make_huey`), its keys only. Not by importing
        # bot.worker: that builds the module's queue from this process's environment, which a
        # benchmark sets only afterwards.
        from huey import RedisHuey

        RedisHuey("smartbmn", url=redis_url).flush()
    return database_url


def stack_environment(
    database_url: str, redis_url: str | None, workdir: Path, web_port: int, sim_port: int
) -> dict[str, str]:
    env = {
        **os.environ,
        "LINE_CHANNEL_SECRET": "bench-secret",
        "LINE_CHANNEL_ACCESS_TOKEN": "bench-token",
        "LINE_API_BASE": f"http://127.0.0.1:{sim_port}",
        "SIM_PORT": str(sim_port),
        "SIM_WEBHOOK_URL": f"http://127.0.0.1:{web_port}/callback",
        "DATABASE_URL": database_url,
        "HUEY_SQLITE_PATH": str(workdir / "huey.db"),
        "DOTENV_PATH": str(workdir / "none.env"),
    }
    env.pop("QUEUE_IMMEDIATE", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


class Stack:
    """Simulator, web and consumers for one run; stopped (terminate, then kill) on exit.

    Process output goes to `workdir/<name>.log` (read it when a run misbehaves).
    """

    def __init__(self, env: dict[str, str], workers: int, web_port: int, sim_port: int) -> None:
        python = sys.executable
        gunicorn = str(Path(python).parent / "gunicorn")
        logs = Path(env["HUEY_SQLITE_PATH"]).parent
        self.procs: list[subprocess.Popen] = []
        self.names: list[str] = []

        def start(name: str, command: list[str], extra: dict[str, str] | None = None) -> None:
            out = open(logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
            self.names.append(name)
            self.procs.append(
                subprocess.Popen(
                    command, env={**env, **(extra or {})}, cwd=ROOT, stdout=out, stderr=out
                )
            )

        start("simulator", [python, "-m", "simulator"])
        start(
            "web",
            [gunicorn, "-c", "gunicorn.conf.py", "bot.wsgi:app"],
            {"PORT": str(web_port), "HOST": "127.0.0.1"},
        )
        for n in range(workers):
            start(f"worker{n}", [python, "-m", "bot.consumer"])
        self.sim = f"http://127.0.0.1:{sim_port}"
        web = f"http://127.0.0.1:{web_port}/healthz"
        try:  # the LINE SDK's imports alone take seconds on a busy machine
            wait_until(lambda: bool(call(f"{self.sim}/_sim/stats")), 120, "the simulator")
            wait_until(lambda: urllib.request.urlopen(web, timeout=2).status == 200, 120, "web")
            call(f"{self.sim}/_sim/config", {"monthly_quota": None})
        except BaseException:
            self.stop()  # no process outlives the run
            raise

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each process and its children (gunicorn's workers) have
        used so far, by name (Linux /proc)."""
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
        tick = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        for name, proc in zip(self.names, self.procs, strict=True):
            family = {proc.pid} | {pid for pid, f in stats.items() if int(f[1]) == proc.pid}
            used[name] = sum(
                (int(stats[pid][11]) + int(stats[pid][12])) / tick for pid in family if pid in stats
            )
        return used

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def send(self, user: str, text: str) -> str:
        """One message; returns its webhook event id once the web has acknowledged it."""
        answer = call(f"{self.sim}/_sim/send", {"user": user, "text": text})
        if answer.get("webhookStatus") != 200:
            raise RuntimeError(f"webhook answered {answer.get('webhookStatus')}")
        return answer["event"]["webhookEventId"]

    def conversation(self, user: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"user": user})
        return call(f"{self.sim}/_sim/conversation?{query}")

    def answers(self, user: str) -> int:
        return len(call(f"{self.sim}/_sim/messages?" + urllib.parse.urlencode({"user": user})))


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
