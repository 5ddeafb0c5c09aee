"""Plain LINE message objects (dicts in LINE's JSON shape) and the limits LINE puts on them.

Domain packages build messages with these helpers, so they never import the LINE SDK.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]

MAX_TEXT_UTF16 = 5000  # LINE counts text length in UTF-16 code units
MAX_MESSAGES_PER_REQUEST = 5
MAX_QUICK_REPLY_ITEMS = 13
MAX_QUICK_REPLY_LABEL = 20


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT_UTF16) -> list[str]:
    """Cut text into parts of at most `limit` UTF-16 units, preferring line and word breaks."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        # Longest prefix that fits, counted in UTF-16 units (emoji take two).
        cut, units = 0, 0
        for i, ch in enumerate(rest):
            units += 2 if ord(ch) > 0xFFFF else 1
            if units > limit:
                cut = i
                break
        window = rest[:cut]
        for sep in ("\n", " "):
            at = window.rfind(sep)
            if at > cut // 2:
                cut = at + 1
                break
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:]
    parts.append(rest)
    return [p for p in parts if p] or [""]


def text(body: str, quick_replies: list[dict[str, Any]] | None = None) -> Message:
    message: Message = {"type": "text", "text": body}
    if quick_replies:
        message["quickReply"] = {"items": quick_replies[:MAX_QUICK_REPLY_ITEMS]}
    return message


def _label(label: str) -> str:
    """At most 20 characters, as LINE allows a quick reply's label. LINE counts grapheme
    clusters (a Thai consonant with its vowel and tone marks is one); counting code points, as
    here, never gives fewer, so a label kept here always fits."""
    return (
        label if len(label) <= MAX_QUICK_REPLY_LABEL else label[: MAX_QUICK_REPLY_LABEL - 1] + "…"
    )


def quick_message(label: str, send_text: str | None = None) -> dict[str, Any]:
    """A quick-reply button that sends a text as if the user typed it."""
    return {
        "type": "action",
        "action": {"type": "message", "label": _label(label), "text": send_text or label},
    }


def quick_postback(label: str, data: str, display_text: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "postback", "label": _label(label), "data": data}
    if display_text:
        action["displayText"] = display_text
    return {"type": "action", "action": action}


def fit_for_line(messages: list[Message]) -> list[Message]:
    """Split over-long texts; a quick reply stays on the last part, where LINE shows it."""
    fitted: list[Message] = []
    for message in messages:
        if message.get("type") != "text" or utf16_len(message["text"]) <= MAX_TEXT_UTF16:
            fitted.append(message)
            continue
        parts = split_text(message["text"])
        extras = {k: v for k, v in message.items() if k not in {"text", "quickReply"}}
        for part in parts[:-1]:
            fitted.append({**extras, "text": part})
        fitted.append({**{k: v for k, v in message.items() if k != "text"}, "text": parts[-1]})
    return fitted


def batches(messages: list[Message], size: int = MAX_MESSAGES_PER_REQUEST) -> list[list[Message]]:
    return [messages[i : i + size] for i in range(0, len(messages), size)]
