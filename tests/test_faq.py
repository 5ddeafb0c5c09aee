"""The FAQ: normalization, matching, abstention, coordinator answers, CLI contracts, sources."""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import yaml
from pythainlp.corpus import thai_words
from pythainlp.tokenize import word_tokenize
from pythainlp.util import Trie
from rapidfuzz import fuzz, process

import faq.matcher as matcher_module
from bench.faq_answers import match_row, our_sets
from bot.config import PROJECT_ROOT
from faq import cues, prepared, question_sets, spelling
from faq.__main__ import matcher_decision
from faq.decision import (
    FEATURES,
    LONG_SCORE_FLOOR,
    LONG_WORDS,
    SCORE_FLOOR,
    Decider,
    fit_logistic,
)
from faq.evaluation import Decision, evaluate, keyword_baseline, read_rows
from faq.kb import load_entries
from faq.matcher import (
    DOCS_PER_TOPIC,
    FUZZ_TOP_DOCS,
    PROVINCE,
    REGION,
    W_CHARS,
    W_TOKENS,
    Matcher,
    thai_layout,
    trigrams,
)
from faq.normalize import DATA, Tokenizer, normalize
from faq.question_sets import HELD_OUT, OUT_OF_SCOPE, Asked, learned, learned_sets
from faq.service import ASK_PROVINCE, ASK_WHAT, NO_MATCH, REDIRECT_INTRO, FaqService, Kind
from faq.training import examples, train
from faq.word_model import WordModel
from faq.yamlfile import read_yaml
from tests.conftest import DATA as FIXTURES
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def faq(faq_service):
    return faq_service


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer()


@pytest.fixture(scope="module")
def kb_matcher(faq):
    """The knowledge base's phrasings alone, our question sets not learned: where a rule of the
    ranking shows what it does (learned, the sets' own phrasings often settle the same question)."""
    shipped = faq.matcher
    return Matcher(
        list(faq.entries.values()),
        shipped.tokenizer,
        shipped.directory,
        decider=shipped.decider,
        redirects=shipped.redirects,
    )


# -- normalization -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("รายได้ ๓๘,๐๐๐ บาท", "รายได้ 38000 บาท"),  # Thai digits, thousands separator
        ("ล็อค\u200bอิน\u200dไม่ได้", "ล็อคอินไม่ได้"),  # zero-width characters
        ("มากกกกกก", "มาก"),  # repeated letters folded
        ("ดีมากกก", "ดีมาก"),  # ... three at the end of a word too
        ("ระบบบันทึก", "ระบบบันทึก"),  # ... but not ระบบ + บันทึก inside a word
        ("1000000 บาท", "1000000 บาท"),  # ... but never digits
        ("เเอปค้าง", "แอปค้าง"),  # เ+เ typed for แ
        ("จปฐ. รพ.สต.", "จปฐ รพสต"),  # abbreviation dots
        ("Smart  Survey!!", "smart survey"),  # case, punctuation, spaces
        ("ข้อมูล\tจปฐ\x07", "ข้อมูล จปฐ"),  # control characters
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_normalize_maps_each_character_by_its_unicode_category():
    """normalize's translate tables (filled as characters are met, and bounded) give what asking
    unicodedata about every character gives, for characters from anywhere in Unicode."""

    def by_category(text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        text = "".join(
            " " if unicodedata.category(c)[0] == "C" else c
            for c in text
            if c not in "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f"
        )
        text = text.translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")).lower()
        text = text.replace("เเ", "แ").replace("\u0e4d\u0e32", "\u0e33")
        return text

    rng = random.Random(7)
    for _ in range(3000):  # more distinct characters than the tables keep
        text = "".join(
            chr(rng.choice([rng.randrange(0x110000), rng.randrange(0x0E00, 0x0E80)]))
            for _ in range(rng.randint(1, 30))
        )
        expected = by_category(text)
        expected = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in expected)
        # The regular-expression steps in between are the same code either way: compared where
        # they cannot apply (no repeats, dots, commas), on the characters' mapping alone.
        if not re.search(r"(.)\1\1|[.,]", expected):
            assert normalize(text) == re.sub(r"\s+", " ", expected).strip(), ascii(text)


def test_nfc(tokenizer):
    decomposed = "e\u0301"  # é as two code points
    assert normalize(decomposed) == "\u00e9"


def test_ways_of_asking_are_dropped_like_particles(tokenizer):
    chatty = tokenizer.tokens("รบกวนสอบถามหน่อยค่ะ อยากทราบว่าลืมรหัสผ่านทำยังไง")
    assert chatty == tokenizer.tokens("ลืมรหัสผ่านทำยังไง")


def test_particles_dropped_and_synonyms_merged(tokenizer):
    assert tokenizer.tokens("ลืมพาสเวิร์ดค่ะ") == tokenizer.tokens("ลืมรหัสผ่านครับ")
    assert tokenizer.tokens("ล็อกอินไม่ได้จ้า") == tokenizer.tokens("login ไม่ได้")
    assert "ครับ" not in tokenizer.tokens("แอปค้างครับ")


def test_mixed_thai_and_english_without_spaces(tokenizer):
    tokens = tokenizer.tokens("โหลดแอพsmart surveyไม่ได้")
    assert "smartsurvey" in tokens and "แอป" in tokens


def test_month_abbreviations_and_spelling_variants(tokenizer):
    assert tokenizer.tokens("ภายใน 14 ส.ค.") == tokenizer.tokens("ภายใน 14 สิงหาคม")
    assert tokenizer.tokens("มิ.ย. 63")[0] == "มิถุนายน"
    assert tokenizer.tokens("ส่งเข้าเซิฟเวอร์") == tokenizer.tokens("ส่งเข้าเซิร์ฟเวอร์")


def test_numbers_in_words_are_numbers_to_the_matcher(faq):
    assert faq.matcher.prepare("อยู่ได้สามเดือน")[0] == faq.matcher.prepare("อยู่ได้ ๓ เดือน")[0]
    assert "@เลข" in faq.matcher.prepare("อายุแปดสิบปี")[0]


def test_a_dictionary_word_that_cuts_questions_wrongly_is_removed(tokenizer):
    assert tokenizer.tokens("เรื่องที่ผมแจ้งไป")[:3] == tokenizer.tokens("เรื่องที่แจ้งไป")[:3]


def test_domain_words_stay_whole(tokenizer):
    assert tokenizer.tokens("ผปส.จังหวัด")[0] == "ผู้ประสานงาน"
    assert "หัวหน้าครัวเรือน" in tokenizer.tokens("หัวหน้าครัวเรือนอายุน้อย")


