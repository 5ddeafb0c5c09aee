"""`python -m faq match | export | eval FILE.jsonl` (output shapes are contracts).

match   one question per line on stdin → {"query", "id" | null, "score"} per line, same order
export  the knowledge base as JSON: [{"id", "questions": [...], "answer"}]
eval    top-1 accuracy in scope, abstention out of scope, the misses, and two baselines
calibrate FILE...  the same two figures at a range of thresholds, over all the files together
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from faq.kb import Entry
from faq.normalize import normalize
from faq.service import FaqService

Predict = Callable[[str], str | None]


@dataclass(frozen=True)
class Score:
    name: str
    in_scope: int
    correct: int
    out_of_scope: int
    abstained: int
    misses: list[tuple[str, str | None, str | None]]  # question, expected, got

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 0.0

    @property
    def abstention(self) -> float:
        return self.abstained / self.out_of_scope if self.out_of_scope else 0.0


def evaluate(name: str, predict: Predict, rows: list[dict]) -> Score:
    correct = abstained = in_scope = 0
    misses = []
    for row in rows:
        got = predict(row["q"])
        if row["id"] is None:
            abstained += got is None
        else:
            in_scope += 1
            correct += got == row["id"]
        if got != row["id"]:
            misses.append((row["q"], row["id"], got))
    return Score(name, in_scope, correct, len(rows) - in_scope, abstained, misses)


def keyword_baseline(entries: list[Entry]) -> Predict:
    """LINE OA's keyword auto-reply: answer when a known phrasing appears in the message."""
    keys = sorted(
        ((normalize(p), e.id) for e in entries for p in e.phrasings),
        key=lambda item: -len(item[0]),
    )

    def predict(question: str) -> str | None:
        text = normalize(question)
        return next((topic for key, topic in keys if key and key in text), None)

    return predict


WRATIO_CUTOFF = 80  # rapidfuzz's usual "good match" line; no tuning for the baseline


def wratio_baseline(entries: list[Entry], cutoff: float = WRATIO_CUTOFF) -> Predict:
    """Plain rapidfuzz WRatio of the raw question against every raw phrasing."""
    choices = [(p, e.id) for e in entries for p in e.phrasings]
    texts = [c[0] for c in choices]

    def predict(question: str) -> str | None:
        hit = process.extractOne(question, texts, scorer=fuzz.WRatio, score_cutoff=cutoff)
        return choices[hit[2]][1] if hit else None

    return predict


def print_score(score: Score, show_misses: bool) -> None:
    print(
        f"{score.name:28s} top-1 accuracy {score.correct}/{score.in_scope} = "
        f"{score.accuracy:6.1%}   abstention {score.abstained}/{score.out_of_scope} = "
        f"{score.abstention:6.1%}"
    )
    if show_misses:
        for question, expected, got in score.misses:
            print(f"    miss: {question!r}: expected {expected}, got {got}")


def cmd_eval(service: FaqService, path: Path) -> int:
    rows = read_rows(path)
    entries = list(service.entries.values())
    ours = evaluate("smartbmn matcher", lambda q: service.matcher.match(q).id, rows)
    print(f"{path}: {ours.in_scope} in scope, {ours.out_of_scope} out of scope")
    print_score(ours, show_misses=True)
    print("baselines on the same knowledge base and questions:")
    print_score(evaluate("keyword auto-reply (LINE OA)", keyword_baseline(entries), rows), False)
    print_score(
        evaluate(f"rapidfuzz WRatio >= {WRATIO_CUTOFF}", wratio_baseline(entries), rows), False
    )
    print_score(evaluate("rapidfuzz WRatio, no cutoff", wratio_baseline(entries, 0), rows), False)
    print(
        json.dumps(
            {
                "accuracy": round(ours.accuracy, 4),
                "abstention": round(ours.abstention, 4),
                "in_scope": ours.in_scope,
                "out_of_scope": ours.out_of_scope,
            }
        )
    )
    return 0


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def cmd_calibrate(service: FaqService, paths: list[Path]) -> int:
    rows = [row for path in paths for row in read_rows(path)]
    matcher = service.matcher
    chosen = matcher.threshold
    print(f"{len(rows)} questions from {len(paths)} files; threshold in use {chosen}")
    try:
        for step in range(13):
            matcher.threshold = round(0.24 + 0.02 * step, 2)  # single-threaded CLI: safe
            score = evaluate("", lambda q: matcher.match(q).id, rows)
            mark = " <" if matcher.threshold == chosen else ""
            print(
                f"threshold {matcher.threshold:.2f}  top-1 in scope {score.accuracy:6.1%}  "
                f"abstention {score.abstention:6.1%}{mark}"
            )
    finally:
        matcher.threshold = chosen
    return 0


def cmd_match(service: FaqService) -> int:
    for line in sys.stdin:
        query = line.rstrip("\n")
        result = service.matcher.match(query)
        print(
            json.dumps({"query": query, "id": result.id, "score": result.score}, ensure_ascii=False)
        )
        sys.stdout.flush()
    return 0


def cmd_export(service: FaqService) -> int:
    data = [
        {"id": e.id, "questions": list(e.phrasings), "answer": service.answer(e.id).text}
        for e in service.entries.values()
    ]
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faq", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("match", help="match questions from stdin")
    sub.add_parser("export", help="print the knowledge base as JSON")
    evaluate_parser = sub.add_parser("eval", help="score a JSONL file of {q, id}")
    evaluate_parser.add_argument("file", type=Path)
    calibrate_parser = sub.add_parser("calibrate", help="accuracy and abstention by threshold")
    calibrate_parser.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    service = FaqService.load()
    if args.command == "eval":
        print(
            f"knowledge base: {len(service.entries)} entries, loaded and indexed in "
            f"{time.perf_counter() - started:.2f} s"
        )
        return cmd_eval(service, args.file)
    if args.command == "calibrate":
        return cmd_calibrate(service, args.files)
    if args.command == "match":
        return cmd_match(service)
    return cmd_export(service)


if __name__ == "__main__":
    sys.exit(main())
