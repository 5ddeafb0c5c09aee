"""The ticket conversation: its pure state machine with plain values, then what it stores
(drafts as rows, a ticket's messages as rows, whole texts) and the FAQ's one path for topics
typed or tapped."""

from __future__ import annotations

import base64
import json
from dataclasses import fields, replace
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot import migrate
from bot.db import make_engine, transaction
from bot.ticket_sweep import sweep_tickets
from common.thaidate import thai_duration
from faq.service import Kind, Reply
from handlers.context import EventContext
from tests.conftest import reset_schema, sim_messages, sim_send
from tests.test_tickets import (
    JPEG,
    PNG,
    PROVINCE_COORD,
    REGION_COORD,
    VOLUNTEER,
    age_flow,
    last,
    link,
    open_ticket,
    said_on,
    ticket,
)
from ticketing import conversation as c
from ticketing import service
from ticketing.models import ChatState, Ticket, TicketImage, TicketMessage

KNOWN = c.Facts(province="สงขลา")
UNKNOWN = c.Facts()


# -- the state machine, with plain values ---------------------------------------------------------


def test_a_report_asks_the_province_first_then_opens_once_it_is_known_either_way():
    state, effects = c.step(c.Idle(), c.ReportAsked("แอปค้าง", "แจ้งปัญหา แอปค้าง"), UNKNOWN)
    assert state == c.AskingProvince(detail="แอปค้าง") and effects == [c.AskProvince()]
    typed = c.step(state, c.ProvinceText("สงขลา", "สงขลา", "จ.สงขลา"), UNKNOWN)
    tapped = c.step(state, c.ProvincePicked("สงขลา"), UNKNOWN)
    for after, done in (typed, tapped):
        assert after == c.Idle()
        assert done[0] == c.SetProvince("สงขลา") and done[-1] == c.OpenTicket("แอปค้าง")


def test_describe_then_add_words_then_confirm():
    state, effects = c.step(c.Idle(), c.ReportAsked(), KNOWN)
    assert (state, effects) == (c.Describing(), [c.AskDescription()])
    state, effects = c.step(state, c.Text("ส่งไม่ได้"), KNOWN)
    assert state == c.Confirming("ส่งไม่ได้")
    # typed words mean nothing special while describing: "อำเภอ …" is more description
    state, effects = c.step(state, c.DistrictText("เมือง", "อำเภอเมือง"), KNOWN)
    assert state == c.Confirming("ส่งไม่ได้\nอำเภอเมือง")
    assert effects == [c.ShowDraft("ส่งไม่ได้\nอำเภอเมือง", 0)]
    assert c.step(state, c.Confirm(), KNOWN) == (c.Idle(), [c.OpenTicket(state.description)])


def test_a_screenshot_out_of_the_blue_is_kept_and_offered_then_its_report_takes_it():
    state, effects = c.step(c.Idle(), c.Image(PNG), KNOWN)
    assert state == c.ImageOffer(1) and effects == [c.KeepDraftImage(PNG), c.OfferReport(1)]
    state, effects = c.step(state, c.Image(JPEG), KNOWN)
    assert state == c.ImageOffer(2)
    # a question meanwhile goes to the FAQ and the offer stays
    assert c.step(state, c.Text("ลืมรหัสผ่าน"), KNOWN) == (state, [c.AskFaq("ลืมรหัสผ่าน")])
    after, effects = c.step(state, c.ReportWithImage(), KNOWN)
    assert after == c.Confirming(c.SCREENSHOT_ONLY, 2)
    after, _ = c.step(after, c.Text("กดบันทึกแล้วค้าง"), KNOWN)
    assert after.description == "กดบันทึกแล้วค้าง"  # the words replace the stand-in


def test_a_replying_coordinator_sends_every_typed_word_but_can_still_cancel():
    state = c.Replying(7)
    coordinator = c.Facts(coordinator=True)
    for words in (
        c.ProvinceText("สงขลา", "สงขลา", "จังหวัดสงขลา"),
        c.ReportAsked("x", "แจ้งปัญหา x"),
        c.Text("ลองใหม่ครับ"),
    ):
        after, effects = c.step(state, words, coordinator)
        assert after == c.Idle() and effects[0] == c.Answer(7, words.text)
    assert c.step(state, c.CancelWord("ยกเลิก"), coordinator) == (
        c.Idle(),
        [c.DropDrafts(), c.Cancelled()],
    )
    assert c.step(state, c.Register("AB-CD-EF", "…"), coordinator)[1] == [
        c.LinkCoordinator("AB-CD-EF")
    ]
    # a picture keeps the step open: words usually follow
    after, effects = c.step(state, c.Image(JPEG), coordinator)
    assert after == state and effects[0] == c.Answer(7, "(ภาพ)", JPEG)