def test_the_word_dictionary_answers_newmm_as_pythainlps_trie_does(tokenizer):
    """newmm asks its dictionary for the words starting at a position; ours (two sets, quick to
    build) must answer exactly as pythainlp's Trie over the same words, so newmm cuts the same."""
    words = list(tokenizer.dictionary)
    trie = Trie(words)
    rng = random.Random(11)
    texts = [p for e in load_entries() for p in (*e.phrasings, e.answer)]
    texts += ["".join(rng.sample(words, 4)) for _ in range(300)]  # words run together
    texts += [" ติดตั้ง แอป ", "ผู้ประสานงานจังหวัดสงขลา", "abc123 ผปส"]
    for text in texts:
        for start in range(len(text)):
            assert tokenizer.dictionary.prefixes(text, start) == trie.prefixes(text, start)
        cut = word_tokenize(text, custom_dict=tokenizer.dictionary, keep_whitespace=False)
        assert cut == word_tokenize(text, custom_dict=trie, keep_whitespace=False)
    assert len(tokenizer.dictionary) == len(trie)


# -- the knowledge base ------------------------------------------------------------------------


def topic_ids() -> list[str]:
    text = shared_file("faq/TOPICS.md").read_text(encoding="utf-8")
    return [i for i in re.findall(r"^\| ([a-z0-9-]+) \|", text, re.M) if i != "id"]


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.yaml")))
def test_every_data_file_reads_the_same_with_libyaml_as_with_pure_python(name):
    text = (DATA / name).read_text(encoding="utf-8")
    assert read_yaml(DATA / name) == yaml.load(text, Loader=yaml.SafeLoader)


def test_one_entry_per_topic_with_exactly_those_ids():
    assert sorted(e.id for e in load_entries()) == sorted(topic_ids())


def test_dev_questions_are_not_copied_into_the_knowledge_base():
    dev = {
        normalize(json.loads(line)["q"])
        for line in shared_file("faq/dev.jsonl").read_text(encoding="utf-8").splitlines()
    }
    phrasings = {normalize(p) for e in load_entries() for p in e.phrasings}
    assert dev & phrasings == set()


def test_every_phone_number_and_url_comes_from_the_letter(faq):
    seed = shared_file("seed/000_01f05d258420503c.txt").read_text(encoding="utf-8")
    seed_digits = re.sub(r"\D", "", normalize(seed))
    texts = [faq.answer(t).text for t in faq.entries] + [
        faq.province_coordinator_text(p, None) for p in faq.directory.provinces
    ]
    texts += [faq.region_coordinator_text(r, None) for r in faq.directory.regions]
    for text in texts:
        for phone in re.findall(r"0\d{1,2}-\d{3}-\d{4}", text):
            assert re.sub(r"\D", "", phone) in seed_digits, phone
        for url in re.findall(r"https?://[^\s)]+", text):
            assert url.split("://")[1] in seed, url


def test_each_topic_is_found_for_its_own_canonical_question(faq):
    wrong = {
        e.id: faq.matcher.match(e.question).id
        for e in faq.entries.values()
        if faq.matcher.match(e.question).id != e.id
    }
    assert wrong == {}


@pytest.mark.parametrize(
    "question",
    ["ราคาหุ้นวันนี้", "อยากกินพิซซ่า", "ขอเพลงเพราะๆ", "ช่วยทำการบ้านหน่อย", "ฝนตกไหมพรุ่งนี้", "๕๕๕"],
)
def test_out_of_scope_questions_get_no_answer(faq, question):
    assert faq.respond(question).kind is Kind.UNKNOWN


def test_typos_particles_and_missing_spaces_still_match(faq):
    assert faq.matcher.match("ลืมรหัสผ่านนนนน ค่ะะ").id == "forgot-password"
    assert faq.matcher.match("แอพเด้งงงออกจ้า").id == "app-crash"
    assert faq.matcher.match("รายได้ต่ำกว่า๓๘๐๐๐บาทต้องตรวจไหม").id == "check-income"
    assert faq.matcher.match("ลอคอินไม่ได้").id == "login-problem"


def test_dev_set_meets_the_targets_and_beats_the_keyword_baseline(faq):
    rows = [json.loads(line) for line in shared_file("faq/dev.jsonl").read_text().splitlines()]
    ours = evaluate("ours", matcher_decision(faq.matcher), rows)
    keyword = evaluate("keyword", keyword_baseline(list(faq.entries.values())), rows)
    assert ours.accuracy >= 0.95 and ours.abstention >= 0.9
    assert ours.accuracy > keyword.accuracy


def test_matcher_is_thread_safe(faq):
    questions = [e.question for e in faq.entries.values()] * 4
    sequential = [faq.matcher.match(q) for q in questions]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(faq.matcher.match, questions))
    assert parallel == sequential


def plain_best_documents(matcher: Matcher, tokens: list[str], text: str) -> list[tuple[int, float]]:
    """The ranking's first step written plainly: both cosines of every document sharing a feature
    with the question (each sum in the query's sorted order), then the `FUZZ_TOP_DOCS` best of
    them, no more than `DOCS_PER_TOPIC` of a topic, of equal scores the first indexed first."""

    def cosines(index, query) -> dict[int, float]:
        query = sorted(set(query))
        q_norm = math.sqrt(math.fsum(index.weight(f) ** 2 for f in query)) or 1.0
        dots: dict[int, float] = defaultdict(float)
        for f in query:
            if f in index.idf:
                for doc_id in index.postings[f]:
                    dots[int(doc_id)] += index.idf[f] * index.idf[f]
        return {d: dot / (q_norm * index.norms[d]) for d, dot in dots.items()}

    by_tokens = cosines(matcher.tokens, tokens)
    by_grams = cosines(matcher.grams, trigrams(text))
    blocked = {
        d
        for d, owner in enumerate(matcher.owners)
        if owner in matcher.requires and not matcher.requires[owner] & set(tokens)
    }
    partial = {
        d: W_TOKENS * by_tokens.get(d, 0.0) + W_CHARS * by_grams.get(d, 0.0)
        for d in set(by_tokens) | set(by_grams)
        if d not in blocked
    }
    best, per_topic = [], Counter()
    for d in sorted(partial, key=lambda d: (-partial[d], d)):
        if per_topic[matcher.owners[d]] < DOCS_PER_TOPIC:
            per_topic[matcher.owners[d]] += 1
            best.append((d, partial[d]))
    return best[:FUZZ_TOP_DOCS]


