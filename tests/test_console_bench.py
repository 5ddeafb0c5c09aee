"""The console benchmark works end to end on a few hundred tickets (the full run is
`make bench-console`): it loads the data in bulk (COPY on PostgreSQL), times the pages, and
ends with its JSON line."""

from __future__ import annotations

import json

from bench import console_bench
from tests.conftest import PG_URL


def test_the_console_bench_runs_on_a_small_database(capsys):
    argv = ["--tickets", "300", "--messages", "4", "--requests", "4"]
    if PG_URL:
        argv += ["--database-url", PG_URL]
    figures = console_bench.main(argv)
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == figures
    assert set(figures) == {"tickets", "queue_p95_ms", "queue_scoped_p95_ms", "ticket_p95_ms"}
    assert figures["tickets"] == 300
    assert figures["queue_p95_ms"] > 0 and figures["queue_scoped_p95_ms"] > 0
    assert "1,200 messages" in "\n".join(lines)
    # The ticket page belongs to another part of the console: timed when it exists, and
    # otherwise named as not measured rather than silently left out.
    if figures["ticket_p95_ms"] is None:
        assert any("not measured" in line for line in lines)
