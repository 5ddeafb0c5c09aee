"""What LINE refuses in a request body, with the paths LINE names (`messages[0].quickReply.
items[1].action.label`). `check(body, model)` walks the body once and finds two kinds of fault:

1. `unknown`: LINE reads a body into its own object model and refuses a property that model
   does not have (400 "The property, 'x', in the request body is invalid"). The model is the
   line-bot-sdk's (generated from LINE's OpenAPI), walked node by node, so a typo in a message
   object is named with its whole path.
2. `problems`: every field the SDK's model constrains (required, types, lengths, enums, list
   sizes), reported with its LINE path instead of the SDK's bare field name, and then the limits
   LINE documents that the SDK does not carry (`message_problems`, `rich_menu_problems`):

   - text: not empty, at most 5,000 UTF-16 code units (LINE counts text in UTF-16);
   - action labels: required in quick replies and templates (except image carousels), at most
     20 characters (12 in image carousels, 40 in Flex); `displayText`, a message action's and a
     postback's `text`: at most 300. LINE counts these in grapheme clusters, not UTF-16 units
     ("Character counting in a text"): a Thai consonant with its vowel and tone marks is one;
   - URI actions: `http`, `https`, `line` or `tel`, at most 1,000 characters;
   - images (image messages, Flex images, quick reply icons): at most 2,000 characters, HTTPS,
     JPEG or PNG;
   - Flex: `altText` not empty and at most 1,500 characters; a bubble's JSON at most 30 KB, a
     carousel at most 12 bubbles and 50 KB;
   - templates: `altText` at most 400; a buttons template's text at most 160 (60 with a title
     or an image), title 40, at most 4 actions; a confirm template's text 240 and 2 actions.

Where LINE does not document a rule the stricter reading is taken, and the comment says so.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import linebot.v3.messaging.models as sdk
from pydantic.v1 import BaseModel
from pydantic.v1 import errors as pydantic_errors

MAX_TEXT_UTF16 = 5000
MAX_ALT_TEXT_FLEX = 1500
MAX_ALT_TEXT_TEMPLATE = 400
MAX_BUBBLE_BYTES = 30 * 1024
MAX_CAROUSEL_BYTES = 50 * 1024
MAX_CAROUSEL_BUBBLES = 12
MAX_ACTION_TEXT = 300  # displayText, message action text, postback text and data
MAX_URI = 1000
MAX_IMAGE_URL = 2000
URI_SCHEMES = ("http", "https", "line", "tel")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")

# Where an action sits decides its label rule: (required, at most).
QUICK_REPLY = (True, 20)
TEMPLATE = (True, 20)
IMAGE_CAROUSEL = (False, 12)
RICH_MENU = (False, 20)
FLEX = (False, 40)
# LINE documents Flex labels as optional; a button's label is the only text it shows, so a
# button without one is refused here (the stricter reading).
FLEX_BUTTON = (True, 40)


@dataclass(frozen=True)
class Problem:
    property: str
    message: str

    def as_detail(self) -> dict[str, str]:
        return {"message": self.message, "property": self.property}


# -- counting ---------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# Thai and Lao SARA AM are spacing vowels that Unicode's grapheme rules join to the consonant
# before them (Grapheme_Cluster_Break=SpacingMark) although their category is a letter.
_SPACING_MARKS = {"\u0e33", "\u0eb3"}
_ZWJ = "\u200d"


def graphemes(text: str) -> int:
    """User-perceived characters (Unicode extended grapheme clusters, UAX #29), the unit LINE
    counts action labels in. Covers what messages hold: combining marks (Thai vowels and tone
    marks, accents), SARA AM, emoji modifiers and variation selectors, ZWJ sequences, flags and
    CR LF. Hangul jamo sequences (not used here) count per jamo: stricter, never looser."""
    count = 0
    previous = ""
    regional_run = 0
    for ch in text:
        joins = (
            unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or ch in _SPACING_MARKS
            or ch == _ZWJ
            or "\U0001f3fb" <= ch <= "\U0001f3ff"  # skin tone modifiers
            or previous == _ZWJ
            or (previous == "\r" and ch == "\n")
        )
        if "\U0001f1e6" <= ch <= "\U0001f1ff":  # regional indicators pair into flags
            regional_run += 1
            joins = joins or regional_run % 2 == 0
        else:
            regional_run = 0
        if not joins or count == 0:
            count += 1
        previous = ch
    return count


# -- the SDK's object model, walked with LINE's paths ----------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _variants(cls: type[BaseModel]) -> dict[str, str] | None:
    """type value → class name, for the SDK's polymorphic bases (Message, Action, …)."""
    return getattr(cls, f"_{cls.__name__}__discriminator_value_class_map", None)


def _concrete(
    cls: type[BaseModel], node: dict[str, Any], path: str, out: list[Problem]
) -> type[BaseModel] | None:
    variants = _variants(cls)
    if variants is None:
        return cls
    kind = node.get("type")
    if kind is None:
        out.append(Problem(_join(path, "type"), "must be specified"))
        return None
    name = variants.get(kind) if isinstance(kind, str) else None
    if name is None:
        allowed = ", ".join(sorted(variants))
        out.append(
            Problem(_join(path, "type"), f"Must be one of the following values: [{allowed}]")
        )
        return None
    return getattr(sdk, name)


def _model_of(field: Any) -> type[BaseModel] | None:
    kind = field.type_
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _say(exc: Exception) -> str:
    """The SDK's (pydantic's) complaint in the words LINE uses for the same thing."""
    if isinstance(exc, pydantic_errors.MissingError):
        return "must be specified"
    if isinstance(exc, pydantic_errors.AnyStrMaxLengthError):
        return f"Length must be between 0 and {exc.limit_value}"
    if isinstance(exc, pydantic_errors.AnyStrMinLengthError):
        return "May not be empty"
    if isinstance(exc, pydantic_errors.ListMaxLengthError):
        return f"Size must be at most {exc.limit_value}"
    if isinstance(exc, pydantic_errors.ListMinLengthError):
        return f"Size must be at least {exc.limit_value}"
    return str(exc) or type(exc).__name__


def _flatten(error: Any) -> list[Exception]:
    """The exceptions inside pydantic's ErrorWrapper (possibly nested lists of them)."""
    if isinstance(error, list | tuple):
        return [exc for item in error for exc in _flatten(item)]
    exc = getattr(error, "exc", error)
    return [exc] if isinstance(exc, Exception) else []


@dataclass(frozen=True)
class Findings:
    unknown: list[str]  # properties LINE's model does not have, as LINE paths, in body order
    problems: list[Problem]  # everything else LINE would list, in body order

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.problems


def check(body: Any, model: type[BaseModel]) -> Findings:
    """The body against LINE's object model (one walk) and then LINE's documented limits."""
    unknown: list[str] = []
    found: list[Problem] = []
    _walk(body, model, "", found, unknown)
    if isinstance(body, dict):
        if "messages" in body:
            found += message_problems(body["messages"])
        if model is sdk.RichMenuRequest:
            found += rich_menu_problems(body)
    unique: dict[tuple[str, str], Problem] = {}
    for problem in found:
        unique.setdefault((problem.property, problem.message), problem)
    return Findings(unknown, list(unique.values()))


def _walk(
    node: Any, cls: type[BaseModel], path: str, out: list[Problem], unknown: list[str]
) -> None:
    if not isinstance(node, dict):
        out.append(Problem(path or "body", "must be an object"))
        return
    concrete = _concrete(cls, node, path, out)
    if concrete is None:
        return
    fields = {field.alias: field for field in concrete.__fields__.values()}
    unknown.extend(_join(path, key) for key in node if key not in fields)
    for alias, field in fields.items():
        where = _join(path, alias)
        value = node.get(alias)
        if value is None:
            if field.required and alias != "type":
                out.append(Problem(where, "must be specified"))
            continue
        inner = _model_of(field)
        if inner is None:
            _, error = field.validate(value, {}, loc=alias, cls=concrete)
            out.extend(Problem(where, _say(exc)) for exc in _flatten(error))
        elif field.shape == 1:  # a single object
            _walk(value, inner, where, out, unknown)
        elif not isinstance(value, list):
            out.append(Problem(where, "must be an array"))
        else:
            lowest = getattr(field.outer_type_, "min_items", None)
            highest = getattr(field.outer_type_, "max_items", None)
            if lowest is not None and len(value) < lowest:
                out.append(Problem(where, f"Size must be between {lowest} and {highest or 'N'}"))
            if highest is not None and len(value) > highest:
                out.append(Problem(where, f"Size must be between {lowest or 0} and {highest}"))
            for n, item in enumerate(value):
                _walk(item, inner, f"{where}[{n}]", out, unknown)


# -- LINE's documented limits the SDK does not carry ------------------------------------------


def _too_long(value: str, limit: int) -> bool:
    return graphemes(value) > limit


def _length(limit: int) -> str:
    return f"Length must be between 0 and {limit}"


def image_url_problem(url: Any) -> str | None:
    """LINE fetches images itself: HTTPS, at most 2,000 characters, JPEG or PNG. LINE judges the
    format by the file it fetches, which the simulator cannot do: a URL whose path names another
    format (.gif, .webp …) is refused; one without an extension is taken on trust. Loopback http
    is let through so a bot on this machine can show its own files on the chat page (real LINE
    could not reach it)."""
    if not isinstance(url, str):
        return None  # the type is the schema's complaint
    if len(url) > MAX_IMAGE_URL:
        return _length(MAX_IMAGE_URL)
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS
    if parts.scheme != "https" and not loopback:
        return "must be an HTTPS URL"
    name = parts.path.rsplit("/", 1)[-1].lower()
    if "." in name and not name.endswith(IMAGE_EXTENSIONS):
        return "must be a JPEG or PNG image"
    return None


def _action(action: Any, path: str, label_rule: tuple[bool, int], out: list[Problem]) -> None:
    if not isinstance(action, dict):
        return  # the schema reports a missing or malformed action
    required, limit = label_rule
    label = action.get("label")
    if label is None or label == "":
        if required:
            out.append(Problem(_join(path, "label"), "must be specified"))
    elif isinstance(label, str) and _too_long(label, limit):
        out.append(Problem(_join(path, "label"), _length(limit)))
    kind = action.get("type")
    for key in ("displayText", "text"):
        value = action.get(key)
        if isinstance(value, str) and _too_long(value, MAX_ACTION_TEXT):
            out.append(Problem(_join(path, key), _length(MAX_ACTION_TEXT)))
    if kind == "message" and not action.get("text"):
        out.append(Problem(_join(path, "text"), "must be specified"))
    if kind == "postback":
        data = action.get("data")
        if not data:  # LINE documents data as required; the SDK lets it go
            out.append(Problem(_join(path, "data"), "must be specified"))
        elif isinstance(data, str) and utf16_len(data) > MAX_ACTION_TEXT:
            out.append(Problem(_join(path, "data"), _length(MAX_ACTION_TEXT)))
    if kind == "uri":
        _uri(action.get("uri"), _join(path, "uri"), out)
        alt = action.get("altUri")
        if isinstance(alt, dict) and "desktop" in alt:
            _uri(alt["desktop"], _join(path, "altUri.desktop"), out)


def _uri(uri: Any, path: str, out: list[Problem]) -> None:
    if uri is None or uri == "":
        out.append(Problem(path, "must be specified"))
    elif isinstance(uri, str):
        if len(uri) > MAX_URI:
            out.append(Problem(path, _length(MAX_URI)))
        elif urlsplit(uri).scheme.lower() not in URI_SCHEMES:
            out.append(Problem(path, "The scheme must be one of http, https, line or tel"))


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _flex(node: Any, path: str, out: list[Problem]) -> None:
    """Actions and images anywhere in a Flex container."""
    if isinstance(node, list):
        for n, item in enumerate(node):
            _flex(item, f"{path}[{n}]", out)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if "action" in node:
        rule = FLEX_BUTTON if kind == "button" else FLEX
        _action(node["action"], _join(path, "action"), rule, out)
    if kind in ("image", "icon") and "url" in node:
        problem = image_url_problem(node["url"])
        if problem:
            out.append(Problem(_join(path, "url"), problem))
    for key in ("header", "hero", "body", "footer", "contents"):
        if key in node:
            _flex(node[key], _join(path, key), out)


def _flex_message(message: dict[str, Any], path: str, out: list[Problem]) -> None:
    alt = message.get("altText")
    if isinstance(alt, str):
        if not alt.strip():
            out.append(Problem(_join(path, "altText"), "May not be empty"))
        elif utf16_len(alt) > MAX_ALT_TEXT_FLEX:
            out.append(Problem(_join(path, "altText"), _length(MAX_ALT_TEXT_FLEX)))
    contents = message.get("contents")
    where = _join(path, "contents")
    if not isinstance(contents, dict):
        return
    if contents.get("type") == "bubble" and _json_size(contents) > MAX_BUBBLE_BYTES:
        out.append(Problem(where, "The size of a bubble must be at most 30 KB"))
    if contents.get("type") == "carousel":
        bubbles = contents.get("contents")
        if isinstance(bubbles, list) and len(bubbles) > MAX_CAROUSEL_BUBBLES:
            out.append(
                Problem(
                    _join(where, "contents"), f"Size must be between 1 and {MAX_CAROUSEL_BUBBLES}"
                )
            )
        if _json_size(contents) > MAX_CAROUSEL_BYTES:
            out.append(Problem(where, "The size of a carousel must be at most 50 KB"))
    _flex(contents, where, out)


def _template_message(message: dict[str, Any], path: str, out: list[Problem]) -> None:
    alt = message.get("altText")
    if isinstance(alt, str) and not alt.strip():
        out.append(Problem(_join(path, "altText"), "May not be empty"))
    elif isinstance(alt, str) and utf16_len(alt) > MAX_ALT_TEXT_TEMPLATE:
        out.append(Problem(_join(path, "altText"), _length(MAX_ALT_TEXT_TEMPLATE)))
    template = message.get("template")
    if not isinstance(template, dict):
        return
    where = _join(path, "template")
    kind = template.get("type")
    if kind == "buttons":
        pictured = template.get("title") or template.get("thumbnailImageUrl")
        _text_limit(template, where, 60 if pictured else 160, out)
        title = template.get("title")
        if isinstance(title, str) and _too_long(title, 40):
            out.append(Problem(_join(where, "title"), _length(40)))
        _actions(template, where, TEMPLATE, 4, out)
    elif kind == "confirm":
        _text_limit(template, where, 240, out)
        _actions(template, where, TEMPLATE, 2, out, exactly=True)
    elif kind in ("carousel", "image_carousel"):
        _carousel_template(template, where, out)


def _carousel_template(template: dict[str, Any], path: str, out: list[Problem]) -> None:
    columns = template.get("columns")
    if not isinstance(columns, list):
        return
    if len(columns) > 10:
        out.append(Problem(_join(path, "columns"), "Size must be between 1 and 10"))
    for n, column in enumerate(columns):
        if not isinstance(column, dict):
            continue
        where = f"{_join(path, 'columns')}[{n}]"
        if template.get("type") == "image_carousel":
            _action(column.get("action"), _join(where, "action"), IMAGE_CAROUSEL, out)
        else:
            pictured = column.get("title") or column.get("thumbnailImageUrl")
            _text_limit(column, where, 60 if pictured else 120, out)
            _actions(column, where, TEMPLATE, 3, out)


def _text_limit(node: dict[str, Any], path: str, limit: int, out: list[Problem]) -> None:
    text = node.get("text")
    if isinstance(text, str) and _too_long(text, limit):
        out.append(Problem(_join(path, "text"), _length(limit)))


def _actions(
    node: dict[str, Any],
    path: str,
    rule: tuple[bool, int],
    most: int,
    out: list[Problem],
    exactly: bool = False,
) -> None:
    actions = node.get("actions")
    if not isinstance(actions, list):
        return
    if len(actions) > most or (exactly and len(actions) != most):
        size = f"{most} and {most}" if exactly else f"1 and {most}"
        out.append(Problem(_join(path, "actions"), f"Size must be between {size}"))
    for n, action in enumerate(actions):
        _action(action, f"{_join(path, 'actions')}[{n}]", rule, out)
    if "defaultAction" in node:
        _action(node["defaultAction"], _join(path, "defaultAction"), (False, 20), out)


def message_problems(messages: Any, base: str = "messages") -> list[Problem]:
    """LINE's documented limits on message objects beyond what the SDK's model checks."""
    out: list[Problem] = []
    if not isinstance(messages, list):
        return out
    for n, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        path = f"{base}[{n}]"
        kind = message.get("type")
        if kind == "text":
            text = message.get("text")
            if isinstance(text, str):
                if text == "":
                    out.append(Problem(_join(path, "text"), "May not be empty"))
                elif utf16_len(text) > MAX_TEXT_UTF16:
                    out.append(Problem(_join(path, "text"), _length(MAX_TEXT_UTF16)))
        elif kind == "image":
            for key in ("originalContentUrl", "previewImageUrl"):
                problem = image_url_problem(message.get(key))
                if problem:
                    out.append(Problem(_join(path, key), problem))
        elif kind == "flex":
            _flex_message(message, path, out)
        elif kind == "template":
            _template_message(message, path, out)
        quick = message.get("quickReply")
        items = quick.get("items") if isinstance(quick, dict) else None
        for m, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            where = f"{_join(path, 'quickReply.items')}[{m}]"
            if "action" not in item:
                out.append(Problem(_join(where, "action"), "must be specified"))
            _action(item.get("action"), _join(where, "action"), QUICK_REPLY, out)
            if "imageUrl" in item:
                problem = image_url_problem(item["imageUrl"])
                if problem:
                    out.append(Problem(_join(where, "imageUrl"), problem))
    return out


def rich_menu_problems(menu: Any) -> list[Problem]:
    out: list[Problem] = []
    areas = menu.get("areas") if isinstance(menu, dict) else None
    for n, area in enumerate(areas if isinstance(areas, list) else []):
        if isinstance(area, dict):
            if "action" not in area:
                out.append(Problem(f"areas[{n}].action", "must be specified"))
            _action(area.get("action"), f"areas[{n}].action", RICH_MENU, out)
    return out