@pytest.fixture(scope="module")
def crowded_matcher(faq):
    """The knowledge base, twenty of its entries again under other ids (equal scores everywhere)
    and 250 entries of random dictionary words: many documents for the bound to rule out."""
    rng = random.Random(2563)
    words = sorted(w for w in thai_words() if 2 <= len(w) <= 8 and " " not in w)
    entries = list(faq.entries.values())
    entries += [replace(e, id=f"{e.id}-again") for e in entries[:20]]
    for n in range(250):
        phrasings = [" ".join(rng.sample(words, rng.randint(3, 7))) for _ in range(8)]
        entries.append(
            replace(
                entries[-1],
                id=f"random-{n}",
                question=phrasings[0],
                examples=tuple(phrasings[1:]),
                requires_any=(),
            )
        )
    return Matcher(entries, faq.matcher.tokenizer, faq.directory)


def test_the_ranking_in_numpy_ranks_as_plain_scoring_of_every_document_does(faq, crowded_matcher):
    """The ranking sums every document's cosines at once in numpy; its best documents must be
    those the plain loop gives, with the same scores to the last bit, equal scores in the order
    the documents were indexed."""
    # Not the blind sets not yet scored: no test may run the matcher on them before their score.
    rows = [row for path in our_sets() for row in read_rows(path)]
    questions = [row["q"] for row in rows] + [p for e in faq.entries.values() for p in e.phrasings]
    ties = 0
    for matcher in (faq.matcher, crowded_matcher):
        for question in questions:
            tokens, text = matcher.prepare(question)
            expected = plain_best_documents(matcher, tokens, text)
            assert matcher._best_documents(tokens, text) == expected, question
            scores = [score for _, score in expected]
            ties += len(set(scores)) < len(scores)
    assert ties > 100  # equal scores among the best are common, and their order was compared


def test_a_sample_of_answers_is_what_it_was_when_recorded(faq):
    """Questions of our sets (every eighth, and every one answered with a choice) and what the
    matcher made of them without having learned their set (`tests/data/faq/matches.jsonl`),
    recorded when the matcher began to learn our sets (issue 11). Speed work must change none of
    it; a change meant to change answers regenerates the file (`python bench/faq_answers.py sample
    tests/data/faq/matches.jsonl`) and says so."""
    rows = read_rows(FIXTURES / "faq" / "matches.jsonl")
    by_set = defaultdict(list)
    for row in rows:
        by_set[row["set"]].append(row)
    for name, recorded in by_set.items():
        matcher = faq.matcher.without(name)
        for row in recorded:
            assert {"set": name, **match_row(matcher, row["q"])} == row
    assert {row["action"] for row in rows} == {"answer", "choose", "none"}


def test_two_close_topics_ask_which(faq):
    reply = faq.respond("แอป")  # one word: the app crashing, or installing it?
    assert reply.kind is Kind.CHOOSE and reply.action == "choose"
    assert {c[0] for c in reply.choices} == {"app-crash", "app-install"}


# -- coordinator answers ------------------------------------------------------------------------


def test_listed_province_gets_its_coordinator(faq):
    reply = faq.respond("ขอเบอร์ผู้ประสานงานจังหวัดสุราษหน่อยครับ")
    assert reply.topic == "coordinator-province"
    assert "นางภัทรญา ดำรงพลภักดี" in reply.text and "095-428-4975" in reply.text


def test_unlisted_province_gets_its_regions_coordinators_and_says_so(faq):
    reply = faq.respond("ผู้ประสานงานจังหวัดเชียงใหม่คือใคร")
    assert "ยังไม่มีรายชื่อผู้ประสานงานระดับจังหวัดของจังหวัดเชียงใหม่" in reply.text
    assert "ภาคเหนือ" in reply.text and "089-999-4234" in reply.text


def test_registered_province_is_used_when_the_question_names_none(faq):
    reply = faq.respond("ผู้ประสานงานจังหวัดของฉันคือใคร", registered_province="สตูล")
    assert "คุณบาคา สะหะยุ้ย" in reply.text


def test_the_named_province_wins_over_the_registered_one(faq):
    reply = faq.respond("เบอร์ผู้ประสานงานจังหวัดสงขลา", registered_province="สตูล")
    assert "คุณกริษา ฤ นคร" in reply.text and "สะหะยุ้ย" not in reply.text


def test_no_province_at_all_asks_which(faq):
    assert faq.respond("ผู้ประสานงานจังหวัดเบอร์อะไร").text == ASK_PROVINCE


def test_region_and_central_answers(faq):
    region = faq.respond("ขอเบอร์ผู้ประสานงานภาคอีสาน")
    assert region.topic == "coordinator-region" and "081-837-1057" in region.text
    central = faq.respond("ติดต่อผู้ประสานงานภาคไม่ได้เลย ทำยังไง")
    assert central.topic == "coordinator-central" and "062-689-3688" in central.text


def test_misspelled_and_nicknamed_provinces(faq):
    directory = faq.directory
    assert directory.match_province("สุราษ") == "สุราษฎร์ธานี"
    assert directory.match_province("จ.สุราษฏร์ธานี") == "สุราษฎร์ธานี"
    assert directory.match_province("โคราช") == "นครราชสีมา"
    assert directory.match_province("อุบล") == "อุบลราชธานี"
    assert directory.match_province("ยะลาา") == "ยะลา"
    assert directory.match_province("กรุงเทพ") is None  # not in the programme
    assert len(directory.provinces) == 76


# -- CLI contracts ------------------------------------------------------------------------------


def run_cli(*args: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "faq", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=True,
    )
    return result.stdout


def test_cli_match_one_json_line_per_question_in_order():
    lines = run_cli("match", stdin="ลืมรหัสผ่าน\nราคาทองวันนี้\nแอปค้าง\n").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["query"] for r in rows] == ["ลืมรหัสผ่าน", "ราคาทองวันนี้", "แอปค้าง"]
    assert [r["id"] for r in rows] == ["forgot-password", None, "app-crash"]
    assert [r["action"] for r in rows] == ["answer", "none", "answer"]
    assert all(isinstance(r["score"], int | float) for r in rows)


def test_cli_match_offers_the_choices_when_it_cannot_tell_two_topics_apart():
    (row,) = [json.loads(line) for line in run_cli("match", stdin="ผู้ประสานงาน\n").splitlines()]
    assert row["action"] == "choose"
    assert set(row["choices"]) == {"coordinator-province", "coordinator-region"}
    assert row["id"] == row["choices"][0]  # id stays the top topic


