"""Our question sets: the matcher learns from them as phrasings.

`faq/data/*.jsonl` holds questions written the way volunteers type (chat slips, long stories,
English, near-misses), each with its right topic or none (`{"q", "id", "style"}`), most of them by
helpers who never saw the knowledge base (`faq/data/blind.md`). The knowledge base's own phrasings
are short and tidy; these are not, so the matcher indexes them too: an in-scope question as a
phrasing of its topic, an out-of-scope one as a phrasing of `OUT_OF_SCOPE`, which a question that
resembles it most is declined as.

Left out on purpose, as long as they are named in `HELD_OUT`: blind sets not scored yet (they
measure the matcher, once; learned from, they could not), and the sets that measured the matcher
shipped (learned, they would no longer describe it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from faq.evaluation import read_rows
from faq.normalize import DATA

# Blind sets not learned from (faq/data/blind.md): a set not scored yet is named here before it
# arrives and never run here before its one score. blindT and blindU were scored on 2026-11-26
# and stay here, so that the matcher shipped is the one they measured.
HELD_OUT: frozenset[str] = frozenset({"blindT.jsonl", "blindU.jsonl"})

# The owner of the out-of-scope phrasings in the ranking; never a topic of the knowledge base.
OUT_OF_SCOPE = "(out-of-scope)"


@dataclass(frozen=True)
class Asked:
    question: str
    topic: str | None  # None: out of scope
    source: str  # the set's file name


def learned_sets(data_dir: Path = DATA) -> list[Path]:
    return [p for p in sorted(data_dir.glob("*.jsonl")) if p.name not in HELD_OUT]


def load_asked(paths: Iterable[Path]) -> list[Asked]:
    return [Asked(row["q"], row["id"], path.name) for path in paths for row in read_rows(path)]


def learned(data_dir: Path = DATA) -> list[Asked]:
    """Every question the matcher learns from (`Matcher.without` leaves a set out)."""
    return load_asked(learned_sets(data_dir))
