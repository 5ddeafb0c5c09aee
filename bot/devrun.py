"""`make run`: web + worker + LINE simulator on this machine, with development credentials.

The three are the Procfile's processes plus the simulator; Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from bot.config import PROJECT_ROOT, Settings

DEV_SECRET = "dev-channel-secret-for-the-simulator"
DEV_TOKEN = "dev-access-token-for-the-simulator"


def dev_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LINE_CHANNEL_SECRET", DEV_SECRET)
    env.setdefault("LINE_CHANNEL_ACCESS_TOKEN", DEV_TOKEN)
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


def main() -> int:
    env = dev_environment()
    settings = Settings.from_env(env)
    python = sys.executable
    bin_dir = os.path.dirname(python)
    commands = {
        "simulator": [python, "-m", "simulator"],
        "web": [os.path.join(bin_dir, "gunicorn"), "-c", "gunicorn.conf.py", "bot.wsgi:app"],
        "worker": [python, "-m", "bot.consumer"],
    }
    procs = {
        name: subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env) for name, cmd in commands.items()
    }

    def stop(*_: object) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        ok = wait_for(f"http://127.0.0.1:{settings.port}/healthz") and wait_for(
            f"http://127.0.0.1:{settings.sim_port}/_sim/stats"
        )
        if ok:
            # The simulator starts empty: give it the rich menu, as a real channel would have.
            subprocess.run(
                [os.path.join(bin_dir, "flask"), "--app", "bot", "richmenu"],
                cwd=PROJECT_ROOT,
                env=env,
                check=False,
                capture_output=True,
            )
            print(
                "\n  SmartBMN Desk is running.\n"
                f"  Chat page (as a volunteer):  http://127.0.0.1:{settings.sim_port}/\n"
                f"  Webhook:                     http://127.0.0.1:{settings.port}/callback\n"
                "  Ctrl-C stops everything.\n",
                flush=True,
            )
        else:
            print("a process did not start; see the messages above", file=sys.stderr)
            stop()
        while all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
        for name, proc in procs.items():
            if proc.poll() not in (None, 0, -signal.SIGTERM):
                print(f"{name} exited with {proc.returncode}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
