"""The volunteer's and the coordinator's conversations with the bot, as a state machine.

One small type per state, one per input, one per effect, and a pure function

    step(state, input, facts) -> (state, effects)

that looks the pair (state kind, input kind) up in a table. Nothing here reads the database or
talks to LINE: the handler parses a LINE event into an input, reads the few facts a step needs
(`Facts`), steps, carries the effects out through `ticketing.service` and words them in Thai.

    state            what the bot is waiting for
    Idle             nothing: a text is a question for the FAQ, or joins the open ticket
    AskingProvince   the volunteer's province (a report may be waiting for it)
    Describing       the problem's description (after "แจ้งปัญหา")
    Confirming       ยืนยัน, or more words and screenshots
    ImageOffer       a screenshot came out of the blue: "แจ้งปัญหาพร้อมภาพนี้"?
    Replying         a coordinator's next text or picture goes to the volunteer (ตอบกลับ)
    Resolving        a coordinator's next text is the resolution (ปิดเรื่อง)
    AskingPhone      the volunteer's phone number (offered after a ticket opens; optional:
                     anything but a number is handled as if nothing was asked)

Screenshots of a report not yet sent are draft rows (`ticket_images` without a ticket); a state
only counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

log = logging.getLogger(__name__)

SCREENSHOT_ONLY = "(ภาพหน้าจอ)"  # the description of a problem shown only by a picture

# -- states ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Idle:
    pass


@dataclass(frozen=True)
class AskingProvince:
    """`soft`: asked on follow, nothing waits; otherwise a report (`detail`, `images` drafts)
    goes on once the province is known."""

    detail: str = ""
    images: int = 0
    soft: bool = False


@dataclass(frozen=True)
class Describing:
    images: int = 0


@dataclass(frozen=True)
class Confirming:
    description: str
    images: int = 0


@dataclass(frozen=True)
class ImageOffer:
    images: int


@dataclass(frozen=True)
class Replying:
    ticket: int


@dataclass(frozen=True)
class Resolving:
    ticket: int


@dataclass(frozen=True)
class AskingPhone:
    pass


State = (
    Idle
    | AskingProvince
    | Describing
    | Confirming
    | ImageOffer
    | Replying
    | Resolving
    | AskingPhone
)
STATES: dict[str, type] = {
    t.__name__: t
    for t in (
        Idle,
        AskingProvince,
        Describing,
        Confirming,
        ImageOffer,
        Replying,
        Resolving,
        AskingPhone,
    )
}
VERSION = 1  # of the stored shape below; a row of another version is read as Idle

# -- inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Free text. `province`: the directory's reading of it as a province name, filled in only
    while the bot is asking for one."""

    text: str
    province: str | None = None


@dataclass(frozen=True)
class CancelWord:
    """ "ยกเลิก" typed: cancels a step; with nothing to cancel it is just text."""

    text: str


@dataclass(frozen=True)
class Register:
    """ "ลงทะเบียนผู้ประสานงาน <code>"."""

    code: str
    text: str


@dataclass(frozen=True)
class ProvinceText:
    """ "จังหวัด <ชื่อ>": `province` is the match, None if no province is called that."""

    name: str
    province: str | None
    text: str


@dataclass(frozen=True)
class DistrictText:
    """ "อำเภอ <ชื่อ>"."""

    name: str
    text: str


@dataclass(frozen=True)
class PhoneText:
    """ "เบอร์โทร <เลข>", or a number typed while the bot asks for one: `phone` is the number
    in its stored form, None when what was typed is no Thai phone number."""

    phone: str | None
    text: str


@dataclass(frozen=True)
class StatusAsked:
    """ "สถานะเรื่อง" (the rich menu), or the FAQ's ticket-status topic."""

    text: str = "สถานะเรื่อง"