def test_eval_counts_a_choice_apart_from_a_direct_answer():
    rows = [
        {"q": "a", "id": "forgot-password", "style": "short"},
        {"q": "b", "id": "forgot-password", "style": "short"},
        {"q": "c", "id": "forgot-password", "style": "chat"},
        {"q": "d", "id": None, "style": "far"},
    ]
    decisions = {
        "a": Decision("answer", "forgot-password"),
        "b": Decision("choose", "forgot-password", ("forgot-password", "login-problem")),
        "c": Decision("none", "forgot-password"),
        "d": Decision("none", "app-crash"),
    }
    score = evaluate("t", decisions.__getitem__, rows)
    short, chat, far = score.styles["short"], score.styles["chat"], score.styles["far"]
    assert (short.direct, short.chose, short.ranked_first, short.accuracy) == (1, 1, 2, 0.5)
    assert (chat.direct, chat.ranked_first) == (0, 1)
    assert (far.declined, far.out_of_scope) == (1, 1)
    assert score.accuracy == 1 / 3


def test_cli_export_shape():
    data = json.loads(run_cli("export"))
    assert len(data) == len(load_entries())
    assert all(set(row) == {"id", "questions", "answer"} and row["questions"] for row in data)


def test_cli_eval_prints_accuracy_abstention_and_baselines():
    out = run_cli("eval", str(shared_file("faq/dev.jsonl")))
    assert "ranked first" in out and "answered directly" in out and "declined" in out
    assert "keyword auto-reply" in out and "WRatio" in out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["in_scope"] == 50 and summary["out_of_scope"] == 10
    assert "chose" in summary and summary["accuracy"] <= summary["ranked_first"]


def test_cli_calibrate_shows_the_trade_off_and_marks_the_threshold_in_use(tmp_path):
    questions = tmp_path / "q.jsonl"
    rows = [{"q": "ลืมรหัสผ่านเข้าแอป", "id": "forgot-password"}, {"q": "ราคาทองวันนี้", "id": None}]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    lines = [
        line for line in run_cli("calibrate", str(questions)).splitlines() if "abstention" in line
    ]
    abstention = [float(line.split("abstention")[1].strip(" <%")) for line in lines]
    assert len(lines) == 13 and sum(line.endswith("<") for line in lines) == 1
    assert abstention == sorted(abstention)  # a higher threshold never answers more


# -- how volunteers really type (issue 11) --------------------------------------------------------


def test_english_words_are_read_as_the_knowledge_bases_thai(tokenizer, faq):
    assert tokenizer.tokens("forgot password") == tokenizer.tokens("ลืมรหัสผ่าน")
    assert tokenizer.tokens("head of household อายุต่ำกว่า 15")[0] == "หัวหน้าครัวเรือน"
    for question, topic in [
        ("I forgot my password", "forgot-password"),
        ("GPS not working", "gps-location"),
    ]:
        result = faq.matcher.match(question)
        assert (result.action, result.id) == ("answer", topic)


def test_english_region_names_are_found_like_thai_ones(faq):
    reply = faq.respond("regional coordinator for the south region")
    assert reply.topic == "coordinator-region" and "ภาคใต้" in reply.text


def test_thai_typed_with_the_keyboard_on_english_is_read_as_thai(faq):
    result = faq.matcher.match("]n,isylzjko")  # ลืมรหัสผ่าน on a US layout
    assert (result.action, result.id) == ("answer", "forgot-password")


def test_thai_on_an_english_layout_beside_thai_typed_right_is_read_as_thai(faq):
    """The layout switched back for the last word: only the Latin run is read as Thai."""
    assert thai_layout("]n,isylzjko ครับ 091") == "ลืมรหัสผ่าน ครับ 091"
    result = faq.matcher.match("]n,isylzjko ครับ")
    assert (result.action, result.id) == ("answer", "forgot-password")


def test_the_word_model_shares_out_the_candidates_by_their_topics_words():
    model = WordModel(
        [
            ("upload-failed", ["ส่ง", "ข้อมูล", "ไม่ได้"]),
            ("upload-failed", ["อัปโหลด", "ไม่ได้"]),
            ("edit-submitted", ["แก้ไข", "ข้อมูล", "ที่", "ส่ง", "แล้ว"]),
        ]
    )
    shares = model.shares(["แก้ไข", "ข้อมูล", "หลัง", "ส่ง"], ["upload-failed", "edit-submitted", "x"])
    assert shares["edit-submitted"] > 0.9 and shares["x"] == 0.0
    assert math.isclose(sum(shares.values()), 1.0)
    # A word no topic uses ("หลัง") is left out rather than favouring the topic with fewer words.
    assert shares == model.shares(["แก้ไข", "ข้อมูล", "ส่ง"], ["upload-failed", "edit-submitted", "x"])


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("บ้านไหนต้องเก็บบ้าง", "household-eligibility"),
        ("ยูสเซอร์เข้าเว็บสมาร์ทดาต้าของจังหวัดได้จากไหนคะ", "progress-tracking"),
    ],
)
def test_the_word_model_puts_the_topic_whose_words_fit_first(
    kb_matcher, monkeypatch, question, topic
):
    """The nearest phrasing alone ranks these second; the topic's words as a whole put them first."""
    assert kb_matcher.rank(question, top=1)[0].id == topic
    monkeypatch.setattr(matcher_module, "W_WORDS", 0.0)
    assert kb_matcher.rank(question, top=1)[0].id != topic


def test_a_report_made_earlier_and_unanswered_is_a_status_question_not_a_new_report(
    faq, kb_matcher, monkeypatch
):
    """A word cue settles the near pair where the letter's meaning is clear; without it the
    knowledge base's phrasings read "แจ้งปัญหา" as a new report."""
    question = "แจ้งปัญหาไปตั้งแต่วันจันทร์ ยังไม่มีใครติดต่อกลับเลยครับ"
    assert faq.matcher.match(question).id == "ticket-status"
    assert kb_matcher.match(question).id == "ticket-status"
    monkeypatch.setattr(cues, "CUE_BOOST", 0.0)
    assert kb_matcher.rank(question, top=1)[0].id == "open-ticket"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ผมอยู่ จ.สตูล ครับ", "ผมอยู่ จังหวัดสตูล ครับ"),  # จ. before a name is จังหวัด
        ("ตั้งใจ.ทำ", "ตั้งใจทำ"),  # the last letter of a word keeps its meaning
        ("ผมอยู่ ต.บ้านนา ครับ", "ผมอยู่ ตำบลบ้านนา ครับ"),  # ต. before a name is ตำบล, not "ตค"
        ("เดือน ต.ค. นี้", "เดือน ตค นี้"),  # ... but ต.ค. is still October
        ("รพ.สต.บ้านนา", "รพสตบ้านนา"),  # ... and the ต. of รพ.สต. is no ตำบล
    ],
)
def test_the_province_abbreviation_is_read_in_full(text, expected):
    assert normalize(text) == expected


