"""Thai text as volunteers type it → comparable tokens.

`normalize()` fixes the surface (Unicode form, invisible characters, Thai digits, repeated
letters, punctuation); `Tokenizer` cuts the result into words with pythainlp's newmm and a
domain dictionary, drops particles, and maps synonyms to one canonical token.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path

from pythainlp.corpus import thai_words
from pythainlp.tokenize import word_tokenize

from faq.dictionary import WordDictionary
from faq.yamlfile import read_yaml

DATA = Path(__file__).resolve().parent / "data"

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f"))

# Ways of asking ("รบกวนสอบถามหน่อยค่ะ ... คือ ...") that chatty questions wrap around the
# topic: dropped like particles, so they neither dilute a match nor make one.
FILLERS = frozenset(
    {"รบกวน", "สอบถาม", "อยากทราบ", "อยาก", "ทราบ", "ไม่ทราบ", "ขอถาม", "ถาม", "หน่อย", "ด้วย"}
    | {"คือ", "ว่า", "แบบนี้", "เอ่อ", "บอก", "ช่วงนี้", "ตอนนี้", "ดี"}  # ดี: "ทำยังไงดีครับ"
    | {"ผม", "กระผม", "ดิฉัน", "ฉัน", "หนู"}  # who asks says nothing about what
    # The telling around a question in a story: when, who else, how sure (issue 11)
    | {"เมื่อวาน", "วันนี้", "เมื่อเช้า", "ก็", "เห็น", "ได้ยิน", "ลอง", "อีก", "ถ้า", "แน่ใจ"}
    | {"มัน", "นึง", "กำลัง", "กำลังจะ", "ปกติ", "ป่าว", "เปล่า", "เอา", "พอ", "พอดี", "แล้วก็"}
    | {"ซึ่ง", "โดย", "เพื่อ", "กรณี", "ทั้งที่", "ตั้งแต่", "น่าจะ", "คง", "คงจะ", "อยากรู้"}
    | {"อยากได้", "สงสัย", "พี่", "น้อง", "ลุง", "ป้า", "แม่", "พ่อ", "ลูก", "เพื่อน", "หัวหน้า"}
    | {"ท่าน", "คุณ", "เขา", "เค้า", "จริงๆ", "เคย", "ทั้งวัน"}
    # A story's feelings, family and days (sets D and E, fourth pass): no topic's phrasing has
    # them, so left in they only thinned the words that name the topic.
    | {"กลัว", "กังวล", "เป็นห่วง", "ห่วง", "เกรง", "บ่น", "รู้สึก", "ตกใจ", "คิด", "สักพัก"}
    | {"หลาน", "ลูกหลาน", "ลูกสาว", "ลูกชาย", "ลูกบ้าน", "เมื่อคืน"}  # not แฟน: small talk's
    | {"มอบหมาย", "รับมอบหมาย", "ปิดเทอม", "จันทร์", "อังคาร", "พุธ", "พฤหัส", "ศุกร์", "เสาร์"}
    # A letter's courtesies, who tells and where (sets F and G, fifth pass): "เรียนเจ้าหน้าที่ที่
    # เคารพ … ขอความกรุณา … ขอบพระคุณล่วงหน้า" is no thanks; a teacher, a neighbour, a beginner or
    # อำเภอเมือง name no topic (นักการเมือง stays one word).
    | {"เคารพ", "ที่เคารพ", "กรุณา", "ขอความกรุณา", "ล่วงหน้า", "ขอบคุณล่วงหน้า"}
    | {"ขอบพระคุณล่วงหน้า", "ครู", "ข้างบ้าน", "มือใหม่", "เมือง", "ทุกครั้ง", "ทุกครั้งที่"}
    # Who tells and when in Isan, Northern and Southern Thai (sets H and I, sixth pass): ข้อย,
    # ข้าเจ้า, เปิ้น, ฉาน are ผม/ดิฉัน; มื้อนี้, มื้อวาน, มื้ออื่น are today, yesterday, tomorrow;
    # สิ (will) and อ (อ. before a district's name, its dot gone) name no topic either.
    | {"ข้อย", "ข้าน้อย", "ข้าเจ้า", "เปิ้น", "ฉาน", "สิ", "มื้อนี้", "มื้อวาน", "มื้ออื่น", "อ"}
    # The telling's other words, in stories of every set and in no topic's phrasing: one of
    # them (หลังหนึ่ง, คนหนึ่ง), came across, some of them, as said, in fact, about, at last;
    # the teller retired, a district's development officer, a group's head, parents.
    | {"หนึ่ง", "บางคน", "ตามที่", "ที่จริง", "สักที"}
    | {"เกษียณ", "พัฒนาการ", "หัวหน้ากลุ่ม", "พ่อแม่"}
)

# Sentence-final particles and politeness words: they say nothing about the topic.
PARTICLES = frozenset(
    {
        "ครับ",
        "คับ",
        "ค้าบ",
        "คร้าบ",
        "ครัช",
        "ครับผม",
        "ค่ะ",
        "คะ",
        "ค่า",
        "คร่ะ",
        "ค๊ะ",
        "จ้า",
        "จ้ะ",
        "จ๊ะ",
        "จ๊า",
        "นะ",
        "น่ะ",
        "นะคะ",
        "นะครับ",
        "อะ",
        "อ่ะ",
        "ฮะ",
        "เนอะ",
        "น้า",
        "ละ",
        "ล่ะ",
        "หน่อย",
        "ด้วย",
        "ฮับ",
        "งับ",
        "คัฟ",
        "ป่ะ",
        "ปะ",
        "มั้ย",
        "ไหม",
        "มั๊ย",
        "หรอ",
        "เหรอ",
        "ๆ",
        "ฯ",
        "ค้า",
        "คร่า",
        "ฮ่ะ",
        "เด้อ",
        "เน้อ",
        "จ๋า",
        "ค่าบ",
        # Isan, Northern and Southern particles (sixth pass): ก่อ and หม้าย ask like ไหม,
        # เจ้า is the Northern ค่ะ/ครับ
        "ก่อ",
        "หม้าย",
        "เจ้า",
        "เนาะ",
        "น้อ",
        "แหละ",
        "หนิ",
        "เด้",
    }
)

# มากกกก → มาก; digits are never folded (1000000). Three of a letter inside a word are left
# alone: a word ending in a double letter meets one starting with it ("ระบบ" + "บันทึก").
_REPEATS = re.compile(
    r"([^\d\s])\1{3,}|([^\d\s])\2{2}(?![\u0e00-\u0e7f])|([\u0e30\u0e32\u0e46])\3+"
)  # and a doubled sara a, sara aa or mai yamok, which no Thai word has ("ค่าา", "คะะ")
_DOTS_IN_ABBREVIATIONS = re.compile(
    r"(?<!\d)\.|\.(?!\d)"
)  # จปฐ. รพ.สต. lose their dots; 12.5 keeps
# "จ.หนองคาย": จ. is จังหวัด before a name (not the last letter of ใจ, กิจ: no vowel before it).
_PROVINCE_ABBREVIATION = re.compile(
    r"(?<![\u0e31\u0e34-\u0e39\u0e40-\u0e44\u0e47])จ\.\s?(?=[\u0e01-\u0e2e])"
)
# "ต.คลองน้อย": ต. before a name, after a space or at the start, is ตำบล (left alone, it lost its
# dot and read "ตค", October). Not "ต.ค." itself, nor the ต. of "รพ.สต." (a letter before it).
_TAMBON_ABBREVIATION = re.compile(
    r"(?<![\u0e00-\u0e7f])ต\.\s?(?=[\u0e01-\u0e2e])(?!ค\.?(?:[\s\d]|$))"
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")  # 38,000 → 38000
_SPACES = re.compile(r"\s+")
# "ดีจ้า", "ดีคับ มีคนอยู่ไหม": chat's "hi" is สวัสดี cut short. Only at the start of a message and
# with at most a particle after it, so "ทำยังไงดีครับ" and "ดีมากครับ" stay what they are.
_CHAT_HELLO = re.compile(
    r"^(?:หวัด)?ดี(?=\s?(?:(?:จ้า|จ้ะ|จ๊ะ|จ๊า|ค่ะ|คะ|ค่า|ค้า|ครับ|คับ|ค้าบ|คร้าบ|ค่าบ|งับ|ฮะ|ฮับ|คัฟ)\S?)?(?:\s|$))"
)
_LATIN = re.compile(r"[a-z]")
_LATIN_WORD = re.compile(r"(?<![a-z0-9])[a-z]{4,}(?![a-z0-9])")
# English endings tried, in turn, on a word the lexicon does not have: (ending, what replaces it).
_ENGLISH_SUFFIXES = (
    ("ies", "y"),
    ("ied", "y"),
    ("ing", ""),
    ("ing", "e"),
    ("ed", ""),
    ("ed", "e"),
    ("es", ""),
    ("s", ""),
    ("ly", ""),
    ("er", ""),
    ("ers", ""),
    ("ment", ""),
    ("ation", "e"),
    ("ation", ""),
)


class _CharacterMap(dict[int, int | str | None]):
    """A `str.translate` table that works each character out once, when first met: one C-level
    pass instead of a Python call per character. Bounded, so odd input cannot grow it forever;
    ASCII, Thai and general punctuation are worked out ahead, so they always have a place."""

    def __init__(self, rule: Callable[[str], int | str | None], limit: int = 4096) -> None:
        super().__init__()
        self._rule = rule
        self._limit = limit
        for block in (range(0x80), range(0x0E00, 0x0E80), range(0x2000, 0x2070)):
            self.update((code, rule(chr(code))) for code in block)

    def __missing__(self, code: int) -> int | str | None:
        value = self._rule(chr(code))
        if len(self) < self._limit:
            self[code] = value
        return value


def _surface(ch: str) -> int | str | None:
    """Invisible characters dropped, other control and format characters (C*) → space, Thai
    digits → Arabic; anything else kept."""
    if ord(ch) in INVISIBLE:
        return None
    if unicodedata.category(ch)[0] == "C":
        return " "
    return ord(ch.translate(THAI_DIGITS))


def _symbol_to_space(ch: str) -> int | str:
    """Punctuation and symbols (Unicode P* and S*) → space; Thai vowel and tone marks are
    combining marks (M*) and stay."""
    return " " if unicodedata.category(ch)[0] in "PS" else ord(ch)


_SURFACE = _CharacterMap(_surface)
_SYMBOLS = _CharacterMap(_symbol_to_space)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_SURFACE).lower()
    # Common Thai typing slips: เ+เ for แ, nikhahit + sara aa for sara am.
    text = text.replace("เเ", "แ").replace("\u0e4d\u0e32", "\u0e33")
    text = _REPEATS.sub(lambda m: m.group(1) or m.group(2) or m.group(3), text)
    text = _THOUSANDS.sub("", text)
    text = _PROVINCE_ABBREVIATION.sub("จังหวัด", text)
    text = _TAMBON_ABBREVIATION.sub("ตำบล", text)
    text = _DOTS_IN_ABBREVIATIONS.sub("", text)
    text = text.translate(_SYMBOLS)
    return _SPACES.sub(" ", text).strip()


def _load_english(path: Path) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """English words → the Thai words of the knowledge base, as one regex over whole words."""
    if not path.exists():
        return None, {}
    data = read_yaml(path) or {}
    thai_for: dict[str, str] = {}
    for thai, forms in data.items():
        for form in forms:
            thai_for[normalize(str(form))] = "" if thai == "_drop" else str(thai)
    # Longest first, so "head of household" wins over "head"; Latin letters must not touch.
    alternatives = "|".join(re.escape(f) for f in sorted(thai_for, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])"), thai_for


def _load_synonyms(path: Path) -> dict[str, str]:
    data = read_yaml(path) or {}
    mapping: dict[str, str] = {}
    for canonical, forms in data.items():
        for form in [canonical, *forms]:
            mapping[normalize(str(form))] = str(canonical)
    return mapping


class Tokenizer:
    """newmm with the domain dictionary; thread-safe (no state changes after construction)."""

    def __init__(self, data_dir: Path = DATA, extra_words: Iterable[str] = ()) -> None:
        self.synonyms = _load_synonyms(data_dir / "synonyms.yaml")
        lines = (data_dir / "words.txt").read_text(encoding="utf-8").splitlines()
        entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        words = {e for e in entries if not e.startswith("-")}
        # "-word": a dictionary word that cuts our questions wrongly ("ที่แจ้ง", the open air,
        # swallows "เรื่องที่แจ้ง" → เรื่อง ที่แจ้ง instead of เรื่อง ที่ แจ้ง).
        self._not_words = {e[1:] for e in entries if e.startswith("-")}
        # Multi-word synonyms are joined before cutting so they survive as one token.
        self._phrases = sorted(
            ((form, canonical) for form, canonical in self.synonyms.items() if " " in form),
            key=lambda item: -len(item[0]),
        )
        self._extra = set(extra_words) | words | {s for s in self.synonyms if " " not in s}
        self._english, self._thai_for = _load_english(data_dir / "english.yaml")

    @cached_property
    def dictionary(self) -> WordDictionary:
        return WordDictionary((set(thai_words()) | self._extra) - self._not_words)

    def translate(self, text: str) -> str:
        """Multi-word synonyms joined into one word; English words replaced by the knowledge
        base's Thai ones. `text` is normalized; the result is too (and translating it again
        changes nothing)."""
        text = _CHAT_HELLO.sub("สวัสดี ", text)
        for form, canonical in self._phrases:
            if form in text:
                text = text.replace(form, f" {canonical} ")
        if self._english is not None and _LATIN.search(text):
            text = self._english.sub(lambda m: f" {self._thai_for[m.group(0)]} ", text)
            if _LATIN.search(text):
                text = _LATIN_WORD.sub(self._stemmed, text)
        return _SPACES.sub(" ", text).strip()

    def _stemmed(self, match: re.Match[str]) -> str:
        """An English word the lexicon lacks, read as a form of one it has ("crashing" as
        "crash", "verifies" as "verify"); left as it is when no form is known."""
        word = match.group(0)
        for suffix, replacement in _ENGLISH_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                thai = self._thai_for.get(word[: len(word) - len(suffix)] + replacement)
                if thai is not None:
                    return f" {thai} "
        return word

    def tokens(self, text: str, normalized: bool = False, translated: bool = False) -> list[str]:
        """`normalized`: `text` is `normalize`d already; `translated`: and `translate`d too."""
        if not translated:
            text = self.translate(text if normalized else normalize(text))
        out: list[str] = []
        for token in word_tokenize(
            text, custom_dict=self.dictionary, engine="newmm", keep_whitespace=False
        ):
            token = token.strip()
            if not token or token in PARTICLES or token in FILLERS:
                continue
            # การ/ความ + verb is the same idea as the verb ("การอบรม" ~ "อบรม").
            if len(token) > 5 and token.startswith(("การ", "ความ")) and token not in self.synonyms:
                token = token[3:] if token.startswith("การ") else token[4:]
            out.append(self.synonyms.get(token, token))
        return out