def test_the_province_asked_on_follow_gives_way_to_a_question():
    state, effects = c.step(c.Idle(), c.Followed(), UNKNOWN)
    assert state == c.AskingProvince(soft=True) and effects == [c.AskProvince(soft=True)]
    assert c.step(state, c.Text("ลืมรหัสผ่าน"), UNKNOWN) == (c.Idle(), [c.AskFaq("ลืมรหัสผ่าน")])
    assert c.step(state, c.Text("สุราษ", "สุราษฎร์ธานี"), UNKNOWN) == (
        state,
        [c.ConfirmProvince("สุราษฎร์ธานี")],
    )
    # for a report, an answer that is no province asks again
    waiting = c.AskingProvince("x")
    assert c.step(waiting, c.Text("ไม่ใช่"), UNKNOWN) == (waiting, [c.AskProvince(again=True)])


def test_the_faq_report_topic_starts_a_report_when_idle_and_repeats_the_question_in_a_step():
    assert c.step(c.ImageOffer(2), c.ReportChosen(), KNOWN)[0] == c.Confirming(c.SCREENSHOT_ONLY, 2)
    describing = c.Describing(1)
    assert c.step(describing, c.ReportChosen(), KNOWN) == (describing, [c.AskDescription()])
    assert c.step(c.Replying(3), c.ReportChosen(), KNOWN)[1] == [c.AskAnswer(3)]


def test_a_volunteers_words_join_their_open_ticket_a_coordinators_picture_is_only_noted():
    on_ticket = c.Facts(province="สงขลา", active_ticket=5)
    assert c.step(c.Idle(), c.Text("ยังไม่ได้"), on_ticket)[1] == [c.AddToTicket(5, "ยังไม่ได้")]
    assert c.step(c.Idle(), c.Image(PNG), on_ticket)[1] == [
        c.AddToTicket(5, c.SCREENSHOT_ONLY, PNG)
    ]
    coordinator = c.Facts(coordinator=True)
    assert c.step(c.Idle(), c.Image(PNG), coordinator) == (c.Idle(), [c.ImageNoted()])
    assert c.step(c.Idle(), c.Image(None, too_large=True), KNOWN)[1] == [c.ImageUnusable(True)]


SAMPLE_STATES = [
    c.Idle(),
    c.AskingProvince("x", 1),
    c.AskingProvince(soft=True),
    c.Describing(2),
    c.Confirming("y", 3),
    c.ImageOffer(1),
    c.Replying(4),
    c.Resolving(5),
]
SAMPLE_INPUTS = [
    c.Text("t", "สงขลา"),
    c.CancelWord("ยกเลิก"),
    c.Register("CODE-12", "ลงทะเบียนผู้ประสานงาน CODE-12"),
    c.ProvinceText("ส", None, "จังหวัด ส"),
    c.DistrictText("d", "อำเภอ d"),
    c.StatusAsked(),
    c.ReportAsked("x"),
    c.Image(PNG),
    c.Image(None),
    c.ReportChosen(),
    c.StatusChosen(),
    c.Followed(),
    c.Confirm(),
    c.CancelButton(),
    c.ReportWithImage(),
    c.ProvincePicked("สงขลา"),
    c.StartReply(1),
    c.StartResolve(1),
    c.Claim(1),
    c.Escalate(1),
    c.Rate(1, 5),
]


@pytest.mark.parametrize("state", SAMPLE_STATES, ids=lambda s: type(s).__name__)
def test_every_input_has_a_rule_in_every_state_and_every_state_is_stored_as_it_was(state):
    for facts in (UNKNOWN, KNOWN, c.Facts(coordinator=True), c.Facts("สงขลา", False, 9)):
        for given in SAMPLE_INPUTS:
            after, effects = c.step(state, given, facts)
            assert type(after).__name__ in c.STATES and isinstance(effects, list)
    name, version, data = c.dump(state)
    assert c.load(name, version, data) == state
    assert len(str(data)) < 200  # small: counts and ids, never pictures


def test_a_stored_state_this_code_does_not_know_is_read_as_idle():
    assert c.load("ticket-describe", 1, {}) == c.Idle()  # a name from before the rewrite
    assert c.load("Confirming", c.VERSION + 1, {"description": "x"}) == c.Idle()
    assert c.load("Confirming", c.VERSION, {"nonsense": 1}) == c.Idle()