def test_the_speller_never_swallows_a_place_into_the_word_before_it(faq):
    """ "จ" + a province was mended into จังหวัด and the province lost."""
    tokens = ["ผู้ประสานงาน", "จ", PROVINCE]
    assert faq.matcher.correct(tokens)[-1] == PROVINCE


@pytest.mark.parametrize(
    ("text", "hello"),
    [("ดีจ้า", True), ("ดีคับ มีใครอยู่ไหม", True), ("ทำยังไงดีครับ", False), ("ดีมากครับ", False)],
)
def test_chats_short_hello_is_a_greeting_only_at_the_start(tokenizer, text, hello):
    assert tokenizer.translate(text).startswith("สวัสดี") is hello


def test_a_storys_teller_is_not_its_topic(faq):
    """ "ผมเป็นอาสา…" says who asks; อาสา in the question itself is kept."""
    assert "อาสาสมัคร" not in faq.matcher.prepare("ผมเป็นอาสาที่หมู่ 5 ครับ แอปเด้งออก")[0]
    assert "อาสาสมัคร" in faq.matcher.prepare("อาสาต่อตำบลต้องมีกี่คน")[0]


@pytest.mark.parametrize(
    ("question", "tokens"),
    [
        ("ข้อยส่งข้อมูลบ่ได้เด้อ", ["ส่งข้อมูล", "ไม่", "ได้"]),  # Isan: I, not, particle
        ("มื้อนี้เข้าแอปบ่ได้เลยเจ้า", ["เข้า", "แอป", "ไม่", "ได้", "เลย"]),  # today, particle
    ],
)
def test_regional_words_read_as_the_knowledge_bases(faq, question, tokens):
    assert faq.matcher.prepare(question)[0] == tokens


def test_misspelled_words_are_corrected_to_the_knowledge_bases(faq):
    assert "ตำแหน่ง" in faq.matcher.prepare("พิกดไม่ขึ้น")[0]  # พิกัด
    assert faq.matcher.match("ลืมรหัดผ่าน").id == "forgot-password"
    assert faq.matcher.match("โหลดแอพสมาทเซอเวย์ที่ไหนคะ").id == "app-install"


def test_the_spelling_shortcut_finds_what_comparing_every_word_finds(faq):
    """The speller hands rapidfuzz only the words that can reach the cutoff; the word it returns
    must be the one comparing every word of the vocabulary returns, ties included."""
    speller = faq.matcher._speller
    words = speller.words
    rng = random.Random(2563)
    spans = []
    for word in rng.sample(words, min(len(words), 600)):
        letters = list(word)
        for _ in range(rng.randint(1, 3)):  # chat noise: letters dropped, added, swapped
            at = rng.randrange(len(letters))
            roll = rng.random()
            if roll < 0.4 and len(letters) > 1:
                del letters[at]
            elif roll < 0.8:
                letters.insert(at, rng.choice("กงนมรอาิีุู่้ัเแ"))
            else:
                letters[at] = rng.choice("กงนมรอาิี่้")
        spans += ["".join(letters), word + rng.choice(words)[:2], word[1:]]
    found = 0
    for span in spans:
        every = process.extractOne(
            span,
            [w for w in words if spelling.reachable(len(span), len(w))],
            scorer=fuzz.ratio,
            score_cutoff=spelling.CUTOFF,
        )
        expected = (every[0], every[1]) if every and len(span) >= spelling.MIN_CHARS else None
        assert speller.closest(span) == expected, span
        found += expected is not None
    assert found > len(spans) // 4  # the spans are close enough for many to be corrected


def test_a_story_before_the_question_is_answered_directly(faq):
    story = "ผมเป็นอาสาที่ตำบลนาดีครับ วันนี้ออกไปเก็บข้อมูลมาทั้งวัน พอกดส่งข้อมูลแอปขึ้นว่าไม่สำเร็จ ต้องทำยังไงครับ"
    result = faq.matcher.match(story)
    assert (result.action, result.id) == ("answer", "upload-failed")


@pytest.mark.parametrize(
    ("question", "redirect", "where"),
    [
        ("เบี้ยยังชีพผู้สูงอายุเดือนนี้เข้าวันไหน", "allowances", "อบต."),
        ("แอปเป๋าตังเข้าไม่ได้", "other-apps", "ผู้ให้บริการ"),
        ("ทำบัตรประชาชนหายต้องทำไง", "civil-registration", "สำนักทะเบียน"),
        ("ช่วยกรอกข้อมูลบ้านหลังนี้ให้หน่อยได้ไหม", "do-it-for-me", "แทนไม่ได้"),
        ("ช่วยเก็บข้อมูลบ้านยายให้หน่อยได้ไหม", "do-it-for-me", "แทนไม่ได้"),
        ("รายได้ครัวเรือนของพ่อผมในระบบเท่าไหร่ครับ", "household-data", "ข้อมูลส่วนบุคคล"),
        ("กชช 2ค ส่งเมื่อไหร่", "other-apps", "ผู้ให้บริการ"),
        ("จดทะเบียนสมรสใช้อะไรบ้าง", "civil-registration", "สำนักทะเบียน"),
    ],
)
def test_other_services_are_declined_with_a_redirect_not_a_guess(faq, question, redirect, where):
    assert faq.matcher.match(question).redirect == redirect
    reply = faq.respond(question)
    assert reply.kind is Kind.UNKNOWN and reply.action == "none"
    assert reply.text.startswith(REDIRECT_INTRO) and where in reply.text
    assert not re.search(r"\d{3}-\d{3}-\d{4}", reply.text)  # never a number we cannot source


@pytest.mark.parametrize(
    "question", ["รายได้ต่ำกว่า 38,000 ต้องตรวจไหม", "ครัวเรือนรายได้น้อยต้องตรวจสอบอะไร"]
)
def test_a_question_about_the_income_check_is_no_request_for_a_households_data(faq, question):
    assert faq.matcher.match(question).redirect is None


def test_a_low_score_is_no_answer_whatever_its_margin(faq):
    result = faq.matcher.match("ขอเพลงเพราะๆ")
    assert result.score < SCORE_FLOOR and result.action == "none"


@pytest.mark.parametrize("question", ["ทำยังไงดีครับ", "ได้ไหมครับ", "ต้องทำอย่างไร", "ใครทำ"])
def test_a_way_of_asking_with_no_subject_is_asked_what_the_trouble_is(faq, question):
    assert faq.matcher.match(question).action == "none"
    assert faq.respond(question).text == ASK_WHAT


def test_a_question_the_faq_cannot_answer_is_told_so_not_asked_again(faq):
    assert faq.respond("ขอสูตรแกงเขียวหวานหน่อย").text == NO_MATCH


