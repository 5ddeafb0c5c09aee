"""Settings from the environment, and clear errors instead of late crashes."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from bot.config import PROJECT_ROOT, ConfigError, Settings, parse_duration
from bot.db import normalize_url


def test_defaults_are_sqlite_under_var_and_the_real_line():
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///") and "/var/" in settings.database_url
    assert settings.line_api_base is None
    assert (settings.port, settings.sim_port) == (8000, 8001)
    assert settings.redis_url is None


def test_values_come_from_the_environment():
    settings = Settings.from_env(
        {
            "LINE_CHANNEL_SECRET": " s ",
            "LINE_CHANNEL_ACCESS_TOKEN": "t",
            "LINE_API_BASE": "http://127.0.0.1:8001/",
            "DATABASE_URL": "postgresql://u@h/db",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "PORT": "9000",
            "SIM_PORT": "9001",
        }
    )
    assert settings.channel_secret == "s"
    assert settings.line_api_base == "http://127.0.0.1:8001"
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert (settings.port, settings.sim_port) == (9000, 9001)


def test_a_bad_port_is_a_clear_error():
    with pytest.raises(ConfigError, match="PORT must be an integer"):
        Settings.from_env({"PORT": "eighty"})


def test_missing_credentials_name_what_to_set():
    with pytest.raises(ConfigError, match="LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN"):
        Settings.from_env({}).require_line_credentials()
    with pytest.raises(ConfigError, match="LINE_CHANNEL_ACCESS_TOKEN not set"):
        Settings.from_env({"LINE_CHANNEL_SECRET": "s"}).require_line_credentials()


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_a_bad_duration_is_a_clear_error():
    with pytest.raises(ConfigError, match="not a duration"):
        parse_duration("soon")


def test_postgres_urls_use_psycopg_3():
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize("module", ["bot.wsgi", "bot.consumer"])
def test_web_and_worker_refuse_to_start_without_credentials(module, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_ROOT),
        "DOTENV_PATH": str(tmp_path / "no.env"),  # a developer's .env must not satisfy the check
        "HUEY_SQLITE_PATH": str(tmp_path / "h.db"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    code = "import runpy, sys; runpy.run_module(sys.argv[1], run_name='__main__')"
    result = subprocess.run(
        [sys.executable, "-c", code, module],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LINE_CHANNEL_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


DOMAIN_PACKAGES = ("faq", "ticketing", "broadcast", "common")
# What the domain must not depend on: the web framework, the LINE SDK, and the entrypoints.
FORBIDDEN = ("flask", "werkzeug", "linebot", "bot", "handlers", "console")


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def test_domain_packages_import_no_framework_sdk_or_entrypoint():
    """Every module of every domain package, imported in a fresh interpreter: nothing from
    FORBIDDEN may be loaded as a result."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {DOMAIN_PACKAGES!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(package.__path__, name + '.'):\n"
        "        if not info.name.endswith('__main__'):\n"
        "            importlib.import_module(info.name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.split()
    assert "ticketing.service" in loaded and "faq.matcher" in loaded  # the walk did walk
    assert [m for m in loaded if _forbidden(m)] == []


def test_domain_sources_name_no_framework_sdk_or_entrypoint():
    """The same rule read from the source, so an import inside a function counts too."""
    offenders = []
    for package in DOMAIN_PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                offenders += [
                    f"{path.relative_to(PROJECT_ROOT)}: {n}" for n in names if _forbidden(n)
                ]
    assert offenders == []