class Watched:
    """The LINE adapter, noting for each read whether a database connection was checked out
    (an open transaction) when it was made."""

    def __init__(self, line, engine) -> None:
        self._line, self._engine = line, engine
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str):
        method = getattr(self._line, name)
        if name not in ("get_content", "get_profile"):
            return method

        def watched(*args, **kwargs):
            self.calls.append((name, self._engine.pool.checkedout()))
            return method(*args, **kwargs)

        return watched


def test_pictures_and_profiles_are_fetched_with_no_transaction_open(runtime, bot, sim):
    watched = Watched(runtime.line, runtime.engine)
    runtime.__dict__["line"] = watched
    sim_send(sim[1].url, user=VOLUNTEER, type="follow", name="สมศรี")
    set_province(runtime)
    sim_send(sim[1].url, user=VOLUNTEER, text="แจ้งปัญหา")
    send_image(sim, PNG)
    assert {name for name, _ in watched.calls} == {"get_content", "get_profile"}
    assert [open_ for _, open_ in watched.calls] == [0] * len(watched.calls)
    assert [d.content for d in drafts(runtime)] == [PNG]


def test_the_handler_has_no_line_client():
    """LINE calls happen before the handling transaction (prefetch), never inside it."""
    assert "line" not in {f.name for f in fields(EventContext)}


def test_durations_under_a_minute_are_said_in_seconds():
    assert thai_duration(0.4) == "1 วินาที"
    assert thai_duration(30) == "30 วินาที"
    assert thai_duration(1800) == "30 นาที"
    assert thai_duration(5400) == "1 ชั่วโมง 30 นาที"


# -- what is stored -------------------------------------------------------------------------------


def drafts(runtime, user=VOLUNTEER) -> list[TicketImage]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(TicketImage).where(
                    TicketImage.owner == user, TicketImage.ticket_id.is_(None)
                )
            )
        )


def set_province(runtime, user=VOLUNTEER, province="สงขลา") -> None:
    with transaction(runtime.sessions) as session:
        service.set_province(session, user, province, runtime.faq.directory)


def send_image(sim, content: bytes, user=VOLUNTEER) -> None:
    sim_send(sim[1].url, user=user, image=base64.b64encode(content).decode())