def test_the_reply_carries_the_action(faq):
    assert faq.respond("ลืมรหัสผ่านแอป").action == "answer"
    assert faq.respond("แอป").action == "choose"
    assert faq.respond("ราคาทองวันนี้").action == "none"


def test_the_decision_model_learns_and_decides():
    rows = [[x / 10, 0.5] for x in range(11)] * 5
    labels = [int(x[0] > 0.5) for x in rows]
    weights, bias = fit_logistic(rows, labels)
    model = Decider(
        (weights[0], weights[1], 0, 0, 0, 0), bias, answer_at=0.5, choose_at=0.3, choose_margin=0.1
    )
    assert model.decide([0.9, 0.5, 0, 0, 0, 0], has_second=True)[0] == "answer"
    assert model.decide([0.1, 0.5, 0, 0, 0, 0], has_second=True)[0] == "none"
    assert model.decide([0.9, 0.01, 0, 0, 0, 0], has_second=True)[0] == "choose"  # too close


def test_a_long_message_may_score_lower_than_a_short_one_and_still_be_answered():
    """A story's words thin out its score: the floor under an answer is lower from LONG_WORDS
    words on, and only there."""
    sure = Decider((0, 0, 0, 0, 0, 0), 5.0, answer_at=0.5, choose_at=0.3, choose_margin=0.1)
    score = (SCORE_FLOOR + LONG_SCORE_FLOOR) / 2
    words = [math.log1p(n) / 3 for n in (LONG_WORDS - 1, LONG_WORDS, 20)]
    actions = [sure.decide([score, 0.2, score - 0.2, 0, w, 0], has_second=True)[0] for w in words]
    assert actions == ["none", "answer", "answer"]
    below = [LONG_SCORE_FLOOR - 0.01, 0.2, 0.0, 0, words[-1], 0]
    assert sure.decide(below, has_second=True)[0] == "none"


def test_the_shipped_decision_model_matches_its_features(faq):
    assert faq.matcher.decider is not None
    assert len(faq.matcher.decider.weights) == len(FEATURES)


# -- answers right in every path (issue 11) -----------------------------------------------------


def the_letter() -> str:
    return shared_file("seed/000_01f05d258420503c.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "topic", ["forgot-password", "household-not-found", "edit-submitted", "check-admin-area"]
)
def test_routing_goes_to_the_call_desk_not_a_provincial_coordinator_most_provinces_lack(faq, topic):
    text = faq.answer(topic).text
    assert "ผู้ประสานงานจังหวัด" not in text
    assert "091-949-3261" in text and "แจ้งปัญหา" in text


def test_edit_submitted_states_the_letters_14_august_cut_off(faq):
    letter = the_letter()
    assert "ภายในวันที่ ๑๔ สิงหาคม ๒๕๖๓ หากพ้นกำหนดให้ถือว่าไม่มี" in letter
    text = faq.answer("edit-submitted").text
    assert "14 สิงหาคม 2563" in text and "ไม่มีการแก้ไขข้อมูล" in text


def test_covid_moved_only_the_awareness_activities_online(faq):
    text = faq.answer("covid-measures").text
    assert "สร้างการรับรู้" in text and "ออนไลน์" in text
    assert "การประชุมตรวจสอบและรับรองข้อมูลระดับ อปท. ยังคงจัด" in text


def test_no_answer_points_at_an_attachment_a_chat_cannot_send(faq):
    letter = the_letter()
    texts = {t: faq.answer(t).text for t in faq.entries}
    assert [t for t, text in texts.items() if "ที่แนบ" in text] == []
    for topic, form in [
        ("district-progress-reports", "แบบรายงานการติดตามฯ"),
        ("staff-list", "แบบแจ้งรายชื่อผู้รับผิดชอบ"),
    ]:
        assert form in texts[topic] and form in letter


def test_all_regions_answer_is_short_and_names_every_region(faq):
    text = faq.region_coordinator_text("ผู้ประสานงานภาคมีใครบ้าง", None)
    assert len(text) < 450
    assert all(region in text for region in faq.directory.regions)


def test_button_labels_read_as_plain_thai():
    labels = {e.id: e.label for e in load_entries()}
    assert not [label for label in labels.values() if "<" in label or ">" in label]
    assert labels["household-confirmation"] != "ยืนยันข้อมูลกับบ้าน"


# -- how volunteers really type, continued (issue 11, second pass) -------------------------------


def test_english_function_words_yaml_would_read_as_booleans_are_dropped(tokenizer):
    # YAML 1.1 reads a bare `on` as true: the word was never dropped, "true" was.
    assert tokenizer.tokens("any update on my ticket") == tokenizer.tokens("any update my ticket")


def test_english_words_are_read_through_their_endings(tokenizer):
    assert tokenizer.tokens("the app keeps crashing") == tokenizer.tokens("app crash")
    assert "ตรวจสอบ" in tokenizer.tokens("verifies")


def test_thai_typed_without_tone_marks_gets_its_words_back(faq):
    for untoned, topic in [
        ("สงขอมูลไมไดเลย", "upload-failed"),
        ("บานไมมีเลขทีตองเก็บไหม", "household-eligibility"),
    ]:
        result = faq.matcher.match(untoned)
        assert (result.action, result.id) == ("answer", topic), untoned


def test_a_confused_letter_or_tone_mark_is_mended_by_skeleton(faq):
    assert "ศึกษา" in faq.matcher.prepare("ศึกสาของเด็กไม่ตรงกับอายุ")[0]  # ส for ษ
    assert "จังหวัด" in faq.matcher.prepare("ผู้ประสานงานจังหวัต")[0]  # ต for ด


def test_common_phrases_are_not_cut_by_odd_dictionary_words(tokenizer):
    assert tokenizer.tokens("แผนต้องรายงานที่เว็บไหนคะ")[-1] == "ไหน"  # not ไห + นคะ
    assert tokenizer.tokens("หัวหน้าบอกว่าต้องส่ง") == ["ต้อง", "ส่ง"]  # not บอ + กว่า
    assert tokenizer.tokens("ขอบคุณค่าา") == tokenizer.tokens("ขอบคุณ")  # not ขอบ + คุณค่า


def test_narrative_words_of_a_story_say_nothing_about_the_topic(tokenizer):
    story = "เมื่อวานลุงข้างบ้านได้ยินมาว่าถ้าลืมรหัสผ่านต้องทำยังไง"
    assert tokenizer.tokens(story) == tokenizer.tokens("ข้างบ้านมาลืมรหัสผ่านต้องทำยังไง")


