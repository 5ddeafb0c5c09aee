"""Every FAQ answer, recorded once and compared after a change: speed work must change none.

    python bench/faq_answers.py record var/faq-answers.json   # before the change
    python bench/faq_answers.py check var/faq-answers.json    # after it: exit 1 on any difference
    python bench/faq_answers.py sample tests/data/faq/matches.jsonl  # the sample test_faq guards

What is recorded, for every question of every set (faq/data/*.jsonl but the blind sets not
scored yet, ../shared/faq/dev.jsonl when it is there):
- `python -m faq eval FILE` as printed (the load-time line left out: it is a time, not an answer);
- `python -m faq match` as printed (id, action, choices, score);
- in process, on the shipped knowledge base and on the benchmark's 300-entry one: the whole
  `MatchResult` (probability and runner-up included), the top-5 ranking and the decision's features;
- the decision model's training: every example's ranking and features as the fold matchers (built
  without part of the knowledge base) see them, and the fitted model.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faq_bench import synthesize  # noqa: E402
from faq.normalize import DATA  # noqa: E402
from faq.question_sets import learned_sets  # noqa: E402
from faq.service import FaqService  # noqa: E402
from faq.training import examples, train  # noqa: E402

SHARED_DEV = ROOT.parent / "shared" / "faq" / "dev.jsonl"
SAMPLE = ROOT / "tests" / "data" / "faq" / "matches.jsonl"


def our_sets() -> list[Path]:
    """Every question set but the blind sets held out (`question_sets.HELD_OUT`): running the
    matcher on a set not scored yet would unblind it before the one score that counts."""
    return learned_sets(DATA)


def question_sets() -> list[Path]:
    """Our question sets, any the tests keep (not the answer sample `sample` writes), the shared
    dev set."""
    tests = [p for p in sorted((ROOT / "tests").glob("**/*.jsonl")) if p != SAMPLE]
    sets = our_sets() + tests
    return sets + ([SHARED_DEV] if SHARED_DEV.exists() else [])


def match_row(matcher: Any, q: str) -> dict[str, Any]:
    """What the matcher makes of one question, as the sample records it."""
    got = matcher.match(q)
    return {
        "q": q,
        "action": got.action,
        "best": got.best,
        "choices": got.choices,
        "score": got.score,
        "runner_up": got.runner_up,
        "runner_up_score": got.runner_up_score,
        "probability": got.probability,
        "redirect": got.redirect,
    }


def questions(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [str(r["q"]) for r in rows]


def cli(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "faq", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return done.stdout


def cli_outputs(path: Path) -> dict[str, object]:
    evaluated = [
        line for line in cli("eval", str(path)).splitlines() if "loaded and indexed in" not in line
    ]
    matched = cli("match", stdin="\n".join(questions(path)) + "\n").splitlines()
    return {"eval": evaluated, "match": [json.loads(line) for line in matched]}


def in_process(service: FaqService, all_questions: list[str]) -> list[dict[str, object]]:
    matcher = service.matcher
    out = []
    for q in all_questions:
        result = matcher.match(q)
        ranked = matcher.rank(q, top=5)
        _, features, _ = matcher.features(q)
        out.append(
            {
                "q": q,
                "result": asdict(result),
                "rank": [(c.id, c.score) for c in ranked],
                "features": features,
            }
        )
    return out


def training() -> dict[str, object]:
    rows = []
    for matcher, question, topic in examples(DATA):
        ranked, values, _ = matcher.features(question)
        rows.append(
            {
                "q": question,
                "topic": topic,
                "rank": [(c.id, c.score) for c in ranked],
                "features": values,
            }
        )
    model, note = train(DATA)
    return {
        "examples": rows,
        "model": [model.weights, model.bias, model.answer_at, model.choose_at],
        "note": note,
    }


def snapshot() -> dict[str, object]:
    sets = question_sets()
    every = [q for path in sets for q in questions(path)]
    shipped = {str(path.relative_to(ROOT.parent)): cli_outputs(path) for path in sets}
    folder = synthesize(300)
    try:
        synthetic = in_process(FaqService.load(folder), every)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "cli": shipped,
        "shipped_kb": in_process(FaqService.load(), every),
        "synthetic_kb": synthetic,
        "training": training(),
    }


def _rows_differ(part: str, before: list[dict], after: list[dict]) -> list[str]:
    found = [
        f"{part}: {b['q']!r}: {b} != {a}" for b, a in zip(before, after, strict=False) if a != b
    ]
    if len(before) != len(after):
        found.append(f"{part}: {len(before)} questions != {len(after)}")
    return found


def differences(before: dict, after: dict) -> list[str]:
    found = []
    for part in ("cli", "shipped_kb", "synthetic_kb", "training"):
        if json.dumps(before[part], ensure_ascii=False) == json.dumps(
            after[part], ensure_ascii=False
        ):
            continue
        if part == "cli":
            names = sorted(set(before[part]) | set(after[part]))
            found += [f"cli {n}" for n in names if before[part].get(n) != after[part].get(n)]
        elif part == "training":
            found += _rows_differ(part, before[part]["examples"], after[part]["examples"])
            found += [f"training: model {before[part]['model']} != {after[part]['model']}"]
        else:
            found += _rows_differ(part, before[part], after[part])
    return found


def sample() -> list[dict[str, object]]:
    """Every eighth question of our sets and every one answered with a choice, with what the
    matcher makes of it when it has not learned the question's set (`test_faq` checks these stay
    as they are)."""
    shipped = FaqService.load().matcher
    rows = []
    for path in our_sets():
        matcher = shipped.without(path.name)
        for n, q in enumerate(questions(path)):
            row = match_row(matcher, q)
            if n % 8 == 0 or row["action"] == "choose":
                rows.append({"set": path.name, **row})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("record", "check", "sample"))
    parser.add_argument("file", type=Path)
    args = parser.parse_args()
    if args.command == "sample":
        lines = [json.dumps(row, ensure_ascii=False) for row in sample()]
        args.file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{len(lines)} questions and their answers written to {args.file}")
        return 0
    now = snapshot()
    n = len(now["shipped_kb"])
    if args.command == "record":
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(json.dumps(now, ensure_ascii=False, indent=0), encoding="utf-8")
        print(f"recorded {len(now['cli'])} sets, {n} questions, into {args.file}")
        return 0
    now = json.loads(json.dumps(now))  # tuples as lists, as the recorded file has them
    found = differences(json.loads(args.file.read_text(encoding="utf-8")), now)
    for line in found[:50]:
        print("DIFFERENT", line)
    print(f"{len(now['cli'])} sets, {n} questions ×2 knowledge bases: {len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
