"""`python -m faq match | export | eval FILE.jsonl` (output shapes are contracts).

match   one question per line on stdin → {"query", "id", "score", "action", "choices"?} per line,
        same order; id is the top topic (null when declining, as before), action is "answer",
        "choose" (with the offered "choices", id the first of them) or "none"
export  the knowledge base as JSON: [{"id", "questions": [...], "answer"}]
eval    per style: ranked first, answered directly, chose, declined; the misses; two baselines
        (a set the matcher learns from is scored by a matcher that has not learned it)
calibrate FILE...  direct answers and declines at a range of answer lines, over all the files together
train   prepare every phrasing (faq/data/prepared.json.gz) and fit the answer/choose/decline
        model on our own sets → faq/data/decider.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from faq.evaluation import (
    WRATIO_CUTOFF,
    Decision,
    evaluate,
    keyword_baseline,
    print_score,
    read_rows,
    summary,
    wratio_baseline,
)
from faq.matcher import Matcher
from faq.question_sets import learned_sets
from faq.service import FaqService


def matcher_decision(matcher: Matcher) -> Callable[[str], Decision]:
    def decide(question: str) -> Decision:
        result = matcher.match(question)
        return Decision(result.action, result.best, tuple(result.choices))

    return decide


def cmd_eval(service: FaqService, path: Path) -> int:
    rows = read_rows(path)
    entries = list(service.entries.values())
    ours = evaluate("smartbmn matcher", matcher_decision(service.matcher), rows)
    print(f"{path}: {ours.total.in_scope} in scope, {ours.total.out_of_scope} out of scope")
    print("only a direct answer with the right topic counts as correct; choices are counted apart")
    print_score(ours, show_misses=True)
    print("baselines on the same knowledge base and questions:")
    print_score(evaluate("keyword auto-reply (LINE OA)", keyword_baseline(entries), rows), False)
    print_score(
        evaluate(f"rapidfuzz WRatio >= {WRATIO_CUTOFF}", wratio_baseline(entries), rows), False
    )
    print_score(evaluate("rapidfuzz WRatio, no cutoff", wratio_baseline(entries, 0), rows), False)
    print(json.dumps(summary(ours), ensure_ascii=False))
    return 0


def cmd_calibrate(service: FaqService, paths: list[Path]) -> int:
    """Direct answers and declines at a range of answer lines: the decision model's probability
    (or, without a model, the old score threshold)."""
    rows = [row for path in paths for row in read_rows(path)]
    matcher = service.matcher
    model = matcher.decider
    chosen = model.answer_at if model else matcher.threshold
    name = "answer at p >=" if model else "threshold"
    print(f"{len(rows)} questions from {len(paths)} files; {name} {chosen} in use")
    try:
        for step in range(13):
            # Around the line in use (the middle of 13): training may put it anywhere.
            line = round(chosen + (0.05 if model else 0.02) * (step - 6), 2)
            if model:  # single-threaded CLI: swapping the model in place is safe
                matcher.decider = replace(model, answer_at=line, choose_at=line)
            else:
                matcher.threshold = line
            score = evaluate("", matcher_decision(matcher), rows)
            mark = " <" if line == chosen else ""
            print(
                f"{name} {line:.2f}  answered directly {score.accuracy:6.1%}  "
                f"abstention {score.abstention:6.1%}{mark}"
            )
    finally:
        matcher.decider, matcher.threshold = model, (chosen if not model else matcher.threshold)
    return 0


def cmd_match(service: FaqService) -> int:
    for line in sys.stdin:
        query = line.rstrip("\n")
        result = service.matcher.match(query)
        top = result.best if result.action != "none" else None  # null still means "declined"
        row = {"query": query, "id": top, "score": result.score, "action": result.action}
        if result.action == "choose":
            row["choices"] = result.choices
        print(json.dumps(row, ensure_ascii=False))
        sys.stdout.flush()
    return 0


def cmd_train() -> int:
    from faq.decision import FEATURES
    from faq.normalize import DATA
    from faq.training import prepare, train

    print(f"{prepare(DATA)} phrasings prepared ({DATA / 'prepared.json.gz'})")
    model, note = train(DATA)
    model.save(DATA / "decider.json", note)
    for name, weight in zip(FEATURES, model.weights, strict=True):
        print(f"{name:14s} {weight:+.3f}")
    print(
        f"bias {model.bias:+.3f}; answer at p >= {model.answer_at}, choose at >= {model.choose_at}"
    )
    print(json.dumps(note))
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
    sub.add_parser("train", help="train the answer/choose/decline model (faq/data/decider.json)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.command == "train":
        return cmd_train()
    if args.command == "eval":
        # A set the matcher learns from is scored by a matcher that has not learned it.
        learned_from = args.file.resolve() in {p.resolve() for p in learned_sets()}
        service = FaqService.load()
        if learned_from:
            entries = list(service.entries.values())
            service = FaqService(
                entries, service.matcher.without(args.file.name), service.directory
            )
        print(
            f"knowledge base: {len(service.entries)} entries, loaded and indexed in "
            f"{time.perf_counter() - started:.2f} s"
        )
        if learned_from:
            print(
                f"{args.file.name} is one of the sets the matcher learns from: left out for this score"
            )
        return cmd_eval(service, args.file)
    service = FaqService.load()
    if args.command == "calibrate":
        return cmd_calibrate(service, args.files)
    if args.command == "match":
        return cmd_match(service)
    return cmd_export(service)


if __name__ == "__main__":
    sys.exit(main())