@dataclass(frozen=True)
class ReportAsked:
    """ "แจ้งปัญหา [รายละเอียด]", or the FAQ's open-ticket topic."""

    detail: str = ""
    text: str = "แจ้งปัญหา"


@dataclass(frozen=True)
class Image:
    """A picture; `content` None when LINE would not give it (`too_large` says why)."""

    content: bytes | None
    too_large: bool = False


@dataclass(frozen=True)
class ReportChosen:
    """The FAQ's answer was "open-ticket" (typed, or tapped in a choice)."""


@dataclass(frozen=True)
class StatusChosen:
    """The FAQ's answer was "ticket-status"."""


@dataclass(frozen=True)
class Followed:
    """The user added the bot as a friend (or unblocked it)."""


# Buttons (postbacks). Ticket ids come from the phone: the service checks every one.


@dataclass(frozen=True)
class Confirm:
    pass


@dataclass(frozen=True)
class CancelButton:
    pass


@dataclass(frozen=True)
class ReportWithImage:
    pass


@dataclass(frozen=True)
class ProvincePicked:
    province: str


@dataclass(frozen=True)
class SharePhoneAsked:
    """The "give a number for a call back" button offered when a ticket opens."""


@dataclass(frozen=True)
class StartReply:
    ticket: int


@dataclass(frozen=True)
class StartResolve:
    ticket: int


@dataclass(frozen=True)
class Claim:
    ticket: int


@dataclass(frozen=True)
class Escalate:
    ticket: int


@dataclass(frozen=True)
class TakeOver:
    ticket: int


@dataclass(frozen=True)
class Rate:
    ticket: int
    rating: int


Input = (
    Text
    | CancelWord
    | Register
    | ProvinceText
    | DistrictText
    | StatusAsked
    | ReportAsked
    | Image
    | ReportChosen
    | StatusChosen
    | Followed
    | Confirm
    | CancelButton
    | ReportWithImage
    | ProvincePicked
    | PhoneText
    | SharePhoneAsked
    | StartReply
    | StartResolve
    | Claim
    | Escalate
    | TakeOver
    | Rate
)
# Inputs that are typed words: outside the step that gives them a meaning they are text.
WORDS = (
    Text,
    CancelWord,
    Register,
    ProvinceText,
    DistrictText,
    StatusAsked,
    ReportAsked,
    PhoneText,
)


@dataclass(frozen=True)
class Facts:
    """What a step needs to know about the world, read by the handler before stepping."""

    province: str | None = None  # the volunteer's registered province
    coordinator: bool = False  # the sender is a linked coordinator
    active_ticket: int | None = None  # the volunteer's ticket a message joins (not coordinators)


# -- effects: what the handler does (through ticketing.service) -----------------------------------


@dataclass(frozen=True)
class LinkCoordinator:
    code: str


@dataclass(frozen=True)
class SetProvince:
    province: str


@dataclass(frozen=True)
class SetDistrict:
    district: str


@dataclass(frozen=True)
class ShowStatus:
    pass


@dataclass(frozen=True)
class SavePhone:
    """Keep the volunteer's number; their open phone tickets of that number become theirs."""

    phone: str


@dataclass(frozen=True)
class OpenTicket:
    """Open the ticket with the sender's draft screenshots; tell them its number."""

    description: str


@dataclass(frozen=True)
class KeepDraftImage:
    content: bytes


@dataclass(frozen=True)
class DropDrafts:
    pass


@dataclass(frozen=True)
class AddToTicket:
    """The volunteer's text or screenshot joins their open ticket and goes to its coordinators."""

    ticket: int
    text: str
    image: bytes | None = None


@dataclass(frozen=True)
class Answer:
    """The claimer's text or picture goes to the volunteer."""

    ticket: int
    text: str
    image: bytes | None = None


@dataclass(frozen=True)
class Resolve:
    ticket: int
    resolution: str


@dataclass(frozen=True)
class MustOwn:
    """Refuse the step unless the sender has claimed the ticket."""

    ticket: int


