"""`python -m bot.consumer`: the worker process (the Procfile's `worker:`).

A module of its own so that the tasks stay registered as `bot.worker.*` (running
`python -m bot.worker` would register them under `__main__` and the web's messages would not
match). Checks the configuration before consuming.
"""

from __future__ import annotations

import logging
import sys

from huey.consumer_options import ConsumerConfig

from bot.config import ConfigError
from bot.runtime import get_runtime
from bot.worker import huey

GIL_SWITCH_INTERVAL_S = 0.0005


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    runtime = get_runtime()
    try:
        runtime.settings.require_line_credentials()
    except ConfigError as exc:
        raise SystemExit(f"smartbmn worker: {exc}") from None
    # The FAQ (76 MB of tokenizer dictionary) is built on the first question, not here: a
    # worker that only sends announcements stays small.
    # A thread back from the database waits for the GIL while another runs Python; by default
    # up to 5 ms, on every round trip. At 100 questions/s on PostgreSQL that wait, a dozen
    # times per event, was most of an answer's time (p50 3.4 s → 0.4 s at 0.5 ms, measured
    # with bench/e2e_bench.py); the extra switches cost no CPU we could tell from the noise
    # (the worker's CPU per question 6.0–6.5 ms either way).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    config = ConsumerConfig(
        workers=runtime.settings.worker_threads,
        worker_type="thread",
        periodic=True,
        check_worker_health=True,
        # An idle SQLite queue is polled (Redis wakes the consumer at once): at most 0.1 s
        # before work is seen; an idle poll is one small read.
        initial_delay=0.02,
        backoff=1.5,
        max_delay=0.1,
    )
    config.validate()
    huey.create_consumer(**config.values).run()


if __name__ == "__main__":
    main()
