"""What the bot accepts from LINE, one event at a time.

A webhook body is signed as a whole, but its events are judged one by one: an event that is not
in the shape LINE documents is set aside with a reason, and the good events beside it are kept.
Only what the bot relies on is checked, explicitly, below; fields it does not read pass through.

- the body: JSON (NaN and Infinity are read as unusable values, not refused outright), an object
  with an `events` list; containers nested deeper than `MAX_DEPTH` are cut off before parsing,
  so the parser never recurses without bound (the event that held them is set aside);
- `webhookEventId`, `type`: required; ids are printable ASCII up to 64 characters;
- `source`: an object; `type` a word; `userId` LINE's shape (`U` + 32 hex digits);
  `groupId`/`roomId` ids;
- `message`, `postback`: objects; `message.id` an id; `message.text` and `postback.data`
  strings, with the control characters LINE cannot send (NUL …) removed;
- `replyToken` and `timestamp` are optional to the bot: an unusable one is dropped (the answer
  goes by push; the time the event was received stands in for the timestamp);
- anywhere else: no NUL, no lone UTF-16 surrogate (PostgreSQL cannot store them), no NaN.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

# Levels below the body: body → events → event → message → emojis → emoji is 6 in LINE's
# documented events. Deeper containers are cut off (the event is set aside).
MAX_DEPTH = 24

USER_ID = re.compile(r"U[0-9a-f]{32}")
ID = re.compile(r"[\x21-\x7e]{1,64}")  # webhookEventId, message id, group and room ids
REPLY_TOKEN = re.compile(r"[\x21-\x7e]{1,255}")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")  # event, source and message types
# LINE launched in 2011; a timestamp outside [2011, 2100) is not a time it sent.
MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS = 1_293_840_000_000, 4_102_444_800_000

# Characters no LINE user can type: C0 controls except tab and newlines, DEL, and UTF-16
# surrogates left unpaired by a `\ud800`-style escape.
UNTYPABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class BodyError(ValueError):
    """The body as a whole is unusable: the webhook answers 400."""


class _Unusable:
    """Stands in for a value the parser met but the bot cannot use (NaN, a cut-off subtree)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


@dataclass(frozen=True)
class Accepted:
    event_id: str
    event_type: str
    user_id: str | None
    payload: dict[str, Any]  # the event, cleaned

    @property
    def source_key(self) -> str | None:
        """The chat the event belongs to: its group or room, else its user (ids already checked
        here; LINE's differ by their first letter, C…, R…, U…, so the id alone is the key).
        None: no source, the event is a queue of its own."""
        source = self.payload.get("source") or {}
        return source.get("groupId") or source.get("roomId") or source.get("userId")


@dataclass(frozen=True)
class Refused:
    """Set aside: stored as handled with the reason, never with its raw content."""

    event_id: str  # LINE's, or one derived from the content when LINE's is unusable
    event_type: str
    user_id: str | None  # only when in LINE's shape
    reason: str


# -- the body -------------------------------------------------------------------------------

# A whole string (brackets inside it do not count), a run of openers or a run of closers.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]+|[\]}]+')


def _cut_deep(text: str, max_depth: int, marker: str) -> str | None:
    """`text` with every array or object opening deeper than `max_depth` replaced by the string
    `marker`; None when nothing is that deep.

    A linear scan over strings and runs of brackets (a run of 100,000 "[" is one step); JSON
    syntax is left to the parser.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return None  # cannot be that deep: the common case costs two counts
    parts: list[str] = []
    depth, kept_to, cut_from = 0, 0, -1
    for token in _TOKEN.finditer(text):
        run, at = token.group(), token.start()
        if run[0] == '"':
            continue
        if run[0] in "[{":
            if cut_from < 0 and depth <= max_depth < depth + len(run):
                cut_from = at + max_depth - depth  # the opener that reaches max_depth + 1
            depth += len(run)
        else:
            closing = depth - (max_depth + 1)  # index in the run of the cut's own closer
            if cut_from >= 0 and 0 <= closing < len(run):
                parts += [text[kept_to:cut_from], json.dumps(marker)]
                kept_to, cut_from = at + closing + 1, -1
            depth -= len(run)
    if not parts:
        return None
    parts.append(text[kept_to:])
    return "".join(parts)


def parse_body(text: str) -> list[Any]:
    """The body's events, each still to be checked; BodyError for a body to answer 400."""
    marker = "cut-" + secrets.token_hex(16)  # no event can hold it by chance
    cut = _cut_deep(text, MAX_DEPTH, marker)
    try:
        payload = json.loads(cut or text, parse_constant=lambda name: _Unusable(name))
    except RecursionError:  # unbalanced brackets the cut could not close
        raise BodyError("JSON nested too deep") from None
    except ValueError:
        raise BodyError("malformed JSON") from None
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise BodyError("no events list")
    return [_mark_cut(event, marker) for event in events] if cut else events


def _mark_cut(value: Any, marker: str) -> Any:
    if value == marker:
        return _Unusable(f"nesting deeper than {MAX_DEPTH}")
    if isinstance(value, dict):
        return {key: _mark_cut(item, marker) for key, item in value.items()}
    if isinstance(value, list):
        return [_mark_cut(item, marker) for item in value]
    return value


