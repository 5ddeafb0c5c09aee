"""Ranks FAQ entries for a question, and abstains when none fits.

Every phrasing of every entry (canonical question + examples) is a document, and so is every
question of our question sets (`question_sets`): an out-of-scope one under `OUT_OF_SCOPE`, which
a question is declined as when it comes first. A question is scored against each document by
three signals, each in [0, 1]:

- word overlap: cosine of IDF-weighted token sets (tokens from `Tokenizer`: particles dropped,
  synonyms merged). Words the knowledge base has never seen count against the match, which is
  what makes "ขอเบอร์ร้านอาหาร" fall short of "ขอเบอร์ผู้ประสานงาน".
- character trigrams: cosine of IDF-weighted trigram sets of the normalized text, which forgives
  typos and odd word cuts;
- rapidfuzz `token_set_ratio` on the token strings of the best candidates.

The two cosines are summed for every document at once (numpy); rapidfuzz then scores the
twelve best, no more than three of a topic.

An entry's score is its best document's. Below `threshold` the answer is "no match"; when the
runner-up is within `margin` of the best, the result is ambiguous (the bot asks which).
Province and region names are replaced by placeholders first, so "ผู้ประสานงานจังหวัดสตูล"
and "ผู้ประสานงานจังหวัดน่าน" look alike to the matcher.

Built once; read-only afterwards, so one instance serves all threads.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pythainlp.util import eng_to_thai
from rapidfuzz import fuzz

from faq.cues import lift_near_topics
from faq.decision import FEATURES, Decider, Redirect, find_redirect
from faq.directory import Directory
from faq.kb import Entry
from faq.normalize import FILLERS, PARTICLES, Tokenizer, normalize
from faq.prepared import Prepared
from faq.question_sets import OUT_OF_SCOPE, Asked
from faq.spelling import MIN_CHARS as SPELLING_MIN_CHARS
from faq.spelling import Speller
from faq.word_model import WordModel

PROVINCE, REGION, NUMBER = "@จังหวัด", "@ภาค", "@เลข"
_PLACEHOLDERS = {"xprovincex": PROVINCE, "xregionx": REGION}
_MARKERS = frozenset({PROVINCE, REGION, NUMBER})
# Who a story's teller is ("ผมเป็นอาสา…", "ป้าเป็น อสม. ที่…", "ดิฉันเป็นพัฒนากรค่ะ"): after เป็น,
# one of these says who asks, not what about (the pronoun is dropped already; ครู always is, as a
# filler). Left in, อาสา pulled stories towards the volunteer quota; dropped, 4 more of our 624
# stories ranked right.
_ASKERS_ROLES = frozenset({"อาสาสมัคร", "อสม", "ผู้ใหญ่บ้าน", "กำนัน", "พัฒนากร", "เจ้าหน้าที่", "คณะทำงาน"})
# Ways of asking with no subject: "ทำยังไงดีครับ", "ได้ไหมครับ", "ใครทำ" alone name no topic (they
# were offered two random ones). In a longer question they stay: "ต้อง ... ไหม" tells a topic apart.
_ASKING = frozenset(
    {"อย่างไร", "ต้อง", "ได้", "ไหม", "อะไร", "ไหน", "ที่ไหน", "เมื่อไร", "ใคร", "ทำ", "ทำไม"}
    | {"ช่วย", "แล้ว", "หรือ", "ไม่", "เป็น", "มี", "ยัง", "เท่าไร", "ต้องการ", "ควร", "จะ", "ให้"}
)
# Numbers written as words ("สามเดือน", "แปดสิบปี") are numbers too.
THAI_NUMBER_WORD = re.compile(r"(?:หนึ่ง|เอ็ด|สอง|ยี่|สาม|สี่|ห้า|หก|เจ็ด|แปด|เก้า|สิบ|ร้อย|พัน|หมื่น|แสน|ล้าน)+")

W_TOKENS, W_CHARS, W_FUZZ = 0.5, 0.3, 0.2
# A candidate's score: (1 − W_TOPIC) · its best phrasing's + W_TOPIC · its topic's word cosine.
W_TOPIC = 0.3

_THAI = re.compile(r"[\u0e00-\u0e7f]")
_THAI_LETTERS = re.compile(r"[\u0e01-\u0e2e]")
_LONE_THAI = re.compile(r"^[\u0e01-\u0e4f]$")
# Tone marks and the short-vowel mark (mai taikhu): what chat typing most often leaves out.
_TONE_MARKS = re.compile(r"[\u0e48-\u0e4b]")
_NO_TONES = str.maketrans("", "", "\u0e47\u0e48\u0e49\u0e4a\u0e4b")
# Everyday words with tone marks that a question untoned may hold beside the knowledge base's.
_COMMON_TONED = ("ไม่", "ได้", "ต้อง", "ที่", "แล้ว", "ให้", "ข้อมูล", "บ้าน", "ผ่าน", "ส่ง")
# Symbols a Thai keyboard layout puts on letter keys, and a run of Latin text (words and the
# spaces between them) that may be Thai typed with the keyboard left on English.
_LAYOUT_KEYS = re.compile(r"[a-zA-Z;',./\[\]]")
_LATIN_RUN = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*")

FUZZ_TOP_DOCS = 12
# Of one topic, at most this many of them: with our question sets learned a topic has hundreds of
# phrasings, and its twelve nearest hid every other topic (no runner-up, no choice to offer).
DOCS_PER_TOPIC = 3
# How many of the best-scoring documents are sorted first, in the hope they hold those twelve.
SORTED_FIRST = 200
# The ranking's candidates get this much of their share under the word model (`word_model`).
# Ranked first on our seven question sets: 1,668 → 1,684 of 1,730 (stories 411 → 418) at 0.05,
# 13-19 more from 0.03 to 0.15, 4 at 0.4. After the third pass's words, cues and phrasings had
# mended many of the same questions, on all our sets: 2,092 → 2,099 of 2,122 (13 mended, 6 lost).
W_WORDS = 0.05
CANDIDATES = 5

# Calibrated on faq/data/tuning.jsonl (our own phrasings, not the evaluation set).
DEFAULT_THRESHOLD = 0.36
DEFAULT_MARGIN = 0.05


@dataclass(frozen=True)
class Candidate:
    id: str
    score: float


@dataclass(frozen=True)
class MatchResult:
    id: str | None  # None: no entry is close enough
    score: float  # the best entry's score, even when it fell short
    best: str | None  # the best entry, even when it fell short
    runner_up: str | None
    runner_up_score: float
    ambiguous: bool  # best and runner-up both pass and are too close to call
    probability: float = 0.0  # the decision model's P(best is right); 0 without a model
    redirect: str | None = None  # the question names another service (`redirects.yaml`)
    out_of_scope: bool = False  # declined: most like our out-of-scope questions (`question_sets`)

    @property
    def choices(self) -> list[str]:
        return [i for i in (self.best, self.runner_up) if i] if self.ambiguous else []

    @property
    def action(self) -> str:
        """What the bot does: "answer" the top topic, "choose" between two, or "none"."""
        if self.ambiguous:
            return "choose"
        return "answer" if self.id is not None else "none"


def trigrams(text: str) -> set[str]:
    compact = text.replace(" ", "")
    if len(compact) < 3:
        return {compact} if compact else set()
    return {compact[i : i + 3] for i in range(len(compact) - 2)}


class _Index:
    """IDF-weighted sets with an inverted index: cosine against every document at once.

    With our question sets learned there are ~8,000 documents, and a question's trigrams alone
    meet thousands of them: the sums run in numpy (`bincount` over the query's postings), where
    a Python loop over them took most of a question's time."""

    def __init__(self, docs: list[set[str]], owners: list[str], damped: Iterable[str] = ()) -> None:
        # How many entries have each feature: each entry's features gathered, then counted (set
        # and Counter updates run in C, not a Python step per feature of every document).
        per_entry: dict[str, set[str]] = defaultdict(set)
        for features, owner in zip(docs, owners, strict=True):
            per_entry[owner].update(features)
        having: Counter[str] = Counter()
        for features in per_entry.values():
            having.update(features)
        n_entries = len(per_entry)
        # IDF over entries, not documents: ten phrasings of one topic are one piece of evidence.
        self.idf = {f: math.log(1 + n_entries / n) for f, n in having.items()}
        # `damped` get the lowest weight: evidence of nothing on their own.
        floor = min(self.idf.values(), default=1.0)
        self.idf.update((f, floor) for f in damped if f in self.idf)
        self.unknown_idf = math.log(1 + n_entries / 0.5)
        # The postings: every (feature, document) pair as numbers, sorted by feature (stably, so
        # each feature's documents stay in order), cut into one array per feature.
        names = list(self.idf)
        number = {f: i for i, f in enumerate(names)}
        lengths = [len(features) for features in docs]
        pairs = (number[f] for features in docs for f in features)
        flat = np.fromiter(pairs, dtype=np.int64, count=sum(lengths))
        doc_of = np.repeat(np.arange(len(docs), dtype=np.int32), lengths)
        cuts = np.cumsum(np.bincount(flat, minlength=len(names)))[:-1]
        pieces = np.split(doc_of[np.argsort(flat, kind="stable")], cuts) if names else []
        self.postings = dict(zip(names, pieces, strict=True))
        self.size = len(docs)
        squares = {f: w**2 for f, w in self.idf.items()}
        # fsum is exact: a norm does not hang on the order a set of features iterates in.
        self.norms = np.array(
            [math.sqrt(math.fsum(map(squares.__getitem__, doc))) or 1.0 for doc in docs]
        )

    def weight(self, feature: str) -> float:
        return self.idf.get(feature, self.unknown_idf)

    def cosines(self, features: Iterable[str]) -> np.ndarray:
        """Every document's cosine with a query of `features` (0.0 for one sharing none)."""
        features = sorted(set(features))  # sorted: the same sums in every process
        idf, unknown = self.idf, self.unknown_idf
        norm = math.sqrt(math.fsum(idf.get(f, unknown) ** 2 for f in features)) or 1.0
        known = [f for f in features if f in idf]
        if not known:
            return np.zeros(self.size)
        lists = [self.postings[f] for f in known]
        weights = np.repeat([idf[f] * idf[f] for f in known], [len(p) for p in lists])
        dots = np.bincount(np.concatenate(lists), weights=weights, minlength=self.size)
        return dots / (norm * self.norms)


class Matcher:
    def __init__(
        self,
        entries: list[Entry],
        tokenizer: Tokenizer,
        directory: Directory,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        match_ids: Iterable[str] | None = None,
        decider: Decider | None = None,
        redirects: Sequence[Redirect] = (),
        asked: Sequence[Asked] = (),
        prepared: Prepared | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.decider = decider
        self.redirects = tuple(redirects)
        self._vocabulary: dict[str, str] = {}
        self._speller = Speller(())
        self._untoned: dict[str, str] = {}  # filled once the phrasings are indexed
        self._untoned_lengths: list[int] = []
        self.directory = directory
        self.threshold = threshold
        self.margin = margin
        allowed = set(match_ids) if match_ids is not None else None
        # Entry → the tokens a question must contain (one of) for that entry to be eligible.
        self.requires: dict[str, frozenset[str]] = {}
        self.owners: list[str] = []
        self.doc_tokens: list[str] = []
        token_sets: list[set[str]] = []
        gram_sets: list[set[str]] = []
        documents: list[tuple[str, list[str]]] = []
        kept = [e for e in entries if allowed is None or e.id in allowed]
        self._entries, self._asked = kept, tuple(asked)
        for entry in kept:
            if entry.requires_any:
                self.requires[entry.id] = frozenset(
                    t for word in entry.requires_any for t in self.tokenizer.tokens(word)
                )
        # Answers are not indexed: measured, their lines (app steps, dates) pulled questions
        # towards the wrong topics more often than they helped.
        phrasings = [(entry.id, phrasing) for entry in kept for phrasing in entry.phrasings]
        # Our question sets' questions too, the out-of-scope ones under their own owner
        # (`question_sets`); a topic this matcher does not serve is skipped.
        ids = {entry.id for entry in kept}
        phrasings += [
            (a.topic or OUT_OF_SCOPE, a.question)
            for a in asked
            if a.topic is None or a.topic in ids
        ]
        # Each phrasing as prepared before (`prepared`), or now; kept, for the next matcher.
        known = prepared or {}
        self.prepared: dict[str, tuple[tuple[str, ...], str]] = {}
        # The knowledge base's own words: what a misspelling may be mended to. Not our sets'
        # words: their chat lines hold misspellings ("ศึกสา"), which must not become words.
        n_kb = sum(len(entry.phrasings) for entry in kept)
        kb_words: set[str] = set()
        for n, (owner, phrasing) in enumerate(phrasings):
            tokens, text = self._prepare_once(phrasing, known)
            if not tokens:
                continue
            if n < n_kb:
                kb_words.update(tokens)
            self.owners.append(owner)
            self.doc_tokens.append(" ".join(tokens))
            token_sets.append(set(tokens))
            gram_sets.append(trigrams(text))
            documents.append((owner, tokens))
        self.words = WordModel(documents)
        # A place name alone says nothing ("เที่ยวเชียงใหม่" is no coordinator question).
        self.tokens = _Index(token_sets, self.owners, damped=[PROVINCE, REGION])
        self.grams = _Index(gram_sets, self.owners)
        # Each topic's words over all its phrasings: phrasings having the word · its IDF, unit length.
        having: dict[str, Counter[str]] = defaultdict(Counter)
        for owner, features in zip(self.owners, token_sets, strict=True):
            having[owner].update(features)
        self._topics: dict[str, dict[str, float]] = {}
        for owner, counts in having.items():
            vector = {t: n * self.tokens.idf[t] for t, n in counts.items()}
            length = math.sqrt(math.fsum(v * v for v in vector.values())) or 1.0
            self._topics[owner] = {t: v / length for t, v in vector.items()}
        # The documents of each entry with `requires_any`, ruled out together when a question
        # has none of its words.
        self._requires_docs = [
            (needs, np.array([d for d, o in enumerate(self.owners) if o == owner], dtype=np.int64))
            for owner, needs in self.requires.items()
        ]
        # In a fixed order (an index's words come in the order a set gave them): the knowledge
        # base's words, the most widely used first; then synonyms' forms and everyday words.
        self._known = kb_words
        words = sorted(kb_words, key=lambda w: (-len(self.tokens.postings[w]), w))
        # The words a misspelling is corrected to: the knowledge base's words and every synonym's
        # forms (of equally close words, the first of these wins).
        self._vocabulary = {w: w for w in words if len(w) >= SPELLING_MIN_CHARS}
        self._vocabulary.update(
            (form, canonical)
            for form, canonical in tokenizer.synonyms.items()
            if canonical in kb_words and len(form) >= SPELLING_MIN_CHARS and " " not in form
        )
        self._vocabulary = {w: c for w, c in self._vocabulary.items() if _THAI.match(w)}
        self._speller = Speller(self._vocabulary)
        others = sorted({*tokenizer.synonyms, *PARTICLES, *FILLERS, *_COMMON_TONED})
        self._untoned = _untoned_words([*words, *others])
        self._untoned_lengths = sorted({len(k) for k in self._untoned}, reverse=True)
        # The vocabulary by skeleton: what a word keeps when its tone marks and its easily
        # confused letters (ศ ษ ซ → ส, ณ → น, ธ → ท, ภ → พ, ใ → ไ …) are set aside.
        self._skeletons: dict[str, str] = {}
        for word in [*words, *sorted(tokenizer.synonyms)]:
            canonical = tokenizer.synonyms.get(word, word)
            if canonical in kb_words and len(word) >= 2 and _THAI.match(word):
                self._skeletons.setdefault(skeleton(word), canonical)

    def without(self, source: str) -> Matcher:
        """This matcher as it would be had it never learned the question set `source` (a file
        name): how a set it learned is scored, as one written later would meet it."""
        return Matcher(
            self._entries,
            self.tokenizer,
            self.directory,
            self.threshold,
            self.margin,
            decider=self.decider,
            redirects=self.redirects,
            asked=[a for a in self._asked if a.source != source],
            prepared=self.prepared,
        )

    def _prepare_once(self, phrasing: str, known: Prepared) -> tuple[tuple[str, ...], str]:
        done = self.prepared.get(phrasing) or known.get(phrasing)
        if done is None:
            tokens, text = self.prepare(phrasing)
            done = (tuple(tokens), text)
        self.prepared[phrasing] = done
        return done

    def prepare(self, question: str) -> tuple[list[str], str]:
        """Tokens and normalized text, with place names replaced by placeholders."""
        return self._prepare(normalize(question))

    def _prepare(self, normalized: str) -> tuple[list[str], str]:
        # English first, so "south region" is found as ภาคใต้ like the Thai.
        text = self.tokenizer.translate(normalized)
        if self._untoned and not _TONE_MARKS.search(text) and len(_THAI_LETTERS.findall(text)) >= 6:
            text = self.retone(text)
        for finder, marker in (
            (self.directory.find_province, "xprovincex"),
            (self.directory.find_region, "xregionx"),
        ):
            found = finder(text)
            if found is not None:
                # Spaces evened out at once: the finders count positions in normalized text, so
                # the doubled space left here made a region after a province land off its word.
                text = " ".join(f"{text[: found.start]} {marker} {text[found.end :]}".split())
        tokens = [
            NUMBER if t[:1].isdigit() or THAI_NUMBER_WORD.fullmatch(t) else _PLACEHOLDERS.get(t, t)
            for t in self.tokenizer.tokens(text, normalized=True, translated=True)
        ]
        # A Thai letter left on its own ("อ.เมือง", "ค้าบบ") once misspellings are mended is no word.
        tokens = [t for t in self.correct(tokens) if not _LONE_THAI.match(t)]
        return _without_askers_roles(tokens), text

    def retone(self, text: str) -> str:
        """Thai typed without tone marks ("สงขอมูลไมได"), the knowledge base's words given theirs
        back: the longest word whose untoned form starts at each position."""
        text = text.translate(_NO_TONES)
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            for length in self._untoned_lengths:
                word = self._untoned.get(text[i : i + length]) if i + length <= n else None
                if word is not None:
                    out.append(word)
                    i += length
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def correct(self, tokens: list[str]) -> list[str]:
        """Chat misspellings of the knowledge base's words, mended: newmm cuts a misspelled word
        into fragments it does not know ("พิกด", "ร หัด ผ่าน"), so each run of unknown Thai
        fragments (alone, or with the word after it) is compared with the vocabulary by edit
        distance and replaced when close enough."""
        if not self._vocabulary:
            return tokens
        tokens = self._by_skeleton(tokens)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            if tokens[i] in self._known or not _THAI.match(tokens[i]):
                out.append(tokens[i])
                i += 1
                continue
            end = i
            while end < len(tokens) and tokens[end] not in self._known and _THAI.match(tokens[end]):
                end += 1
            best: tuple[float, int, str] | None = None
            # The word after the run, when it is a Thai word: never a placeholder ("จ.สตูล" is
            # "จ" and a province, and the province must not be spelled away into "จังหวัด").
            after = end < len(tokens) and _THAI.match(tokens[end]) is not None
            for stop in (end, end + 1) if after else (end,):
                hit = self._speller.closest("".join(tokens[i:stop]))
                if hit and (best is None or hit[1] > best[0]):
                    best = (hit[1], stop, self._vocabulary[hit[0]])
            if best is None:
                out.extend(tokens[i:end])
                i = end
            else:
                out.append(best[2])
                i = best[1]
        return out

    def _by_skeleton(self, tokens: list[str]) -> list[str]:
        """Runs of unknown Thai fragments that spell a known word but for tone marks or a
        confused letter ("ผาน", "ประสานงาร" no; "โควิท" → โควิด no; "ศึกสา" → ศึกษา), joined
        back into it: the longest run from each fragment whose skeleton is a known word's."""
        known = self._known
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            if tokens[i] in known or not _THAI.match(tokens[i]):
                out.append(tokens[i])
                i += 1
                continue
            end = i
            while end < n and tokens[end] not in known and _THAI.match(tokens[end]):
                end += 1
            for stop in range(end, i, -1):
                word = self._skeletons.get(skeleton("".join(tokens[i:stop])))
                if word is not None:
                    out.append(word)
                    i = stop
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def rank(self, question: str, top: int = 5) -> list[Candidate]:
        return self._rank(*self.prepare(question), top=top)

    def _rank(self, tokens: list[str], text: str, top: int) -> list[Candidate]:
        if all(t in _MARKERS or t in _ASKING for t in tokens):
            return []  # only numbers, place names or ways of asking: nothing to go on
        query = " ".join(tokens)
        best: dict[str, float] = {}
        for d, base in self._best_documents(tokens, text):
            fuzzy = fuzz.token_set_ratio(query, self.doc_tokens[d]) / 100
            score = base + W_FUZZ * fuzzy
            owner = self.owners[d]
            if score > best.get(owner, 0.0):
                best[owner] = score
        if best:
            topical = self._topic_cosines(tokens, best)
            best = {o: (1 - W_TOPIC) * s + W_TOPIC * topical[o] for o, s in best.items()}
        lift_near_topics(best, text)
        ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)[:CANDIDATES]
        shares = self.words.shares(tokens, [owner for owner, _ in ranked])
        ranked = [(owner, s + W_WORDS * shares[owner]) for owner, s in ranked]
        ranked = sorted(ranked, key=lambda item: item[1], reverse=True)[:top]
        return [Candidate(i, round(s, 4)) for i, s in ranked]

    def _topic_cosines(self, tokens: list[str], owners: Iterable[str]) -> dict[str, float]:
        """Cosine of the question's words with each topic's words (all its phrasings together,
        each word weighted by how many phrasings have it and by its IDF): a question that
        takes one word from one phrasing and another from a second still meets its topic."""
        idf, unknown = self.tokens.idf, self.tokens.unknown_idf
        present = set(tokens)
        # fsum: exact, so the result does not hang on the order a set happens to iterate in.
        norm = math.sqrt(math.fsum(idf.get(t, unknown) ** 2 for t in present)) or 1.0
        out = {}
        for owner in owners:
            vector = self._topics[owner]
            out[owner] = math.fsum(vector[t] * idf[t] for t in present if t in vector) / norm
        return out

    def _best_documents(self, tokens: list[str], text: str) -> list[tuple[int, float]]:
        """The `FUZZ_TOP_DOCS` documents with the best W_TOKENS · token cosine + W_CHARS · trigram
        cosine, and that score; best first, of equal scores the first indexed first."""
        scores = W_TOKENS * self.tokens.cosines(tokens) + W_CHARS * self.grams.cosines(
            trigrams(text)
        )
        # Only the few documents of entries with `requires_any` can be ruled out; the rest pass.
        present = set(tokens)
        for needs, docs in self._requires_docs:
            if not needs & present:
                scores[docs] = 0.0
        met = np.flatnonzero(scores)
        # Sorting every document met is slow; the best few hundred are sure to hold the ones
        # wanted, unless one topic fills them all (then everything is sorted).
        for room in (SORTED_FIRST, len(met)):
            head = met
            if len(met) > room:  # those reaching the room's last place, ties with it included
                cut = np.partition(scores[met], len(met) - room)[len(met) - room]
                head = met[scores[met] >= cut]
            best = self._few_per_topic(head[np.argsort(-scores[head], kind="stable")], scores)
            if len(best) == FUZZ_TOP_DOCS or len(head) == len(met):
                return best
        return []  # not reached: the second room holds every document

    def _few_per_topic(self, ordered: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
        """The first `FUZZ_TOP_DOCS` of `ordered`, at most `DOCS_PER_TOPIC` of each topic."""
        best: list[tuple[int, float]] = []
        per_topic: Counter[str] = Counter()
        for d in ordered.tolist():
            topic = self.owners[d]
            if per_topic[topic] < DOCS_PER_TOPIC:
                per_topic[topic] += 1
                best.append((d, float(scores[d])))
                if len(best) == FUZZ_TOP_DOCS:
                    break
        return best

    def features(self, question: str) -> tuple[list[Candidate], list[float], Redirect | None]:
        """The ranking of a question and what the decision sees of it (`decision.FEATURES`)."""
        normalized = normalize(question)
        tokens, text = self._prepare(normalized)
        ranked = self._rank(tokens, text, top=3)
        words = [t for t in tokens if t not in _MARKERS]
        unknown = sum(t not in self.tokens.idf for t in words) / len(words) if words else 1.0
        # The question as typed (normalized), before English is read as Thai: "student loan"
        # is a loan, not a child.
        redirect = find_redirect(self.redirects, normalized)
        first = ranked[0] if ranked else Candidate("", 0.0)
        second = ranked[1] if len(ranked) > 1 else Candidate("", 0.0)
        values = [
            first.score,
            first.score - second.score,
            second.score,
            unknown,
            math.log1p(len(words)) / 3,
            next((c.score for c in ranked if c.id == OUT_OF_SCOPE), 0.0),  # outside
        ]
        return ranked, values, redirect

    def match(self, question: str) -> MatchResult:
        if self.decider is None:
            return self._match_by_threshold(question)
        ranked, values, redirect = self.features(question)
        if _LAYOUT_KEYS.search(question) and values[FEATURES.index("unknown")] >= 0.5:
            # Thai typed with the keyboard on English ("lumi,kdjk", or "g-hkit[[w,jwfh ครับ" when
            # the layout was switched back for the last word): read the Latin runs as Thai, keep
            # it if the decision likes it better.
            swapped = self.features(thai_layout(question))
            if self.decider.probability(swapped[1]) > self.decider.probability(values):
                ranked, values, redirect = swapped[0], swapped[1], redirect or swapped[2]
        topics = [c for c in ranked if c.id != OUT_OF_SCOPE]
        if not topics:
            return MatchResult(
                None, 0.0, None, None, 0.0, False, redirect=_id(redirect), out_of_scope=bool(ranked)
            )
        # The decision sees the ranking as it is, out-of-scope owner and all; it never answers
        # with that owner, nor offers it.
        out_of_scope = ranked[0].id == OUT_OF_SCOPE
        first = topics[0]
        second = topics[1] if len(topics) > 1 else Candidate("", 0.0)
        has_second = len(ranked) > 1 and ranked[1].id != OUT_OF_SCOPE
        action, p = self.decider.decide(values, has_second=has_second)
        if out_of_scope:
            action = "none"  # most like what we do not serve: never a guess
        return MatchResult(
            id=first.id if action != "none" else None,
            score=first.score,
            best=first.id,
            runner_up=second.id or None,
            runner_up_score=second.score,
            ambiguous=action == "choose",
            probability=round(p, 4),
            redirect=_id(redirect),
            out_of_scope=out_of_scope,
        )

    def _match_by_threshold(self, question: str) -> MatchResult:
        """One fixed score line and margin: the decision before there was a trained model."""
        ranked = self.rank(question, top=2)
        if not ranked:
            return MatchResult(None, 0.0, None, None, 0.0, False)
        first = ranked[0]
        second = ranked[1] if len(ranked) > 1 else Candidate("", 0.0)
        passes = first.score >= self.threshold
        ambiguous = (
            passes and second.score >= self.threshold and (first.score - second.score < self.margin)
        )
        return MatchResult(
            id=first.id if passes else None,
            score=first.score,
            best=first.id,
            runner_up=second.id or None,
            runner_up_score=second.score,
            ambiguous=ambiguous,
        )


_SKELETON = str.maketrans(
    "ศษซณธฑฒภใญฐฆฎฏฬ", "สสสนทททพไยถคดตล", "\u0e47\u0e48\u0e49\u0e4a\u0e4b\u0e4c"
)


def _without_askers_roles(tokens: list[str]) -> list[str]:
    return [
        t for i, t in enumerate(tokens) if not (t in _ASKERS_ROLES and i and tokens[i - 1] == "เป็น")
    ]


def thai_layout(question: str) -> str:
    """The question with each run of Latin keys read as Thai typed on an English layout; Thai,
    digits and punctuation on their own are left as they are."""
    return _LATIN_RUN.sub(
        lambda run: eng_to_thai(run[0]) if _LAYOUT_KEYS.search(run[0]) else run[0], question
    )


def skeleton(word: str) -> str:
    """A Thai word without tone marks, mai taikhu and thanthakhat, its easily confused letters
    folded into one."""
    return word.translate(_SKELETON)


def _untoned_words(words: Iterable[str]) -> dict[str, str]:
    """Untoned form → the word, for Thai words of two letters or more; of two words with one
    untoned form, the first listed wins."""
    table: dict[str, str] = {}
    for word in words:
        if len(word) >= 2 and _THAI.match(word) and " " not in word:
            table.setdefault(word.translate(_NO_TONES), word)
    return table


def _id(redirect: Redirect | None) -> str | None:
    return redirect.id if redirect is not None else None
