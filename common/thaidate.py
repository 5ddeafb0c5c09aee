"""Dates as Thai users read them: Buddhist Era, Asia/Bangkok, Thai month abbreviations."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
BE_OFFSET = 543
MONTHS = (
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
)


def thai_datetime(moment: datetime) -> str:
    """ "24 พ.ย. 2569 22:15" for 2026-11-24 15:15 UTC."""
    local = moment.astimezone(BANGKOK)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year + BE_OFFSET} {local:%H:%M}"


def thai_duration(seconds: float) -> str:
    """ "30 นาที", "1 ชั่วโมง 30 นาที", "3 วัน"; under a minute in seconds (never "0 นาที")."""
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} วินาที"
    minutes = round(seconds / 60)
    days, rest_of_day = divmod(minutes, 24 * 60)
    if days and not rest_of_day:
        return f"{days} วัน"
    if minutes < 60:
        return f"{minutes} นาที"
    hours, rest = divmod(minutes, 60)
    return f"{hours} ชั่วโมง" + (f" {rest} นาที" if rest else "")


FULL_MONTHS = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)  # fmt: skip
_MONTH_NUMBER = {
    **{name: n for n, name in enumerate(FULL_MONTHS, 1)},
    **{abbr: n for n, abbr in enumerate(MONTHS, 1)},
    **{abbr.replace(".", ""): n for n, abbr in enumerate(MONTHS, 1)},
}
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_WRITTEN = re.compile(
    r"^\s*(\d{1,2})\s*([^\d\s]+?)\s*(\d{4})(?:\s+(?:เวลา\s*)?(\d{1,2})[:.](\d{2})\s*(?:น\.?)?)?\s*$"
)


class ThaiDateError(ValueError):
    """The text is not a date as staff write it; the message says what is expected."""


def parse_thai_datetime(text: str) -> datetime:
    """ "5 ส.ค. 2563 09:00" (Buddhist Era, Bangkok time) → an aware UTC datetime.

    Also "5 สิงหาคม 2563 เวลา 09.00 น.", Thai digits, and no time (09:00 then, office hours).
    """
    match = _WRITTEN.match(text.translate(_THAI_DIGITS))
    if not match:
        raise ThaiDateError(f'not a date like "5 ส.ค. 2563 09:00": {text!r}')
    day, month_name, year, hour, minute = match.groups()
    month = _MONTH_NUMBER.get(month_name) or _MONTH_NUMBER.get(month_name.replace(".", ""))
    if month is None:
        raise ThaiDateError(f"unknown Thai month {month_name!r}")
    year_ce = int(year) - BE_OFFSET
    if not 2400 < int(year) < 2700:
        raise ThaiDateError(f"the year must be Buddhist Era (e.g. 2563), got {year}")
    try:
        local = datetime(year_ce, month, int(day), int(hour or 9), int(minute or 0), tzinfo=BANGKOK)
    except ValueError as exc:
        raise ThaiDateError(f"no such date: {text!r} ({exc})") from None
    return local.astimezone(UTC)
