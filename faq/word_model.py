"""Which topic's words explain a question best: multinomial naive Bayes over its words and word
pairs, trained on the knowledge base's phrasings.

The matcher finds the phrasings nearest to a question; this model asks instead which topic's
vocabulary, all its phrasings together, makes the question's words likeliest. The two err on
different questions, so the ranking adds a little of this one's share to its scores
(`matcher.W_WORDS`). Each phrasing counts a word once; words no topic uses are left out, since
with add-alpha smoothing they would favour the topics with the fewest words.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise

# Add-alpha smoothing. On our question sets any alpha from 0.03 to 0.3 ranked within a question or
# two of each other; 1.0 was worse (a rare word then says too little).
ALPHA = 0.1


def features(tokens: Sequence[str]) -> set[str]:
    """A question's words and each pair of neighbouring words ("ส่ง_ไม่ได้")."""
    return {*tokens, *(f"{a}_{b}" for a, b in pairwise(tokens))}


class WordModel:
    def __init__(self, documents: Iterable[tuple[str, Sequence[str]]], alpha: float = ALPHA):
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for topic, tokens in documents:
            counts[topic].update(features(tokens))
        size = len(set().union(*counts.values())) if counts else 0
        # feature → topic → log P(feature | topic); a topic not listed has never used it.
        self._log: dict[str, dict[str, float]] = defaultdict(dict)
        self._unseen: dict[str, float] = {}
        for topic, used in counts.items():
            total = sum(used.values()) + alpha * size
            self._unseen[topic] = math.log(alpha / total)
            for feature, n in used.items():
                self._log[feature][topic] = math.log((n + alpha) / total)
        self._log = dict(self._log)

    def shares(self, tokens: Sequence[str], topics: Sequence[str]) -> dict[str, float]:
        """Each of `topics`' share of the probability that one of them wrote these words (they sum
        to 1 over `topics`; a topic the model does not know gets 0)."""
        known = [t for t in topics if t in self._unseen]
        if not known:
            return dict.fromkeys(topics, 0.0)
        present = [self._log[f] for f in features(tokens) if f in self._log]
        # fsum is exact: the sum does not hang on the order a set of words happens to iterate in.
        logs = {t: math.fsum(row.get(t, self._unseen[t]) for row in present) for t in known}
        top = max(logs.values())
        weights = {t: math.exp(v - top) for t, v in logs.items()}
        total = math.fsum(weights.values())
        return {t: weights.get(t, 0.0) / total for t in topics}