def test_draft_screenshots_are_rows_not_base64_in_the_state_and_join_the_ticket(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สงขลา")
    set_province(runtime)
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา")
    send_image(sim, PNG)
    send_image(sim, JPEG)
    assert [d.content for d in drafts(runtime)] == [PNG, JPEG]
    with runtime.sessions() as session:
        stored = session.get(ChatState, VOLUNTEER)
        assert (stored.state, stored.version) == ("Confirming", c.VERSION)
        assert stored.data == {"description": c.SCREENSHOT_ONLY, "images": 2}
    sim_send(url, user=VOLUNTEER, text="แอปเด้ง")
    sim_send(url, user=VOLUNTEER, postback="action=ticket-confirm")
    assert drafts(runtime) == []
    with runtime.sessions() as session:
        attached = session.scalars(select(TicketImage.ticket_id)).all()
    assert attached == [1, 1]


def test_cancelling_a_report_drops_its_screenshots(runtime, bot, sim):
    set_province(runtime)
    sim_send(sim[1].url, user=VOLUNTEER, text="แจ้งปัญหา")
    send_image(sim, PNG)
    sim_send(sim[1].url, user=VOLUNTEER, text="ยกเลิก")
    assert drafts(runtime) == []
    assert "ยกเลิก" in last(sim, VOLUNTEER)["text"]


def test_the_sweep_drops_the_screenshots_of_expired_steps_only(runtime, bot, sim):
    other = "U" + "9" * 32
    send_image(sim, PNG)
    send_image(sim, JPEG, user=other)
    with transaction(runtime.sessions) as session:  # the old screenshot is as old as its step
        for image in session.scalars(select(TicketImage).where(TicketImage.owner == VOLUNTEER)):
            image.created_at -= timedelta(hours=3)
    age_flow(runtime, VOLUNTEER, hours=3)
    sweep_tickets(runtime)
    assert drafts(runtime) == [] and len(drafts(runtime, other)) == 1


def test_a_report_holds_at_most_five_screenshots(runtime, bot, sim):
    set_province(runtime)
    sim_send(sim[1].url, user=VOLUNTEER, text="แจ้งปัญหา")
    for _ in range(6):
        send_image(sim, PNG)
    assert "สูงสุด 5 ภาพ" in last(sim, VOLUNTEER)["text"]
    assert len(drafts(runtime)) == 5


def test_an_open_ticket_takes_at_most_ten_screenshots(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    opened = open_ticket(runtime, sim)
    for _ in range(service.MAX_TICKET_SCREENSHOTS + 1):
        send_image(sim, PNG)
    assert "ครบ 10 ภาพ" in last(sim, VOLUNTEER)["text"]
    with runtime.sessions() as session:
        assert len(service.image_ids(session, opened.id)) == service.MAX_TICKET_SCREENSHOTS
    relayed = [m for m in sim_messages(sim[1].url, PROVINCE_COORD) if m["type"] == "image"]
    assert len(relayed) == service.MAX_TICKET_SCREENSHOTS


def test_a_long_description_and_a_long_answer_are_kept_whole(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สงขลา")
    set_province(runtime)
    url = sim[1].url
    description = "แอปค้างตอนส่งข้อมูล " * 220  # ~4,400 characters, under LINE's 5,000
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา")
    sim_send(url, user=VOLUNTEER, text=description)
    sim_send(url, user=VOLUNTEER, postback="action=ticket-confirm")
    assert ticket(runtime, 1).description == description.strip()
    answer = "ลองทำตามนี้ครับ " * 200  # 3,200 characters
    sim_send(url, user=PROVINCE_COORD, postback="action=claim&t=1")
    sim_send(url, user=PROVINCE_COORD, postback="action=reply&t=1")
    sim_send(url, user=PROVINCE_COORD, text=answer)
    assert answer.strip() in last(sim, VOLUNTEER)["text"]
    assert said_on(runtime, 1)[-1] == answer.strip()


def test_a_tickets_messages_are_rows_a_second_writer_cannot_lose(runtime, bot, sim):
    opened = open_ticket(runtime, sim, province="ยะลา")
    first, second = runtime.sessions(), runtime.sessions()
    try:
        seen_first = first.get(Ticket, opened.id)
        seen_second = second.get(Ticket, opened.id)  # both read before either writes
        service.volunteer_message(first, seen_first, "จากบอท")
        first.commit()
        service.volunteer_message(second, seen_second, "จากหน้าจอเจ้าหน้าที่")
        second.commit()
    finally:
        first.close()
        second.close()
    assert said_on(runtime, opened.id)[-2:] == ["จากบอท", "จากหน้าจอเจ้าหน้าที่"]


def test_questions_asked_before_begin_the_tickets_conversation(runtime, bot, sim):
    set_province(runtime)
    url = sim[1].url
    sim_send(url, user=VOLUNTEER, text="ลืมรหัสผ่าน")
    sim_send(url, user=VOLUNTEER, text="แจ้งปัญหา รีเซ็ตแล้วก็เข้าไม่ได้")
    with runtime.sessions() as session:
        (asked,) = session.scalars(select(TicketMessage)).all()
    assert (asked.text, asked.faq_topic, asked.sender) == (
        "ลืมรหัสผ่าน",
        "forgot-password",
        "volunteer",
    )


def test_a_ticket_opened_with_a_short_escalation_says_seconds_or_at_once(runtime, bot, sim):
    runtime.settings = replace(
        runtime.settings, escalate_region_after_s=30, escalate_central_after_s=0
    )
    runtime.__dict__.pop("timings", None)
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    open_ticket(runtime, sim)
    opened = last(sim, VOLUNTEER)["text"]
    assert "ภายใน 30 วินาที" in opened and "0 นาที" not in opened
    # At region the next move is central's deadline: nothing, so "at once".
    link(runtime, REGION_COORD, "region", region="ภาคเหนือ")
    open_ticket(runtime, sim, user="U" + "8" * 32, province="เชียงใหม่")
    opened = last(sim, "U" + "8" * 32)["text"]
    assert "ทันที" in opened and "ภายใน" not in opened


def test_the_display_name_is_fetched_before_the_transaction_when_a_ticket_opens(runtime, bot, sim):
    sim[0].ensure_user(VOLUNTEER, "สมหญิง")
    set_province(runtime)
    sim_send(sim[1].url, user=VOLUNTEER, text="ลืมรหัสผ่าน")  # no ticket: no profile needed
    with runtime.sessions() as session:
        assert service.volunteer(session, VOLUNTEER).display_name is None
    sim_send(sim[1].url, user=VOLUNTEER, text="แจ้งปัญหา เข้าแอปไม่ได้")
    assert ticket(runtime, 1).display_name == "สมหญิง"


# -- the FAQ: one path for a topic typed or tapped ------------------------------------------------


def tap_topic(sim, topic: str) -> None:
    sim_send(sim[1].url, user=VOLUNTEER, postback=f"action=faq-topic&topic={topic}")


def test_tapping_the_report_topic_starts_a_report(runtime, bot, sim):
    set_province(runtime)
    tap_topic(sim, "open-ticket")
    assert "อธิบายปัญหา" in last(sim, VOLUNTEER)["text"]
    sim_send(sim[1].url, user=VOLUNTEER, text="ลืมรหัสผ่านแล้วรีเซ็ตไม่ได้")
    sim_send(sim[1].url, user=VOLUNTEER, postback="action=ticket-confirm")
    assert ticket(runtime, 1).description == "ลืมรหัสผ่านแล้วรีเซ็ตไม่ได้"


def test_tapping_the_status_topic_lists_the_tickets(runtime, bot, sim):
    link(runtime, PROVINCE_COORD, "province", "สุราษฎร์ธานี")
    open_ticket(runtime, sim)
    tap_topic(sim, "ticket-status")
    assert "BMN-000001" in last(sim, VOLUNTEER)["text"]


def test_tapping_the_provincial_coordinator_topic_uses_the_registered_province(runtime, bot, sim):
    set_province(runtime, province="สงขลา")
    tap_topic(sim, "coordinator-province")
    said = last(sim, VOLUNTEER)["text"]
    assert "สงขลา" in said and "จังหวัดไหน" not in said


def test_a_report_topic_that_is_only_the_closer_of_two_is_offered_not_acted_on(
    runtime, bot, sim, monkeypatch
):
    choices = (
        ("open-ticket", "แจ้งปัญหา", "แจ้งปัญหา"),
        ("contact-channels", "ช่องทางติดต่อ", "ช่องทางติดต่อ"),
    )
    close = Reply(Kind.CHOOSE, "เลือกหัวข้อ", "open-ticket", 0.7, "contact-channels", 0.69)
    close = replace(close, choices=choices)
    monkeypatch.setattr(runtime.faq, "respond", lambda question, **_: close)
    set_province(runtime)
    sim_send(sim[1].url, user=VOLUNTEER, text="ขอแจ้งเรื่องหน่อย")
    offered = last(sim, VOLUNTEER)
    topics = [i["action"].get("data", "") for i in offered["quickReply"]["items"]]
    assert "action=faq-topic&topic=open-ticket" in topics
    with runtime.sessions() as session:
        assert session.get(ChatState, VOLUNTEER) is None  # no report begun


# -- migration 0007 -------------------------------------------------------------------------------


def test_0007_turns_each_tickets_json_conversation_into_rows_and_back(database_url):
    engine = make_engine(database_url)
    reset_schema(engine)
    conversation = [
        {"from": "volunteer", "text": "ลืมรหัสผ่าน", "faq": "forgot-password"},
        {"from": "volunteer", "text": "(ภาพหน้าจอ)", "image": 1},
        {"from": "coordinator", "text": "รีเซ็ตให้แล้ว"},
    ]
    try:
        migrate.upgrade(database_url, "0005")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tickets (id, user_id, province, region, description, "
                    "conversation, state, level, created_at, claimed_by) VALUES (1, 'U1', "
                    "'สงขลา', 'ภาคใต้', 'x', :c, 'claimed', 'province', CURRENT_TIMESTAMP, NULL)"
                ),
                {"c": json.dumps(conversation)},
            )
            conn.execute(
                text(
                    "INSERT INTO ticket_images (id, ticket_id, content, content_type, sender, "
                    "created_at) VALUES (1, 1, :png, 'image/png', 'volunteer', CURRENT_TIMESTAMP)"
                ),
                {"png": PNG},
            )
        migrate.upgrade(database_url, "0007")
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT sender, text, image_id, faq_topic FROM ticket_messages ORDER BY id")
            ).all()
            owner = conn.execute(text("SELECT owner FROM ticket_images")).scalar_one()
        assert [tuple(r) for r in rows] == [
            ("volunteer", "ลืมรหัสผ่าน", None, "forgot-password"),
            ("volunteer", "(ภาพหน้าจอ)", 1, None),
            ("coordinator", "รีเซ็ตให้แล้ว", None, None),
        ]
        assert owner == "U1"
        migrate.downgrade(database_url, "0005")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT conversation FROM tickets")).scalar_one()
        assert (json.loads(back) if isinstance(back, str) else back) == conversation
    finally:
        reset_schema(engine)
        engine.dispose()
