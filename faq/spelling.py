"""The knowledge base's word closest to a misspelled span ("พิกด" → พิกัด), found fast.

`fuzz.ratio` is rapidfuzz's Indel similarity: 100 · (1 − d / (m + n)), d the number of letters
deleted and inserted to turn one string (length m) into the other (length n). Two facts bound
which words can reach the cutoff at all, so only those are handed to rapidfuzz:

- length: d ≥ |m − n|, so a 4-letter span never reaches a 12-letter word;
- letters in common: a word within d edits of the span keeps, untouched, at least one of any
  d + 1 pieces the span is cut into (each edit touches one piece at most), so it contains that
  piece's first two letters. A word containing none of the pieces' first pairs is too far.
  (A span too short to cut into pieces of two letters is compared with every word of a
  reachable length.)

The survivors keep the vocabulary's order, and `extractOne` returns the first best-scoring
word, so the answer is the one comparing every word would give (`test_faq` checks it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rapidfuzz import fuzz, process

# A run of unknown fragments this long or longer is compared with the vocabulary and replaced at
# this similarity (rapidfuzz ratio, 0-100) or above.
MIN_CHARS = 4
CUTOFF = 85
# One point of slack in both bounds, against rounding: a word kept in vain costs a comparison.
_BOUND = CUTOFF - 1


def max_edits(total_length: int) -> int:
    """The most deletions and insertions two strings of `total_length` letters together can
    differ by and still score `_BOUND`: 100 · (1 − d / total) ≥ _BOUND."""
    return total_length * (100 - _BOUND) // 100


def reachable(span: int, word: int) -> bool:
    """Whether lengths alone allow the cutoff: the ratio is at most 200 · min / (span + word)."""
    return 200 * min(span, word) >= _BOUND * (span + word)


def pieces(span: str, count: int) -> list[str]:
    """`span` cut into `count` pieces as even as can be (longer ones first)."""
    size, longer = divmod(len(span), count)
    out, at = [], 0
    for n in range(count):
        step = size + (n < longer)
        out.append(span[at : at + step])
        at += step
    return out


class Speller:
    """Built once, read-only afterwards (safe to share between threads)."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = list(words)  # in this order: the first of equally close words wins
        # Word length → its words, and → two letters → the words with that pair; vocabulary order.
        of_length: dict[int, list[int]] = defaultdict(list)
        with_pair: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, word in enumerate(self.words):
            n = len(word)
            of_length[n].append(i)
            for pair in dict.fromkeys(word[j : j + 2] for j in range(n - 1)):
                with_pair[n][pair].append(i)
        self._of_length = dict(of_length)  # plain dicts: reading never adds a key
        self._with_pair = {n: dict(pairs) for n, pairs in with_pair.items()}
        # Span length → each word length it can reach, with the pieces to cut the span into.
        self._plans = {
            m: [(n, max_edits(m + n) + 1) for n in sorted(self._of_length) if reachable(m, n)]
            for m in range(MIN_CHARS, 2 * max(self._of_length, default=0) + 1)
        }

    def closest(self, span: str) -> tuple[str, float] | None:
        """The first vocabulary word with the best `fuzz.ratio` ≥ CUTOFF, and that ratio."""
        if len(span) < MIN_CHARS:
            return None
        hit = process.extractOne(
            span, self.candidates(span), scorer=fuzz.ratio, score_cutoff=CUTOFF
        )
        return (hit[0], hit[1]) if hit else None

    def candidates(self, span: str) -> list[str]:
        """Every word that can reach the cutoff with `span` (see the module's note), in
        vocabulary order."""
        m = len(span)
        lists: list[list[int]] = []
        pairs_of: dict[int, list[str]] = {}  # pieces → their first pairs (lengths share them)
        for n, count in self._plans.get(m, ()):
            if 2 * count > m:  # pieces of one letter would let nearly every word through
                lists.append(self._of_length[n])
                continue
            if count not in pairs_of:
                pairs_of[count] = [piece[:2] for piece in pieces(span, count)]
            with_pair = self._with_pair.get(n, {})
            lists += [with_pair[pair] for pair in pairs_of[count] if pair in with_pair]
        return list(map(self.words.__getitem__, sorted(set().union(*lists))))