# -- one event ------------------------------------------------------------------------------


class _Bad(Exception):
    pass


def clean_text(value: str) -> str:
    """Free text (a message, postback data) without the characters LINE cannot send."""
    return UNTYPABLE.sub("", value)


def check_event(raw: Any) -> Accepted | Refused | None:
    """Accepted (cleaned), Refused (with the reason), or None for a standby event: another
    channel's bot has the chat, so it is acknowledged and not stored."""
    if isinstance(raw, dict) and raw.get("mode") == "standby":
        return None
    event_id = _id_of(raw)
    event_type = raw.get("type") if isinstance(raw, dict) else None
    event_type = event_type if isinstance(event_type, str) and WORD.fullmatch(event_type) else "?"
    user_id = _user_of(raw)
    try:
        if not isinstance(raw, dict):
            raise _Bad(f"event is a {type(raw).__name__}, not an object")
        if event_id is None:
            raise _Bad("webhookEventId missing or not an id")
        if event_type == "?":
            raise _Bad("type missing or not a word")
        payload = _checked(raw)
    except _Bad as bad:
        return Refused(event_id or _derived_id(raw), event_type, user_id, str(bad))
    return Accepted(event_id, event_type, user_id, payload)


def _id_of(raw: Any) -> str | None:
    value = raw.get("webhookEventId") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and ID.fullmatch(value) else None


def _user_of(raw: Any) -> str | None:
    source = raw.get("source") if isinstance(raw, dict) else None
    value = source.get("userId") if isinstance(source, dict) else None
    return value if isinstance(value, str) and USER_ID.fullmatch(value) else None


def _derived_id(raw: Any) -> str:
    """Stable for the same content, so LINE's redelivery of a bad event is stored once."""
    canonical = json.dumps(raw, sort_keys=True, default=repr, ensure_ascii=True)
    return "invalid-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _checked(raw: dict[str, Any]) -> dict[str, Any]:
    event = dict(raw)
    timestamp = event.get("timestamp")
    if not (
        isinstance(timestamp, int | float)
        and not isinstance(timestamp, bool)
        and math.isfinite(timestamp)
        and MIN_TIMESTAMP_MS <= timestamp < MAX_TIMESTAMP_MS
    ):
        event.pop("timestamp", None)  # the time the event was received stands in
    else:
        event["timestamp"] = int(timestamp)
    token = event.get("replyToken")
    if "replyToken" in event and not (isinstance(token, str) and REPLY_TOKEN.fullmatch(token)):
        del event["replyToken"]  # unusable: the answer goes by push
    if "source" in event:
        event["source"] = _source(event["source"])
    if "message" in event:
        event["message"] = _part(event["message"], "message", "text")
    if "postback" in event:
        event["postback"] = _part(event["postback"], "postback", "data")
    return _storable(event, "event")


def _source(source: Any) -> dict[str, Any]:
    if not isinstance(source, dict):
        raise _Bad(f"source is a {type(source).__name__}, not an object")
    kind = source.get("type")
    if not (isinstance(kind, str) and WORD.fullmatch(kind)):
        raise _Bad("source.type missing or not a word")
    if "userId" in source and _user_of({"source": source}) is None:
        raise _Bad("source.userId is not a LINE user id")
    for key in ("groupId", "roomId"):
        if key in source and not (isinstance(source[key], str) and ID.fullmatch(source[key])):
            raise _Bad(f"source.{key} is not an id")
    return source


def _part(part: Any, name: str, text_key: str) -> dict[str, Any]:
    """`message` or `postback`: an object whose free text is cleaned."""
    if not isinstance(part, dict):
        raise _Bad(f"{name} is a {type(part).__name__}, not an object")
    part = dict(part)
    if "type" in part and not (isinstance(part["type"], str) and WORD.fullmatch(part["type"])):
        raise _Bad(f"{name}.type is not a word")
    if "id" in part and not (isinstance(part["id"], str) and ID.fullmatch(part["id"])):
        raise _Bad(f"{name}.id is not an id")
    if text_key in part:
        if not isinstance(part[text_key], str):
            raise _Bad(f"{name}.{text_key} is not a string")
        part[text_key] = clean_text(part[text_key])
    return part


def _name(key: str) -> str:
    """A key as a reason may show it: a word, else "?" (reasons never carry raw content)."""
    return key if WORD.fullmatch(key) else "?"


def _storable(value: Any, path: str) -> Any:
    """Refuse what neither database can store or the parser marked unusable."""
    if isinstance(value, _Unusable):
        raise _Bad(f"{path} is unusable ({value.what})")
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            raise _Bad(f"{path} holds NUL or an unpaired surrogate")
        return value
    if isinstance(value, dict):
        for key in value:
            if UNSTORABLE.search(key):
                raise _Bad(f"a key in {path} holds NUL or an unpaired surrogate")
        return {key: _storable(item, f"{path}.{_name(key)}") for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item, f"{path}[{n}]") for n, item in enumerate(value)]
    return value