@dataclass(frozen=True)
class ClaimTicket:
    ticket: int


@dataclass(frozen=True)
class EscalateTicket:
    ticket: int


@dataclass(frozen=True)
class TakeOverTicket:
    ticket: int


@dataclass(frozen=True)
class RateTicket:
    ticket: int
    rating: int


@dataclass(frozen=True)
class AskFaq:
    """Not part of any conversation step: the FAQ answers it."""

    text: str


# -- effects: what the handler says -----------------------------------------------------------


@dataclass(frozen=True)
class AskProvince:
    again: bool = False  # the last answer was not a province
    images: int = 0  # screenshots kept while waiting
    soft: bool = False  # on follow: nothing waits for the answer


@dataclass(frozen=True)
class ConfirmProvince:
    province: str


@dataclass(frozen=True)
class ProvinceSaved:
    province: str
    typed: bool  # "จังหวัด …" typed, or the ใช่ button


@dataclass(frozen=True)
class ProvinceNotFound:
    name: str


@dataclass(frozen=True)
class AskDescription:
    pass


@dataclass(frozen=True)
class ShowDraft:
    description: str
    images: int


@dataclass(frozen=True)
class OfferReport:
    images: int


@dataclass(frozen=True)
class Cancelled:
    pass


@dataclass(frozen=True)
class NothingToConfirm:
    pass


@dataclass(frozen=True)
class NoImageOffered:
    pass


@dataclass(frozen=True)
class AskAnswer:
    ticket: int


@dataclass(frozen=True)
class AskResolution:
    ticket: int


@dataclass(frozen=True)
class AnswerSent:
    picture: bool
    ticket: int = 0  # a phone-only caller's ticket: the answer became a call-back


@dataclass(frozen=True)
class AskPhone:
    command: bool = False  # in another step: say the command ("เบอร์โทร …") to type


@dataclass(frozen=True)
class PhoneInvalid:
    """What was typed as a number is none: say how to write one (the step stays)."""


@dataclass(frozen=True)
class Resolved:
    pass


@dataclass(frozen=True)
class ImageNoted:
    """A picture nobody is waiting for (a coordinator's, say)."""


@dataclass(frozen=True)
class ImageUnusable:
    too_large: bool


Effect = Any  # one of the dataclasses above
Step = Callable[[Any, Any, Facts], tuple[State, list[Effect]]]


# -- steps ----------------------------------------------------------------------------------------


def start_report(detail: str, images: int, facts: Facts) -> tuple[State, list[Effect]]:
    """ "แจ้งปัญหา": the province first, then the description, then ยืนยัน. Also where a report
    that was waiting for the province goes on, whichever way the province came."""
    if not facts.province:
        return AskingProvince(detail, images), [AskProvince(images=images)]
    if detail:
        return Idle(), [OpenTicket(detail)]
    if images:
        return Confirming(SCREENSHOT_ONLY, images), [ShowDraft(SCREENSHOT_ONLY, images)]
    return Describing(), [AskDescription()]


def _province_known(
    state: State, province: str, facts: Facts, typed: bool
) -> tuple[State, list[Effect]]:
    said: list[Effect] = [SetProvince(province), ProvinceSaved(province, typed)]
    if not isinstance(state, AskingProvince):
        return state, said
    if state.soft:
        return Idle(), said
    after, effects = start_report(state.detail, state.images, replace(facts, province=province))
    return after, said + effects


def _words(command: Any) -> str:
    return command.text


# Idle: what a text means when no step is waiting.


def idle_text(state: State, command: Any, facts: Facts) -> tuple[State, list[Effect]]:
    text = _words(command)
    if facts.active_ticket is not None and not facts.coordinator:
        return state, [AddToTicket(facts.active_ticket, text)]
    return state, [AskFaq(text)]


def idle_district(state: State, command: DistrictText, facts: Facts):
    return state, [SetDistrict(command.name)]