@pytest.mark.parametrize(
    ("question", "redirect"),
    [
        ("how do I apply for a student loan", "loans-funds"),  # not "เด็ก loan"
        ("กรอกแบบสอบถามบ้านนี้ให้หน่อย", "do-it-for-me"),  # \S in a term, not \s
        ("Tang Rat app login not working", "other-apps"),  # kept through the keyboard re-read
        ("ขอเบอร์นายอำเภอหน่อย", "personal-data"),
        ("ค่าตอบแทนอาสาได้เมื่อไหร่คะ", "volunteer-pay"),
    ],
)
def test_more_services_we_do_not_serve_are_redirected(faq, question, redirect):
    result = faq.matcher.match(question)
    assert (result.redirect, result.action) == (redirect, "none")


def test_who_pays_the_volunteers_is_still_answered(faq):
    assert faq.matcher.match("ค่าตอบแทนอาสาสมัครใครเป็นคนจ่าย").id == "contractor"


def test_no_redirect_catches_a_question_we_answer():
    """Every phrasing of the knowledge base and every in-scope question of our sets (not the
    blind ones not yet scored) passes the redirects."""
    sets = [path for path in our_sets() if not path.name.startswith(("blind", "holdout"))]
    service_rows = [row for path in sets for row in read_rows(path) if row["id"]]
    matcher = FaqService.load().matcher
    questions = [p for e in load_entries() for p in e.phrasings] + [r["q"] for r in service_rows]
    assert [q for q in questions if matcher.match(q).redirect] == []


def test_matching_is_the_same_under_any_hash_seed():
    """Sets iterate in an order that changes with PYTHONHASHSEED; no score, correction or
    decision may hang on it (training must give the same model every time)."""
    script = (
        "import json, sys\n"
        "from faq.service import FaqService\n"
        "m = FaqService.load().matcher\n"
        "qs = [line.strip() for line in sys.stdin if line.strip()]\n"
        "print(json.dumps([[m.match(q).best, m.match(q).probability, m.features(q)[1]] "
        "for q in qs]))\n"
    )
    rows = read_rows(DATA / "styles_dev.jsonl")[::3] + read_rows(DATA / "styles_dev2.jsonl")[::3]
    stdin = "\n".join(row["q"] for row in rows) + "\nสงขอมูลไมได\nศึกสาเด็ก\n"
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=120,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1]


def test_the_shipped_decision_model_is_what_training_gives():
    """`python -m faq train` must write the decider.json that is shipped (retrain after any
    change to the knowledge base, the lexicons or the matcher)."""
    model, note = train(DATA)
    shipped = json.loads((DATA / "decider.json").read_text(encoding="utf-8"))
    assert [round(w, 5) for w in model.weights] == shipped["weights"]
    assert (round(model.bias, 5), model.answer_at, model.choose_at) == (
        shipped["bias"],
        shipped["answer_at"],
        shipped["choose_at"],
    )
    assert note == shipped["trained_on"]


def test_a_region_after_a_province_keeps_its_place(faq):
    """The place finders count in normalized text: a province's placeholder left a doubled space
    that put the region's placeholder off its word ("พา @ภาค อก")."""
    tokens = faq.matcher.prepare("บ้านอยู่ อ.เมือง ลำปาง ครับ ขอเบอร์ผู้ประสานงานภาคเหนือ")[0]
    assert tokens[-2:] == ["ผู้ประสานงาน", REGION]
    assert PROVINCE in tokens


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("ผู้ประสานงานจังหวัดโทรไม่ติดเลย ขอเบอร์ผู้ประสานงานภาคเหนือหน่อย", "coordinator-region"),
        ("โทรหาผู้ประสานงานภาคเหนือไม่ติดเลย ติดต่อใครได้อีก", "coordinator-central"),
    ],
)
def test_a_region_asked_for_past_an_unreachable_province_is_the_regions(faq, question, topic):
    """The letter sends an unreachable coordinator's volunteers to the central ones; a volunteer
    who could not reach the province and names a region asks for that region's."""
    assert faq.matcher.rank(question, top=1)[0].id == topic


def test_a_storys_feelings_and_family_are_not_its_topic(faq):
    tokens = faq.matcher.prepare("หลานบอกว่าแอปค้าง กลัวข้อมูลหาย")[0]
    assert "หลาน" not in tokens and "กลัว" not in tokens


def test_a_call_that_reported_a_failure_is_no_unreachable_coordinator():
    """ "โทรแจ้งเรื่องล็อกอินไม่ได้" reports a login failure; "โทรหาผู้ประสานงานไม่ได้" is unreachable."""
    assert cues.UNREACHABLE.search("โทรแจ้งเรื่องล็อกอินไม่ได้ไปแล้ว") is None
    assert cues.UNREACHABLE.search("โทรไปบอกว่าเข้าแอปไม่ได้") is None
    assert cues.UNREACHABLE.search("โทรหาผู้ประสานงานไม่ได้เลย") is not None


def test_an_occupation_against_an_age_is_the_occupation_check(faq, kb_matcher, monkeypatch):
    """Only the occupation check is about อาชีพ; without the cue the knowledge base's phrasings
    read the child's age as the child-education check."""
    question = "เด็ก 7 ขวบลงอาชีพทำสวน ถูกไหมครับ"
    assert faq.matcher.rank(question, top=1)[0].id == "check-occupation"
    assert kb_matcher.rank(question, top=1)[0].id == "check-occupation"
    monkeypatch.setattr(cues, "CUE_BOOST", 0.0)
    assert kb_matcher.rank(question, top=1)[0].id == "check-child-education"


# -- learning from our question sets ---------------------------------------------------------


def test_the_matcher_learns_our_question_sets_as_phrasings(faq, kb_matcher):
    """Every set but those held out is indexed: its in-scope questions under their topics, its
    out-of-scope ones under `OUT_OF_SCOPE`."""
    asked = learned()
    assert {a.source for a in asked} == {p.name for p in learned_sets()}
    assert not {a.source for a in asked} & HELD_OUT
    # (a question with no token left to index, an emoji alone, is indexed by no matcher)
    indexed = [a for a in asked if faq.matcher.prepared[a.question][0]]
    learned_owners = faq.matcher.owners[len(kb_matcher.owners) :]
    assert learned_owners == [a.topic or OUT_OF_SCOPE for a in indexed]
    assert OUT_OF_SCOPE in learned_owners and set(learned_owners) - {OUT_OF_SCOPE} <= set(
        faq.entries
    )


