"""Jinja filters: Buddhist-Era dates and Bangkok times, Thai labels."""

from __future__ import annotations

from flask import Flask

from common.thaidate import thai_datetime
from ticketing.calls import format_phone
from ticketing.models import format_number
from ticketing.service import LEVEL_WORDS

STATE_WORDS = {
    "new": "รอรับเรื่อง",
    "claimed": "กำลังดำเนินการ",
    "waiting": "รออาสาสมัครตอบ",
    "resolved": "แก้ไขแล้ว",
    "closed": "ปิดแล้ว",
}
CHANNEL_WORDS = {"line": "LINE", "phone": "โทรศัพท์"}
ROLE_WORDS = {"coordinator": "ผู้ประสานงาน", "operator": "เจ้าหน้าที่ Call Desk", "admin": "ผู้ดูแลระบบ"}


def install_filters(app: Flask) -> None:
    app.add_template_filter(thai_datetime, "thai_datetime")
    app.add_template_filter(lambda s: STATE_WORDS.get(s, s), "state_word")
    app.add_template_filter(lambda s: LEVEL_WORDS.get(s, s), "level_word")
    app.add_template_filter(lambda s: CHANNEL_WORDS.get(s, s), "channel_word")
    app.add_template_filter(lambda s: ROLE_WORDS.get(s, s), "role_word")
    app.add_template_filter(format_phone, "phone")  # 081-234-5678
    app.add_template_filter(format_number, "ticket_number")  # BMN-000123