def idle_status(state: State, command: StatusAsked, facts: Facts):
    return state, [ShowStatus()]


def idle_report(state: State, command: ReportAsked, facts: Facts):
    images = state.images if isinstance(state, ImageOffer) else 0  # the offer joins the report
    return start_report(command.detail, images, facts)


def any_province_text(state: State, command: ProvinceText, facts: Facts):
    if command.province is None:
        return state, [ProvinceNotFound(command.name)]
    return _province_known(state, command.province, facts, typed=True)


def any_register(state: State, command: Register, facts: Facts):
    return state, [LinkCoordinator(command.code)]


def cancel(state: State, command: Any, facts: Facts):
    return Idle(), [DropDrafts(), Cancelled()]


def idle_cancel_word(state: State, command: CancelWord, facts: Facts):
    return idle_text(state, command, facts)  # nothing to cancel: just words


def idle_image(state: State, command: Image, facts: Facts):
    if command.content is None:
        return state, [ImageUnusable(command.too_large)]
    if facts.coordinator:
        return state, [ImageNoted()]
    if facts.active_ticket is not None:
        return state, [AddToTicket(facts.active_ticket, SCREENSHOT_ONLY, command.content)]
    count = state.images + 1 if isinstance(state, ImageOffer) else 1
    return ImageOffer(count), [KeepDraftImage(command.content), OfferReport(count)]


# AskingProvince


def asking_text(state: AskingProvince, command: Any, facts: Facts):
    province = command.province if isinstance(command, Text) else None
    if province is not None:
        return state, [ConfirmProvince(province)]
    if state.soft:  # asked on follow, answered with something else: forget the ask
        return step(Idle(), command, facts)
    return state, [AskProvince(again=True)]


def asking_image(state: AskingProvince, command: Image, facts: Facts):
    if state.soft:
        return step(Idle(), command, facts)
    if command.content is None:
        return state, [ImageUnusable(command.too_large)]
    kept = replace(state, images=state.images + 1)
    return kept, [KeepDraftImage(command.content), AskProvince(images=kept.images)]


# Describing, Confirming


def describing_text(state: Describing, command: Any, facts: Facts):
    return Confirming(_words(command), state.images), [ShowDraft(_words(command), state.images)]


def confirming_text(state: Confirming, command: Any, facts: Facts):
    said = "" if state.description == SCREENSHOT_ONLY else state.description
    description = f"{said}\n{_words(command)}".strip()  # first words replace the stand-in
    return replace(state, description=description), [ShowDraft(description, state.images)]


def collecting_image(state: Describing | Confirming, command: Image, facts: Facts):
    if command.content is None:
        return state, [ImageUnusable(command.too_large)]
    description = state.description if isinstance(state, Confirming) else SCREENSHOT_ONLY
    after = Confirming(description, state.images + 1)
    return after, [KeepDraftImage(command.content), ShowDraft(description, after.images)]


def confirm(state: Confirming, command: Confirm, facts: Facts):
    return Idle(), [OpenTicket(state.description)]


def nothing_to_confirm(state: State, command: Confirm, facts: Facts):
    return state, [NothingToConfirm()]


def report_with_image(state: ImageOffer, command: ReportWithImage, facts: Facts):
    return start_report("", state.images, facts)


def no_image_offered(state: State, command: ReportWithImage, facts: Facts):
    return state, [NoImageOffered()]


def province_picked(state: State, command: ProvincePicked, facts: Facts):
    return _province_known(state, command.province, facts, typed=False)


# Coordinators


def start_reply(state: State, command: StartReply, facts: Facts):
    return Replying(command.ticket), [MustOwn(command.ticket), AskAnswer(command.ticket)]


def start_resolve(state: State, command: StartResolve, facts: Facts):
    return Resolving(command.ticket), [MustOwn(command.ticket), AskResolution(command.ticket)]