def test_a_question_most_like_an_out_of_scope_one_is_declined(faq, kb_matcher):
    """An out-of-scope question of a set, as a phrasing, pulls what resembles it to a decline,
    even where a topic's phrasing would have been good enough."""
    shipped = faq.matcher
    question = "ขอเบอร์ร้านส้มตำแถวอำเภอหน่อยครับ"
    asked = [Asked("ขอเบอร์ร้านส้มตำหน่อย", None, "test.jsonl")]
    with_it = Matcher(
        list(faq.entries.values()),
        shipped.tokenizer,
        shipped.directory,
        decider=shipped.decider,
        asked=asked,
    )
    assert kb_matcher.rank(question, top=1)[0].id == "contact-channels"
    result = with_it.match(question)
    assert result.out_of_scope and result.action == "none"
    assert result.best == "contact-channels"  # the best topic is still told, never the owner


def test_an_out_of_scope_decline_says_we_cannot_answer_not_what_is_the_trouble(faq):
    result = faq.matcher.match("ขอดูดวงความรักหน่อย")
    assert result.out_of_scope and result.redirect is None
    assert faq.respond("ขอดูดวงความรักหน่อย").text == NO_MATCH


def test_a_held_out_set_is_never_learned(tmp_path, monkeypatch):
    """A blind set not scored yet, named in `HELD_OUT`, stays out of every phrasing."""
    for path in DATA.iterdir():
        if path.is_file() and path.suffix != ".jsonl":
            (tmp_path / path.name).write_bytes(path.read_bytes())
    rows = [
        {"q": "แอปส่งข้อมูลไม่ขึ้นเลย", "id": "upload-failed", "style": "chat"},
        {"q": "อยากถามเรื่องอื่นที่ไม่เกี่ยว", "id": None, "style": "far"},
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    (tmp_path / "blindZ.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "ours.jsonl").write_text(lines[0] + "\n", encoding="utf-8")
    monkeypatch.setattr(question_sets, "HELD_OUT", frozenset({"blindZ.jsonl"}))
    service = FaqService.load(tmp_path)
    assert [p.name for p in learned_sets(tmp_path)] == ["ours.jsonl"]
    assert OUT_OF_SCOPE not in service.matcher.owners
    assert service.matcher.owners.count("upload-failed") == 1 + len(
        service.entries["upload-failed"].phrasings
    )


def test_each_set_trains_the_decision_as_a_matcher_that_has_not_learned_it_scores_it(tmp_path):
    """The decision model's examples from a set come from a matcher built without that set, as
    the set would meet the matcher had it been written later."""
    for path in DATA.iterdir():
        if path.is_file() and path.suffix != ".jsonl":
            (tmp_path / path.name).write_bytes(path.read_bytes())
    for name in ("fresh.jsonl", "fresh2.jsonl"):
        (tmp_path / name).write_bytes((DATA / name).read_bytes())
    own = {
        name: {r["q"] for r in read_rows(tmp_path / name)}
        for name in ("fresh.jsonl", "fresh2.jsonl")
    }
    seen = Counter()
    for matcher, question, _ in examples(tmp_path):
        for name, questions in own.items():
            if question in questions and question not in own[_other(name)]:
                seen[name] += 1
                assert question not in matcher.prepared  # not learned by the matcher scoring it
                assert own[_other(name)] <= set(matcher.prepared)  # the other set is
    assert seen == {name: len(questions - own[_other(name)]) for name, questions in own.items()}


def _other(name: str) -> str:
    return "fresh2.jsonl" if name == "fresh.jsonl" else "fresh.jsonl"


def test_sets_written_last_score_near_the_targets_when_left_out(faq):
    """Sets J to Q (the last eight blind sets, the least looked at), each scored by a matcher that
    has not learned it: a guard a little under what was measured (README, FAQ accuracy)."""
    got = defaultdict(Counter)
    for name in [f"blind{letter}.jsonl" for letter in "JKLMNOPQ"]:
        without = faq.matcher.without(name)
        assert not set(r["q"] for r in read_rows(DATA / name)) <= set(without.prepared)
        for row in read_rows(DATA / name):
            result = without.match(row["q"])
            got[row["style"]]["n"] += 1
            right = (
                result.action == "none"
                if row["id"] is None
                else result.action == "answer" and result.id == row["id"]
            )
            got[row["style"]]["right"] += right
    share = {style: c["right"] / c["n"] for style, c in got.items()}
    floors = {
        "short": 0.97,
        "chat": 0.94,
        "story": 0.94,
        "mixed": 0.97,
        "near-miss": 0.92,
        "far": 0.95,
    }
    assert {s: share[s] >= floor for s, floor in floors.items()} == dict.fromkeys(floors, True), (
        share
    )


def test_the_shipped_prepared_phrasings_are_what_preparing_gives_now(faq):
    """`python -m faq train` writes faq/data/prepared.json.gz; a change to the lexicons or to the
    code that prepares makes it stale (then every load prepares afresh, slowly)."""
    stored = prepared.load(DATA)
    assert stored, "faq/data/prepared.json.gz is stale or missing: run python -m faq train"
    fresh = Matcher(
        list(faq.entries.values()), faq.matcher.tokenizer, faq.matcher.directory, asked=learned()
    )
    assert stored == fresh.prepared


def test_a_stale_prepared_file_is_ignored(tmp_path):
    for path in DATA.iterdir():
        if path.is_file():
            (tmp_path / path.name).write_bytes(path.read_bytes())
    assert prepared.load(tmp_path)
    words = tmp_path / "words.txt"
    words.write_text(words.read_text(encoding="utf-8") + "คำใหม่\n", encoding="utf-8")
    assert prepared.load(tmp_path) == {}


def test_cli_eval_scores_a_learned_set_without_it():
    out = run_cli("eval", str(DATA / "fresh2.jsonl"))
    assert "fresh2.jsonl is one of the sets the matcher learns from: left out for this score" in out


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("สวัสดีครับ ผมเป็นข้าราชการบำนาญ เพิ่งมาช่วยเก็บข้อมูล จปฐ. ขอทักทายก่อนครับ", "greeting"),
        ("ครูบำนาญค่ะ ในหมู่บ้านมีบ้านนายก อบต. ต้องตรวจข้อมูลเป็นพิเศษไหมคะ", "check-vip-households"),
    ],
)
def test_a_service_named_in_passing_does_not_decline_a_survey_question(faq, question, topic):
    """A pensioner says who they are (บำนาญ names the salaries redirect): the survey question is
    answered; asked about, the pension is declined with the pointer."""
    result = faq.matcher.match(question)
    assert (result.action, result.id, result.redirect) == ("answer", topic, "salaries")
    about = faq.respond("บำนาญเดือนนี้เข้าวันไหนครับ")
    assert about.action == "none" and about.text.startswith(REDIRECT_INTRO)
