"""The FAQ through the bot and the LINE simulator, as a volunteer meets it."""

from __future__ import annotations

from sqlalchemy import select

from faq.models import FaqAnswer, UnansweredQuestion
from faq.service import NO_MATCH, WRONG_ANSWER
from handlers.postback import UNKNOWN_ACTION
from tests.conftest import sim_messages, sim_send

USER = "U" + "9" * 32


def chat(sim, text=None, postback=None) -> dict:
    before = len(sim_messages(sim[1].url, USER))
    body = {"text": text} if text is not None else {"postback": postback}
    sim_send(sim[1].url, user=USER, **body)
    messages = sim_messages(sim[1].url, USER)
    assert len(messages) == before + 1
    return messages[-1]


def quick_items(message: dict) -> list[dict]:
    return [item["action"] for item in message.get("quickReply", {}).get("items", [])]


def rows(runtime, model):
    with runtime.sessions() as session:
        return session.scalars(select(model).order_by(model.id)).all()


def test_a_confident_match_is_answered_with_a_way_out(runtime, bot, sim):
    message = chat(sim, "ลืมพาสเวิร์ดเข้าแอพค่ะ")
    assert "ลืมรหัสผ่าน" in message["text"] and message["via"] == "reply"
    labels = [a["label"] for a in quick_items(message)]
    assert "ไม่ตรงคำถาม" in labels and "คุยกับเจ้าหน้าที่" in labels
    (answer,) = rows(runtime, FaqAnswer)
    assert (answer.topic_id, answer.outcome) == ("forgot-password", "answer")
    assert 0 < answer.score <= 1 and answer.user_id == USER


def test_two_close_candidates_are_offered_as_choices(runtime, bot, sim, faq_service):
    message = chat(sim, "แอป")
    postbacks = [a for a in quick_items(message) if a["type"] == "postback"]
    assert len(postbacks) == 2
    picked = postbacks[0]
    answer = chat(sim, postback=picked["data"])
    assert answer["text"] == faq_service.answer(picked["data"].split("topic=")[1]).text
    outcomes = [(r.outcome, r.topic_id) for r in rows(runtime, FaqAnswer)]
    assert outcomes[0][0] == "choose"
    assert outcomes[1] == ("chosen", picked["data"].split("topic=")[1])


def test_no_match_says_so_offers_a_ticket_and_keeps_the_question(runtime, bot, sim):
    message = chat(sim, "ขอสูตรต้มยำกุ้งน้ำข้น")
    assert message["text"] == NO_MATCH
    assert "แจ้งปัญหา" in [a.get("text") for a in quick_items(message)]
    (kept,) = rows(runtime, UnansweredQuestion)
    assert (kept.question, kept.reason, kept.reviewed) == ("ขอสูตรต้มยำกุ้งน้ำข้น", "no-match", False)


def test_not_this_answer_keeps_the_question_for_staff(runtime, bot, sim):
    chat(sim, "แอปค้างบ่อยมาก")
    message = chat(sim, "ไม่ตรงคำถาม")
    assert message["text"] == WRONG_ANSWER
    (kept,) = rows(runtime, UnansweredQuestion)
    assert (kept.question, kept.reason, kept.best_guess) == (
        "แอปค้างบ่อยมาก",
        "wrong-answer",
        "app-crash",
    )


def test_forged_postback_changes_nothing(runtime, bot, sim):
    message = chat(sim, postback="action=faq-topic&topic=../../admin")
    assert message["text"] == UNKNOWN_ACTION
    assert rows(runtime, FaqAnswer) == []


def test_greeting_and_thanks(runtime, bot, sim):
    assert "ยินดีต้อนรับ" in chat(sim, "สวัสดีค่ะ")["text"]
    assert "ยินดีครับ" in chat(sim, "ขอบคุณมากครับ")["text"]