def replying_text(state: Replying, command: Any, facts: Facts):
    return Idle(), [Answer(state.ticket, _words(command)), AnswerSent(False, state.ticket)]


def replying_image(state: Replying, command: Image, facts: Facts):
    if command.content is None:
        return state, [ImageUnusable(command.too_large)]
    # The step stays open: a picture is usually followed by words.
    return state, [Answer(state.ticket, "(ภาพ)", command.content), AnswerSent(True, state.ticket)]


def resolving_text(state: Resolving, command: Any, facts: Facts):
    return Idle(), [Resolve(state.ticket, _words(command)), Resolved()]


def resolving_image(state: Resolving, command: Image, facts: Facts):
    return state, [ImageNoted()]


def report_chosen(state: State, command: ReportChosen, facts: Facts):
    images = state.images if isinstance(state, ImageOffer) else 0
    return start_report("", images, facts)


def status_chosen(state: State, command: StatusChosen, facts: Facts):
    return state, [ShowStatus()]


def remind(state: State, command: Any, facts: Facts):
    """A report asked for in the middle of a step: the step's own question again."""
    prompt = {
        AskingProvince: lambda s: AskProvince(images=s.images, soft=s.soft),
        Describing: lambda s: AskDescription(),
        Confirming: lambda s: ShowDraft(s.description, s.images),
        Replying: lambda s: AskAnswer(s.ticket),
        Resolving: lambda s: AskResolution(s.ticket),
        AskingPhone: lambda s: AskPhone(),
    }[type(state)]
    return state, [prompt(state)]


def followed(state: State, command: Followed, facts: Facts):
    if facts.province or facts.coordinator or not isinstance(state, Idle):
        return state, []
    return AskingProvince(soft=True), [AskProvince(soft=True)]


def claim(state: State, command: Claim, facts: Facts):
    return state, [ClaimTicket(command.ticket)]


def escalate(state: State, command: Escalate, facts: Facts):
    return state, [EscalateTicket(command.ticket)]


def take_over(state: State, command: TakeOver, facts: Facts):
    return state, [TakeOverTicket(command.ticket)]


def rate(state: State, command: Rate, facts: Facts):
    return state, [RateTicket(command.ticket, command.rating)]


# The volunteer's phone number


def phone_text(state: State, command: PhoneText, facts: Facts):
    if command.phone is None:
        return state, [PhoneInvalid()]
    after = Idle() if isinstance(state, AskingPhone) else state
    return after, [SavePhone(command.phone)]


def share_phone_asked(state: State, command: SharePhoneAsked, facts: Facts):
    return AskingPhone(), [AskPhone()]


def share_phone_later(state: State, command: SharePhoneAsked, facts: Facts):
    """The button tapped in the middle of another step: that step goes on; how to give the
    number is said (the command works in every step)."""
    return state, [AskPhone(command=True)]


def asking_phone_other(state: AskingPhone, command: Any, facts: Facts):
    """Anything but a number: the offer is forgotten, and this is handled as when idle."""
    return step(Idle(), command, facts)


# -- the table --------------------------------------------------------------------------------


class AnyState:
    """Table rows keyed on this apply in every state without a row of its own."""


