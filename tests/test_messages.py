"""LINE's message limits: UTF-16 lengths, splitting, batches of five."""

from __future__ import annotations

from common.messages import (
    MAX_TEXT_UTF16,
    batches,
    fit_for_line,
    quick_message,
    split_text,
    text,
    utf16_len,
)


def test_utf16_length_counts_emoji_as_two_and_thai_as_one():
    assert utf16_len("กขค") == 3
    assert utf16_len("🙏") == 2


def test_short_text_is_one_part():
    assert split_text("สวัสดี") == ["สวัสดี"]


def test_long_text_is_split_under_the_limit_and_loses_nothing():
    body = "\n".join(f"บรรทัดที่ {i} ข้อมูล จปฐ." for i in range(900))
    parts = split_text(body)
    assert len(parts) > 1
    assert all(utf16_len(p) <= MAX_TEXT_UTF16 for p in parts)
    assert "\n".join(parts) == body  # cut at line breaks, which are dropped at the cut


def test_split_never_cuts_an_emoji_in_half():
    body = "🙏" * 2600  # 5,200 UTF-16 units, no spaces to cut at
    parts = split_text(body)
    assert [utf16_len(p) for p in parts] == [5000, 200]
    assert "".join(parts) == body


def test_quick_reply_stays_on_the_last_part_only():
    message = text("ก" * 12000, [quick_message("แจ้งปัญหา")])
    fitted = fit_for_line([message])
    assert len(fitted) == 3
    assert ["quickReply" in m for m in fitted] == [False, False, True]


def test_quick_reply_labels_are_cut_to_lines_20_characters():
    item = quick_message("ข้อความที่ยาวมากเกินกว่ายี่สิบตัวอักษรแน่นอน", "x")
    assert len(item["action"]["label"]) == 20


def test_batches_of_at_most_five():
    messages = [text(str(i)) for i in range(12)]
    assert [len(b) for b in batches(messages)] == [5, 5, 2]
