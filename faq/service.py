"""What the bot says to a question: an answer, a choice between two topics, or an honest
"I don't know". Plain data out; the LINE handler turns it into messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from faq import prepared
from faq.decision import Decider, load_redirects
from faq.directory import Directory, Region
from faq.kb import Entry, Link, load_entries
from faq.matcher import Matcher, MatchResult
from faq.normalize import DATA, Tokenizer
from faq.question_sets import learned

CALL_DESK = "โทร 091-949-3261 หรือ 091-949-3262 (ตลอด 24 ชั่วโมง)"

GREETING = (
    "สวัสดีครับ ยินดีต้อนรับสู่ Call Desk จปฐ. Smart BMN (@smartbmn) 🙏\n"
    "ผมเป็นผู้ช่วยอัตโนมัติสำหรับอาสาสมัครและเจ้าหน้าที่ที่จัดเก็บข้อมูล จปฐ. ด้วยแอป Smart Survey\n\n"
    "ผมช่วยได้ดังนี้\n"
    "• ตอบคำถามการใช้งาน Smart Survey / Smart Data และแนวทางการจัดเก็บข้อมูล จปฐ.\n"
    "• รับแจ้งปัญหา และส่งต่อให้ผู้ประสานงานจังหวัด ภาค หรือส่วนกลาง\n"
    "• แจ้งข่าวสารและกำหนดส่งงานสำคัญ\n\n"
    'พิมพ์คำถามได้เลยครับ เช่น "ลืมรหัสผ่าน" หรือ "ส่งข้อมูลไม่ได้"'
)
NO_MATCH = (
    "ขออภัยครับ ผมยังไม่มีคำตอบที่ตรงกับคำถามนี้ 🙏\n"
    'ได้บันทึกคำถามไว้ให้เจ้าหน้าที่ตรวจสอบแล้ว หากต้องการให้เจ้าหน้าที่ช่วย กด "แจ้งปัญหา" '
    f"หรือติดต่อ Call Desk {CALL_DESK}"
)
# A message with nothing to go on ("ทำยังไงดีครับ", "😭", only a number or a place): ask what the
# trouble is rather than say the question was not understood.
ASK_WHAT = (
    "ช่วยเล่าเพิ่มอีกนิดครับว่าติดปัญหาเรื่องอะไร 🙏\n"
    'เช่น "ส่งข้อมูลไม่ได้" "ลืมรหัสผ่าน" หรือ "หาครัวเรือนในแอปไม่เจอ" ผมจะหาคำตอบให้ครับ'
)
REDIRECT_INTRO = (
    "ช่องทางนี้ให้บริการเรื่องการจัดเก็บข้อมูล จปฐ. ปี 2563 และแอป Smart Survey ครับ ผมจึงตอบเรื่องนี้ไม่ได้"
)
CHOOSE = "ขอโทษครับ ผมไม่แน่ใจว่าหมายถึงเรื่องไหน กรุณาเลือกหัวข้อที่ตรงที่สุดครับ"
WRONG_ANSWER = "ขออภัยที่ตอบไม่ตรงคำถามครับ 🙏 ได้บันทึกไว้ให้เจ้าหน้าที่ปรับปรุงแล้ว"
ASK_PROVINCE = 'ต้องการทราบผู้ประสานงานของจังหวัดไหนครับ? พิมพ์ชื่อจังหวัดมาได้เลย เช่น "ผู้ประสานงานจังหวัดสงขลา"'

# Offered under every answer: a way out when the answer missed.
NOT_THIS = ("ไม่ตรงคำถาม", "ไม่ตรงคำถาม")
TALK_TO_STAFF = ("คุยกับเจ้าหน้าที่", "แจ้งปัญหา")


class Kind(StrEnum):
    ANSWER = "answer"
    CHOOSE = "choose"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reply:
    kind: Kind
    text: str
    topic: str | None = None
    score: float = 0.0
    runner_up: str | None = None
    runner_up_score: float = 0.0
    # (label, text the button sends): tapping one is the same as typing its text.
    follow_ups: tuple[tuple[str, str], ...] = ()
    # (topic id, label, question) for CHOOSE: the handler makes them postbacks.
    choices: tuple[tuple[str, str, str], ...] = ()
    links: tuple[Link, ...] = field(default=())

    @property
    def action(self) -> str:
        """The `python -m faq match` word for what this reply does: answer | choose | none."""
        return {Kind.ANSWER: "answer", Kind.CHOOSE: "choose"}.get(self.kind, "none")


def _people(title: str, people: list[str]) -> str:
    return title + "\n" + "\n".join(f"• {p}" for p in people)


class FaqService:
    def __init__(self, entries: list[Entry], matcher: Matcher, directory: Directory) -> None:
        self.entries = {e.id: e for e in entries}
        self.labels = {e.id: e.label for e in entries}
        self.matcher = matcher
        self.directory = directory

    @classmethod
    def load(cls, data_dir: Path = DATA) -> FaqService:
        entries = load_entries(data_dir / "kb.yaml")
        directory = Directory(data_dir / "directory.yaml")
        matcher = Matcher(
            entries,
            Tokenizer(data_dir),
            directory,
            decider=Decider.load(data_dir / "decider.json"),
            redirects=load_redirects(data_dir / "redirects.yaml"),
            asked=learned(data_dir),
            prepared=prepared.load(data_dir),
        )
        return cls(entries, matcher, directory)

    # -- the one entry point -----------------------------------------------------------------

    def respond(self, question: str, registered_province: str | None = None) -> Reply:
        result = self.matcher.match(question)
        if result.ambiguous:
            return self._choose(result)
        if result.id is None:
            return Reply(
                Kind.UNKNOWN,
                self._redirect_text(result.redirect)
                or (ASK_WHAT if result.best is None and not result.out_of_scope else NO_MATCH),
                score=result.score,
                runner_up=result.best,
                runner_up_score=result.score,
                follow_ups=(TALK_TO_STAFF, ("ช่องทางติดต่อ", "ช่องทางติดต่อ Call Desk")),
            )
        return replace(
            self.answer(result.id, question, registered_province),
            score=result.score,
            runner_up=result.runner_up,
            runner_up_score=result.runner_up_score,
        )

    def _redirect_text(self, redirect_id: str | None) -> str | None:
        """A question about another service: what this line serves, and where to turn."""
        redirect = next((r for r in self.matcher.redirects if r.id == redirect_id), None)
        return f"{REDIRECT_INTRO}\n{redirect.text}" if redirect else None

    def answer(
        self, topic: str, question: str = "", registered_province: str | None = None
    ) -> Reply:
        """The answer of one topic (also used when the user picks a topic from a choice)."""
        entry = self.entries[topic]
        text = self._dynamic_text(entry, question, registered_province) or entry.answer
        related = tuple((self.entries[r].label, self.entries[r].question) for r in entry.related)
        follow_ups = (
            related if entry.category == "conversation" else (*related, NOT_THIS, TALK_TO_STAFF)
        )
        return Reply(Kind.ANSWER, text, topic, 1.0, follow_ups=follow_ups, links=entry.links)

    def _choose(self, result: MatchResult) -> Reply:
        choices = tuple(
            (i, self.entries[i].label, self.entries[i].question) for i in result.choices
        )
        return Reply(
            Kind.CHOOSE,
            CHOOSE,
            result.best,
            result.score,
            result.runner_up,
            result.runner_up_score,
            follow_ups=(TALK_TO_STAFF,),
            choices=choices,
        )

    # -- answers built from the directory ---------------------------------------------------

    def _dynamic_text(self, entry: Entry, question: str, registered: str | None) -> str | None:
        if entry.dynamic == "greeting":
            return GREETING
        if entry.dynamic == "coordinator-province":
            return self.province_coordinator_text(question, registered)
        if entry.dynamic == "coordinator-region":
            return self.region_coordinator_text(question, registered)
        if entry.dynamic == "coordinator-central":
            return self.central_text()
        return None

    def central_text(self) -> str:
        return _people(
            "กรณีติดต่อผู้ประสานงานระดับจังหวัดหรือระดับภาคไม่ได้ ให้ติดต่อผู้ประสานงานส่วนกลาง "
            "(รับผิดชอบภาพรวม 76 จังหวัด)",
            [c.line() for c in self.directory.central],
        )

    def _region_block(self, region: Region) -> str:
        return _people(f"ผู้ประสานงาน{region.name}", [c.line() for c in region.coordinators])

    def province_coordinator_text(self, question: str, registered: str | None) -> str:
        found = self.directory.find_province(question)
        province = found.name if found else registered
        if province is None or province not in self.directory.region_of:
            return ASK_PROVINCE
        region = self.directory.region_for(province)
        person = self.directory.provincial.get(province)
        if person is None:
            return (
                f"ยังไม่มีรายชื่อผู้ประสานงานระดับจังหวัดของจังหวัด{province}ในข้อมูลของเรา "
                f"จึงขอแนะนำผู้ประสานงาน{region.name}แทนครับ\n" + self._region_block(region)
            )
        return (
            f"ผู้ประสานงานจังหวัด{province}: {person.line()}\n"
            f'หากติดต่อไม่ได้ ติดต่อผู้ประสานงาน{region.name} หรือพิมพ์ "ผู้ประสานงานส่วนกลาง"'
        )

    def region_coordinator_text(self, question: str, registered: str | None) -> str:
        found = self.directory.find_region(question)
        if found is None:
            province = self.directory.find_province(question)
            name = province.name if province else registered
            region = self.directory.region_for(name) if name in self.directory.region_of else None
        else:
            region = self.directory.regions[found.name]
        if region is None:
            return self.all_regions_text()
        return self._region_block(region)

    def all_regions_text(self) -> str:
        """No region or province known: one contact per region, and how to get the full list
        (all 12 names at once made a 620-character answer nobody reads)."""
        lines = [
            f"• {r.name}: {r.coordinators[0].line()}"
            for r in self.directory.regions.values()
            if r.coordinators
        ]
        return (
            "ผู้ประสานงานระดับภาค (ภาคละหนึ่งท่าน)\n"
            + "\n".join(lines)
            + '\nพิมพ์ชื่อภาคหรือจังหวัด เช่น "ผู้ประสานงานภาคใต้" เพื่อดูรายชื่อทั้งหมดของภาคนั้นครับ'
        )