TABLE: dict[tuple[type, type], Step] = {
    # typed words outside any step
    (Idle, Text): idle_text,
    (Idle, CancelWord): idle_cancel_word,
    (Idle, DistrictText): idle_district,
    (Idle, StatusAsked): idle_status,
    (Idle, ReportAsked): idle_report,
    (Idle, Image): idle_image,
    # a screenshot on offer: everything as when idle, and a report takes the screenshots along
    (ImageOffer, Text): idle_text,
    (ImageOffer, DistrictText): idle_district,
    (ImageOffer, StatusAsked): idle_status,
    (ImageOffer, ReportAsked): idle_report,
    (ImageOffer, Image): idle_image,
    (ImageOffer, ReportWithImage): report_with_image,
    # the province
    (AskingProvince, Text): asking_text,
    (AskingProvince, Image): asking_image,
    (AnyState, ProvinceText): any_province_text,
    (AnyState, ProvincePicked): province_picked,
    # the description
    (Describing, Text): describing_text,
    (Describing, Image): collecting_image,
    (Confirming, Text): confirming_text,
    (Confirming, Image): collecting_image,
    (Confirming, Confirm): confirm,
    (AnyState, Confirm): nothing_to_confirm,
    (AnyState, ReportWithImage): no_image_offered,
    # coordinators
    (Replying, Text): replying_text,
    (Replying, Image): replying_image,
    (Resolving, Text): resolving_text,
    (Resolving, Image): resolving_image,
    (AnyState, StartReply): start_reply,
    (AnyState, StartResolve): start_resolve,
    (AnyState, Claim): claim,
    (AnyState, Escalate): escalate,
    (AnyState, TakeOver): take_over,
    (AnyState, Rate): rate,
    # the volunteer's phone number: the command in every step; the offered step is optional
    (AnyState, PhoneText): phone_text,
    (Idle, SharePhoneAsked): share_phone_asked,
    (AskingPhone, SharePhoneAsked): share_phone_asked,
    (AnyState, SharePhoneAsked): share_phone_later,
    (AskingPhone, Text): asking_phone_other,
    (AskingPhone, Image): asking_phone_other,
    (AskingPhone, ReportChosen): asking_phone_other,
    (AskingPhone, Confirm): asking_phone_other,
    (AskingPhone, ReportWithImage): asking_phone_other,
    # the FAQ's action topics: as typed when idle; in a step, that step's question again
    (Idle, ReportChosen): report_chosen,
    (ImageOffer, ReportChosen): report_chosen,
    (AnyState, ReportChosen): remind,
    (AnyState, StatusChosen): status_chosen,
    # in every step
    (AnyState, Followed): followed,
    (AnyState, Register): any_register,
    (AnyState, CancelWord): cancel,
    (AnyState, CancelButton): cancel,
}
# Typed words that keep their meaning in every step.
ALWAYS = (Register, CancelWord)
# Steps that take every other typed word as plain text: a coordinator's answer may well begin
# with "จังหวัด" or "แจ้งปัญหา".
WORDS_ARE_TEXT = (Replying, Resolving)


def step(state: State, command: Input, facts: Facts = Facts()) -> tuple[State, list[Effect]]:
    """The next state and what to do.

    The rule is the table's row for (this state, this input); failing that, for typed words in
    a step that reads them as text, that step's text row; then the row for any state; then,
    for typed words, this state's text row ("อำเภอ …" while describing is description)."""
    kind, given = type(state), type(command)
    rule = TABLE.get((kind, given))
    if rule is None and kind in WORDS_ARE_TEXT and given in WORDS and given not in ALWAYS:
        rule = TABLE[(kind, Text)]
    rule = rule or TABLE.get((AnyState, given))
    if rule is None and given in WORDS:
        rule = TABLE.get((kind, Text))
    if rule is None:
        raise LookupError(f"no rule for {kind.__name__} + {given.__name__}")
    return rule(state, command, facts)


# -- storage: a small, typed, versioned record ------------------------------------------------


def dump(state: State) -> tuple[str, int, dict[str, Any]]:
    """(type name, version, fields): what `chat_states` keeps."""
    return type(state).__name__, VERSION, asdict(state)


def load(name: str, version: int, data: dict[str, Any]) -> State:
    """The stored state; Idle (and a log line) for a kind or version this code does not know."""
    kind = STATES.get(name)
    if kind is None or version != VERSION:
        log.warning("conversation state %s v%s not understood; starting afresh", name, version)
        return Idle()
    known = {f.name for f in fields(kind)}
    try:
        return kind(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        log.warning("conversation state %s with fields %s not understood", name, sorted(data))
        return Idle()
