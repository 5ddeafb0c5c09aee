"""Training the answer/choose/decline model (`python -m faq train`).

Examples, each a question whose right topic (or None) we know, scored by a matcher that has
never seen it:

- held-out phrasings: the knowledge base's example phrasings in five folds, each fold scored by
  a matcher built without it, as typed and with generated chat noise (spaces dropped, tone marks
  slipped, particles, a story before the question);
- our question sets (`question_sets`: every set the matcher learns from), each scored by a
  matcher that learned all the others but not it, as a set written later would meet the matcher;
- off-topic and near-miss questions: the out-of-scope lines of those sets and generated ones
  (other services, chit-chat).

Label: 1 when the top-ranked topic is the right one. The answer line is then the probability
that maximizes right answers minus wrong ones (costing a wrong answer double lost a sixth of the
right story answers on styles_dev and a third on setA, to avoid 1 and 4 wrong answers); below it,
within `CHOOSE_AT_BELOW_ANSWER` and with a close runner-up, the bot offers both topics.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from faq import prepared
from faq.decision import Decider, fit_logistic, load_redirects
from faq.directory import Directory
from faq.evaluation import read_rows
from faq.kb import Entry, load_entries
from faq.matcher import Matcher
from faq.normalize import DATA, Tokenizer
from faq.question_sets import learned, learned_sets

FOLDS = 5
WRONG_COST = 1.0
CHOOSE_AT_BELOW_ANSWER = 0.07
CHOOSE_MARGIN = 0.08

PARTICLES = ["ครับ", "ค่ะ", "คะ", "จ้า", "คับ", "ค่าา", "นะคะ", "ครับผม", "😭", "🙏", "!!"]
STORIES = [
    "ผมเป็นอาสาสมัครที่ตำบลหนองบัวครับ",
    "เมื่อวานออกไปเก็บข้อมูลมาทั้งวันค่ะ",
    "หนูเพิ่งเริ่มทำงานนี้ค่ะ",
    "ตอนนี้อยู่ที่หมู่ 5 ครับ",
    "พี่ที่อำเภอให้มาถามครับ",
    "ลองมาหลายรอบแล้วค่ะ",
    "ขอโทษที่รบกวนนะคะ",
    "สวัสดีครับ",
    "ดิฉันเป็นคณะทำงานตรวจสอบข้อมูลของตำบลค่ะ",
    "ผมรับผิดชอบงาน จปฐ. ของอำเภอครับ",
    "วันนี้ลงพื้นที่หมู่ 3 มาค่ะ",
    "ใช้มือถือรุ่นเก่าอยู่ครับ",
    "เก็บไปได้ยี่สิบกว่าครัวเรือนแล้วค่ะ",
    "ที่หมู่บ้านสัญญาณไม่ค่อยดีครับ",
    "พัฒนากรให้มาสอบถามค่ะ",
    "มีเรื่องอยากปรึกษาครับ",
]
# How a story often ends: a question that names no topic, the topic was in the story.
ENDINGS = [
    "ต้องทำยังไงครับ",
    "ต้องทำอย่างไรคะ",
    "แบบนี้ต้องทำยังไงดีคะ",
    "ช่วยแนะนำหน่อยครับ",
    "ได้ไหมครับ",
    "ควรทำอย่างไรดีครับ",
    "ตามแนวทางต้องทำอย่างไรคะ",
]
TONE_MARKS = "\u0e48\u0e49\u0e4a\u0e4b"
# Off-topic and near-miss questions to learn "decline" from, beside our sets' own.
OFF_TOPIC = [
    "ราคาทองวันนี้เท่าไร",
    "พรุ่งนี้อากาศเป็นยังไง",
    "ขอสูตรผัดกะเพรา",
    "ร้านกาแฟใกล้ๆ อยู่ตรงไหน",
    "ช่วยแต่งกลอนให้หน่อย",
    "หวยงวดนี้ออกอะไร",
    "รถติดไหมแถวนี้",
    "ขอเบอร์ร้านอาหาร",
    "เที่ยวเชียงใหม่ที่ไหนดี",
    "ปวดหัวกินยาอะไรดี",
    "ซื้อโทรศัพท์รุ่นไหนดี",
    "เงินเดือนข้าราชการขึ้นเมื่อไร",
    "ขอเบอร์โรงพยาบาลอำเภอ",
    "ลูกไม่ยอมไปโรงเรียนทำไงดี",
    "สมัครงานที่อบตต้องใช้อะไรบ้าง",
    "ไฟดับทั้งหมู่บ้านแจ้งใคร",
    "น้ำประปาไม่ไหลแจ้งที่ไหน",
    "รหัสไวไฟของอำเภอคืออะไร",
    "สอนใช้ excel หน่อย",
    "ขายข้าวได้กิโลละเท่าไร",
    "ค่าไฟเดือนนี้แพงมาก",
    "ปลูกผักอะไรดีหน้าฝน",
    "ไลน์ของนายกอบตคืออะไร",
    "วันหยุดราชการเดือนหน้ามีวันไหนบ้าง",
]


# Letters chat typing confuses (the first typed for the second and back).
CONFUSED = [("ศ", "ส"), ("ษ", "ส"), ("ณ", "น"), ("ธ", "ท"), ("ภ", "พ"), ("ใ", "ไ"), ("ร", "ล")]


def _slipped(question: str, rng: random.Random) -> str:
    """Chat slips the matcher mends: every tone mark left out, a confused letter, a letter
    dropped."""
    kind = rng.randrange(3)
    if kind == 0:
        return "".join(ch for ch in question if ch not in TONE_MARKS)
    if kind == 1:
        pairs = [(a, b) for pair in CONFUSED for a, b in (pair, pair[::-1]) if a in question]
        if pairs:
            a, b = rng.choice(pairs)
            return question.replace(a, b, 1)
    letters = [i for i, ch in enumerate(question) if "\u0e01" <= ch <= "\u0e2e"]
    if len(letters) > 6:
        i = rng.choice(letters)
        return question[:i] + question[i + 1 :]
    return question.replace(" ", "")


def _noisy(question: str, rng: random.Random) -> str:
    """One chat-typing or story variant of a phrasing."""
    kind = rng.randrange(8)
    if kind >= 6:
        return _slipped(question, rng) + rng.choice(PARTICLES)
    if kind == 0:
        return question.replace(" ", "") + rng.choice(PARTICLES)
    if kind == 1:
        marks = [i for i, ch in enumerate(question) if ch in TONE_MARKS]
        if marks:
            i = rng.choice(marks)
            return question[:i] + question[i + 1 :]
        return question + rng.choice(PARTICLES)
    if kind == 2:
        return f"{rng.choice(STORIES)} {question}{rng.choice(PARTICLES)}"
    if kind == 3:
        i = rng.randrange(len(question))
        return question[:i] + question[i] * 3 + question[i + 1 :]  # repeated letter
    if kind == 4:
        return f"{rng.choice(STORIES)} {rng.choice(STORIES)} {question.replace(' ', '')}"
    return f"{rng.choice(STORIES)} {question} {rng.choice(ENDINGS)}"


def _fold_examples(entries: list[Entry], fold: int) -> tuple[list[Entry], list[tuple[str, str]]]:
    kept, held = [], []
    for entry in entries:
        examples = list(entry.examples)
        out = [q for i, q in enumerate(examples) if i % FOLDS == fold]
        kept.append(replace(entry, examples=tuple(q for q in examples if q not in out)))
        held += [(q, entry.id) for q in out]
    return kept, held


def examples(data_dir: Path = DATA, seed: int = 2563) -> Iterator[tuple[Matcher, str, str | None]]:
    """(matcher, question, right topic or None): the matcher has not seen the question."""
    rng = random.Random(seed)
    entries = load_entries(data_dir / "kb.yaml")
    tokenizer = Tokenizer(data_dir)
    directory = Directory(data_dir / "directory.yaml")
    redirects = load_redirects(data_dir / "redirects.yaml")

    asked = learned(data_dir)
    # Every matcher below indexes phrasings this one has prepared already.
    full = Matcher(
        entries,
        tokenizer,
        directory,
        redirects=redirects,
        asked=asked,
        prepared=prepared.load(data_dir),
    )

    for fold in range(FOLDS):
        kept, held = _fold_examples(entries, fold)
        fold_matcher = Matcher(
            kept, tokenizer, directory, redirects=redirects, asked=asked, prepared=full.prepared
        )
        for question, topic in held:
            yield fold_matcher, question, topic
            yield fold_matcher, _noisy(question, rng), topic
            yield fold_matcher, _noisy(question, rng), topic
        # Off-topic questions ask the same matchers, so both classes see the same ranking noise.
        for question in OFF_TOPIC[fold::FOLDS]:
            yield fold_matcher, question, None
            yield fold_matcher, _noisy(question, rng), None
    for path in learned_sets(data_dir):
        without = full.without(path.name)
        for row in read_rows(path):
            yield without, row["q"], row["id"]


def train(data_dir: Path = DATA) -> tuple[Decider, dict]:
    rows, labels, tops = [], [], []
    for matcher, question, topic in examples(data_dir):
        ranked, values, _ = matcher.features(question)
        top = ranked[0].id if ranked else None
        rows.append(values)
        labels.append(int(topic is not None and top == topic))
        tops.append(topic is not None)
    weights, bias = fit_logistic(rows, labels)
    model = Decider(weights, bias, 0.5, 0.2, CHOOSE_MARGIN)
    probabilities = [model.probability(x) for x in rows]
    best_at, best_gain = 0.5, float("-inf")
    for step in range(5, 96):
        at = step / 100
        right = sum(p >= at and y for p, y in zip(probabilities, labels, strict=True))
        wrong = sum(p >= at and not y for p, y in zip(probabilities, labels, strict=True))
        gain = right - WRONG_COST * wrong
        if gain > best_gain:
            best_at, best_gain = at, gain
    model = replace(
        model, answer_at=best_at, choose_at=round(max(0.05, best_at - CHOOSE_AT_BELOW_ANSWER), 2)
    )
    note = {
        "examples": len(rows),
        "top_right": sum(labels),
        "out_of_scope": len(rows) - sum(tops),
        "answer_at_gain": best_gain,
    }
    return model, note


def prepare(data_dir: Path = DATA) -> int:
    """Store every phrasing the service indexes, prepared (`faq.prepared`); how many."""
    matcher = Matcher(
        load_entries(data_dir / "kb.yaml"),
        Tokenizer(data_dir),
        Directory(data_dir / "directory.yaml"),
        asked=learned(data_dir),
    )
    prepared.save(data_dir, matcher.prepared)
    return len(matcher.prepared)
