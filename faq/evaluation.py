"""Scoring a question set: what a volunteer actually gets, per style of message.

A question in scope (`id` set) can be ranked right, answered directly with the right topic, met
with a "which of these did you mean?" that offers it, answered wrongly, or declined. Only the
direct right answer counts as correct: a choice costs the volunteer a tap and is reported on its
own. A question out of scope (`id` null) should be declined.

Rows are `{"q", "id", "style"?}`; without a style a row counts as "all".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from faq.kb import Entry
from faq.normalize import normalize


@dataclass(frozen=True)
class Decision:
    action: str  # answer | choose | none
    top: str | None  # the top-ranked topic, also when choosing or declining
    choices: tuple[str, ...] = ()

    @property
    def answered(self) -> str | None:
        return self.top if self.action == "answer" else None


Decide = Callable[[str], Decision]


@dataclass
class Tally:
    in_scope: int = 0
    ranked_first: int = 0
    direct: int = 0
    chose: int = 0  # a choice that offered the right topic
    wrong: int = 0  # answered directly with another topic
    out_of_scope: int = 0
    declined: int = 0  # out of scope and declined
    misses: list[tuple[str, str | None, Decision]] = field(default_factory=list)

    def add(self, row: dict, got: Decision) -> None:
        expected = row["id"]
        if expected is None:
            self.out_of_scope += 1
            self.declined += got.action == "none"
            if got.action != "none":
                self.misses.append((row["q"], expected, got))
            return
        self.in_scope += 1
        self.ranked_first += got.top == expected
        if got.action == "answer":
            self.direct += got.top == expected
            self.wrong += got.top != expected
        elif got.action == "choose":
            self.chose += expected in got.choices
        if got.answered != expected:
            self.misses.append((row["q"], expected, got))

    @property
    def accuracy(self) -> float:
        """Direct answers with the right topic, over the questions in scope."""
        return self.direct / self.in_scope if self.in_scope else 0.0

    @property
    def abstention(self) -> float:
        return self.declined / self.out_of_scope if self.out_of_scope else 0.0


@dataclass
class Score:
    name: str
    styles: dict[str, Tally]
    total: Tally

    # The older, flat view (one figure for in scope, one for out of scope).
    @property
    def accuracy(self) -> float:
        return self.total.accuracy

    @property
    def abstention(self) -> float:
        return self.total.abstention

    @property
    def misses(self) -> list[tuple[str, str | None, Decision]]:
        return self.total.misses


def evaluate(name: str, decide: Decide, rows: Iterable[dict]) -> Score:
    styles: dict[str, Tally] = {}
    total = Tally()
    for row in rows:
        got = decide(row["q"])
        styles.setdefault(row.get("style") or "all", Tally()).add(row, got)
        total.add(row, got)
    return Score(name, styles, total)


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# -- baselines on the same knowledge base -------------------------------------------------------


def keyword_baseline(entries: list[Entry]) -> Decide:
    """LINE OA's keyword auto-reply: answer when a known phrasing appears in the message."""
    keys = sorted(
        ((normalize(p), e.id) for e in entries for p in e.phrasings),
        key=lambda item: -len(item[0]),
    )

    def decide(question: str) -> Decision:
        text = normalize(question)
        topic = next((topic for key, topic in keys if key and key in text), None)
        return Decision("answer" if topic else "none", topic)

    return decide


WRATIO_CUTOFF = 80  # rapidfuzz's usual "good match" line; no tuning for the baseline


def wratio_baseline(entries: list[Entry], cutoff: float = WRATIO_CUTOFF) -> Decide:
    """Plain rapidfuzz WRatio of the raw question against every raw phrasing."""
    choices = [(p, e.id) for e in entries for p in e.phrasings]
    texts = [c[0] for c in choices]

    def decide(question: str) -> Decision:
        best = process.extractOne(question, texts, scorer=fuzz.WRatio)
        top = choices[best[2]][1] if best else None
        passes = best is not None and best[1] >= cutoff
        return Decision("answer" if passes else "none", top)

    return decide


# -- printing -----------------------------------------------------------------------------------


def pct(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:5.1%}" if whole else "-"


def tally_line(label: str, t: Tally) -> str:
    if t.in_scope:
        return (
            f"{label:10s} ranked first {pct(t.ranked_first, t.in_scope):16s} "
            f"answered directly {pct(t.direct, t.in_scope):16s} chose {t.chose:3d}  "
            f"wrong {t.wrong:3d}  declined {t.in_scope - t.direct - t.wrong - t.chose:3d}"
            + (
                f"   out of scope declined {pct(t.declined, t.out_of_scope)}"
                if t.out_of_scope
                else ""
            )
        )
    return f"{label:10s} declined {pct(t.declined, t.out_of_scope)}"


def print_score(score: Score, show_misses: bool) -> None:
    print(f"{score.name}:")
    for style, tally in score.styles.items():
        print("  " + tally_line(style, tally))
    if len(score.styles) > 1:
        print("  " + tally_line("total", score.total))
    if show_misses:
        for question, expected, got in score.misses:
            shown = got.top if got.action == "answer" else f"{got.action} {got.top}"
            print(f"    miss: {question!r}: expected {expected}, got {shown}")


def summary(score: Score) -> dict:
    t = score.total
    return {
        "accuracy": round(t.accuracy, 4),  # answered directly with the right topic
        "chose": t.chose,
        "ranked_first": round(t.ranked_first / t.in_scope, 4) if t.in_scope else 0.0,
        "abstention": round(t.abstention, 4),
        "in_scope": t.in_scope,
        "out_of_scope": t.out_of_scope,
        "styles": {
            style: {
                "in_scope": s.in_scope,
                "ranked_first": s.ranked_first,
                "direct": s.direct,
                "chose": s.chose,
                "out_of_scope": s.out_of_scope,
                "declined": s.declined,
            }
            for style, s in score.styles.items()
        },
    }
