"""Word patterns that settle what the ranking's near topics cannot: which of two close topics a
question means, where the letter's meaning is clear (issue 11), and the letter's rule that a
coordinator who cannot be reached sends the volunteer to the central coordinators.

`lift_near_topics` adds to the scores of the ranking's candidates (topic → score) in place, before
the word model's share and the final order (`Matcher._rank`). The patterns read the question's
prepared text: normalized, English read as Thai, a province or region replaced by its marker.
"""

from __future__ import annotations

import re

# The letter's rule: a coordinator who cannot be reached → the central coordinators. Not a call
# that reported something failing ("โทรแจ้งเรื่องล็อกอินไม่ได้", "โทรไปบอกว่าเข้าแอปไม่ได้"): the
# words between the call and its ไม่ได้ hold no แจ้ง, เรื่อง or ว่า.
UNREACHABLE = re.compile(
    r"(ติดต่อ|โทร|เรียก)(?:(?!แจ้ง|เรื่อง|ว่า)[^ ])*\s?(?:(?!แจ้ง|เรื่อง|ว่า)[^ ])*ไม่(ได้|ติด|เจอ)"
    r"|ไม่(รับ|มีคนรับ)(สาย|โทรศัพท์)?|ไม่ติด"
)
UNREACHABLE_BOOST = 0.1
# Word patterns that settle which of two near topics a question means, where the letter's
# meaning is clear (issue 11): (pattern over the question's text, the topic it means, the near
# topics it is taken for). Used only when one of those near topics is ranked first and the meant
# topic is among the candidates; it is then lifted by CUE_BOOST.
CUES: tuple[tuple[re.Pattern[str], str, frozenset[str]], ...] = (
    # A report made earlier and no word back: where it stands, not a new report.
    (
        re.compile(
            r"(?<!ขอ)(?<!ขอ )(?<!อยาก)(?<!อยาก )(?<!จะ)(?<!จะ )(?<!ต้อง)(?<!ต้อง )(?<!ต้องการ)"
            r"แจ้ง\S{0,10}?\s?(?:ไป(?!ที่|ทาง|หา|ยัง|ได้|ไหน)|ไว้)"
            r"|ยังไม่\s?(?:มี)?\s?(?:ใคร|คน|เจ้าหน้าที่)?\s?(?:ตอบ|ติดต่อกลับ|โทรกลับ|ติดต่อมา)"
        ),
        "ticket-status",
        frozenset({"open-ticket", "coordinator-central"}),
    ),
    # Asking to report (or how to): a new report.
    (
        re.compile(
            r"(?:ขอ|อยาก|ต้องการ)\s?(?:แจ้ง|ส่งเรื่อง)"
            r"|แจ้ง\S{0,10}?\s?(?:อย่างไร|ยังไง|ได้ที่ไหน|ที่ไหน|ทางไหน|ได้ไหม)"
        ),
        "open-ticket",
        frozenset({"ticket-status"}),
    ),
    # Correcting what a meeting found wrong, or who corrects: the meeting's resolution to correct.
    (
        re.compile(r"แก้.{0,30}?(?:ประชุม|มติ)|(?:ประชุม|มติ).{0,30}?แก้|ใคร\s?(?:เป็นคน|เป็นผู้)?\s?แก้"),
        "data-correction",
        frozenset({"edit-submitted", "certification-local", "check-vip-households"}),
    ),
    # The province's certification, its appeal, its 14 August cut-off.
    (
        re.compile(
            r"อุทธรณ์|จังหวัด\S{0,6}\s?รับรอง|รับรอง\S{0,12}จังหวัด|พ้นกำหนด"
            r"|(?:14|สิบสี่)\s?(?:สิงหา|สค)"
        ),
        "certification-province",
        frozenset({"edit-submitted", "data-correction", "certification-local"}),
    ),
    # Editing after pressing send: what was sent, not a failed send.
    (re.compile(r"แก้\S{0,12}\s?หลัง\s?\S{0,4}ส่ง"), "edit-submitted", frozenset({"upload-failed"})),
    # An occupation recorded against an age or an income: the occupation check, the only one
    # about อาชีพ (not a programme's "พัฒนาอาชีพ").
    (
        re.compile(r"(?<!พัฒนา)อาชีพ"),
        "check-occupation",
        frozenset({"check-elderly", "check-child-education", "check-income", "check-young-head"}),
    ),
    # A region named, or the region level asked for: the region's coordinators.
    (
        re.compile(r"xregionx|(?:ระดับ|ทั้ง|ประจำ|ดูแล|ประสาน|ประสานงาน|ผปส)\s?ภาค"),
        "coordinator-region",
        frozenset({"coordinator-province", "coordinator-central", "staff-list"}),
    ),
)
CUE_BOOST = 0.15


def lift_near_topics(best: dict[str, float], text: str) -> None:
    """Lift the central coordinators for "could not reach the coordinator", and each cue's topic
    when one of its near topics (or the topic itself) is ranked first."""
    # The province unreachable and a region named ("จังหวัดโทรไม่ติด ภาคใต้ติดต่อใคร"): the
    # volunteer asks for that region's coordinators, a step the letter's list allows; the
    # central ones stay for a region itself unreachable or no region asked for.
    unreached = list(UNREACHABLE.finditer(text))
    unreachable = bool(unreached) and not _region_asked_past_province(text, unreached)
    if "coordinator-central" in best and unreachable:
        best["coordinator-central"] += UNREACHABLE_BOOST
    if not best:
        return
    first = max(best, key=best.__getitem__)
    central_meant = unreachable or "ส่วนกลาง" in text
    for pattern, meant, near in CUES:
        # The meant topic first already: lifted too, or the word model may yet put a near one
        # over it.
        if not (first in near or (first == meant and not near.isdisjoint(best))):
            continue
        if meant not in best or not pattern.search(text):
            continue
        if meant == "coordinator-region" and central_meant:
            continue  # unreachable → central (the letter's rule), or central asked for
        if first == "coordinator-central" and central_meant:
            continue  # a report unanswered is where it stands, unless no one answers
        best[meant] += CUE_BOOST


def _region_asked_past_province(text: str, unreached: list[re.Match[str]]) -> bool:
    """A region named, and every "could not reach" in the message (`unreached`, found once by
    the caller) about the province: the level named last before it (within a few words) is
    จังหวัด, not ภาค or a region."""
    if "xregionx" not in text or not unreached:
        return False
    for match in unreached:
        window = text[max(0, match.start() - 30) : match.end()]
        province = window.rfind("จังหวัด")
        region = max(window.rfind("xregionx"), window.rfind("ภาค"))
        if province <= region:
            return False
    return True
