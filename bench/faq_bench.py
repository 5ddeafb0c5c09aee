"""FAQ matching speed with a 300-entry knowledge base, on one core.

The shipped entries are kept and synthetic ones added until there are --entries of them (each
with 8 phrasings of 3–7 real Thai dictionary words, so the indexes grow as a real KB would).
The question sets the matcher learns from are copied beside them (`question_sets`). Questions are
the dev (if ../shared is there), tuning and styles_dev sets, cycled. Load time covers reading the
YAML and the sets, building the tokenizer dictionary and indexing every phrasing (those of the
shipped knowledge base and sets prepared already, `faq.prepared`; the synthetic ones not).

Last line (a contract): {"entries", "qps", "p50_ms", "p99_ms", "load_s"}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq.normalize import DATA  # noqa: E402
from faq.question_sets import learned_sets  # noqa: E402
from faq.service import FaqService  # noqa: E402


def synthesize(target: int, seed: int = 2563) -> Path:
    from pythainlp.corpus import thai_words

    rng = random.Random(seed)
    words = sorted(w for w in thai_words() if 2 <= len(w) <= 8 and " " not in w)
    entries = yaml.safe_load((DATA / "kb.yaml").read_text(encoding="utf-8"))
    for n in range(len(entries), target):
        phrasings = [" ".join(rng.sample(words, rng.randint(3, 7))) for _ in range(8)]
        entries.append(
            {
                "id": f"synthetic-{n:03d}",
                "category": "programme",
                "label": f"หัวข้อ {n}",
                "question": phrasings[0],
                "examples": phrasings[1:],
                "answer": "คำตอบทดสอบ",
            }
        )
    folder = Path(tempfile.mkdtemp(prefix="faq-bench-"))
    # Everything but the knowledge base as shipped: the decision model and lexicons included.
    for name in (
        "directory.yaml",
        "synonyms.yaml",
        "words.txt",
        "english.yaml",
        "redirects.yaml",
        "decider.json",
        "prepared.json.gz",
    ):
        shutil.copy(DATA / name, folder / name)
    for path in learned_sets(DATA):  # the question sets the matcher learns from
        shutil.copy(path, folder / path.name)
    (folder / "kb.yaml").write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return folder


def questions() -> list[str]:
    """The shared dev set when ../shared is there, and our own sets in every style."""
    files = [
        ROOT.parent / "shared" / "faq" / "dev.jsonl",
        DATA / "tuning.jsonl",
        DATA / "styles_dev.jsonl",
    ]
    rows = [json.loads(line) for f in files if f.exists() for line in f.read_text().splitlines()]
    return [r["q"] for r in rows if r.get("q")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=300)
    parser.add_argument("--questions", type=int, default=5000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    folder = synthesize(args.entries)
    started = time.perf_counter()
    service = FaqService.load(folder)
    load_s = time.perf_counter() - started
    n_entries = len(service.entries)
    n_docs = len(service.matcher.owners)

    pool = questions()
    for q in pool[:50]:  # warm-up: first calls fill caches
        service.respond(q)
    latencies = []
    total_started = time.perf_counter()
    for i in range(args.questions):
        t0 = time.perf_counter()
        service.respond(pool[i % len(pool)])
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - total_started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    qps = args.questions / total
    print(f"knowledge base: {n_entries} entries, {n_docs} phrasings; load + index {load_s:.2f} s")
    print(
        f"{args.questions} questions on one core: {qps:.0f}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    print("targets: p99 <= 5 ms, >= 1000 questions/s, load <= 2 s")
    shutil.rmtree(folder, ignore_errors=True)
    print(
        json.dumps(
            {
                "entries": n_entries,
                "qps": round(qps, 1),
                "p50_ms": round(p50, 3),
                "p99_ms": round(p99, 3),
                "load_s": round(load_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
