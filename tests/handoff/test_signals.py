"""The gate's signals that need no model: requests for a person, topics, questions, length,
refusals in a row, and rephrasing (over the hashing embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.gate import Gate, GateVerdict, PastTurn, refusals_in_a_row
from handoff.questions import count_questions
from handoff.requests import RequestFinder, respelled
from handoff.settings import GateSettings
from knowledge.embedding import HashingEmbedder

DATA = Path(__file__).resolve().parents[2] / "eval" / "data"


def lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


@pytest.fixture
def gate() -> Gate:
    return Gate(GateSettings(), sentiment=None, embedder=HashingEmbedder())


def before(gate: Gate, text: str, language: str = "en") -> GateVerdict:
    return gate.before_answer(text, language, [])


# ---- explicit requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "我要找真人客服",
        "請問可以幫我轉人工嗎？謝謝",
        "叫你們主管出來！",
        "我要跟人講話",
        "不要再機器人了，給我真人",
        "麻煩請專人打電話給我",
        "可以轉接客服人員嗎",
        "找主管",
        "可以幫我轉接專員嗎？",
        "有沒有人可以直接跟我講話",
        "人工服務 您好 在嗎",
        "有客服人員可以協助嗎",
    ],
)
def test_zh_requests_for_a_person_hand_off(gate: Gate, text: str) -> None:
    verdict = before(gate, text, "zh")
    assert verdict.trigger == "explicit_request"
    assert isinstance(verdict.value, str) and verdict.value in " ".join(text.split())


@pytest.mark.parametrize(
    "text",
    [
        "agent",
        "Representative, please.",
        "Could I please speak with a human?",
        "let me talk to someone",
        "I want a manager NOW",
        "GET ME A REAL PERSON",
        "this bot is useless, transfer me to an agent",
        "Would it be possible to talk to a customer service representative?",
        "Can a human help me with this?",
        "connect me with your staff",
        "how do I contact an agent",
        "is there any person available?",
        "is there someone I can talk to?",
        "you're not helping, I need to speak with a fucking human",
        # typed in a hurry
        "can you speak with omeone?",
        "I need help speaking wiht a human",
        "help me ocntact an agent",
        "can you speakwith a human?",
        "I need assistance chatting witth a person",
        "could u contact a eprson?",
        "how can i speak with an assistant",
        "could you tell me if there is someone available?",
    ],
)
def test_en_requests_for_a_person_hand_off(gate: Gate, text: str) -> None:
    assert before(gate, text).trigger == "explicit_request"


@pytest.mark.parametrize(
    "text",
    [
        "Is the store manager's name on the receipt?",
        "Does the manager approve refunds?",
        "What are your customer service hours?",
        "Are you a real person?",
        "Can someone else pick up my parcel?",
        "主管機關是哪個單位？",
        "客服電話幾號？",
        "有專人到府安裝嗎？",
        "我想找個人均消費五百元的餐廳",
        "理財專員的電話是幾號？",
        "人工費用怎麼算？",
        "How do I contact the seller about a missing item?",
        # a word one slip from a key word is not always a slip
        "I wish to walk in and pick it up",
        "Can I talk with the virtual assistant in the app?",
        "Is the tall person in the photo a model?",
    ],
)
def test_neutral_mentions_of_people_stay_with_the_bot(gate: Gate, text: str) -> None:
    assert before(gate, text).signals["explicit_request"] is None


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("speak wiht omeone", "speak with someone"),
        ("ocntact a persn", "contact a person"),
        ("speakwith a huma agent", "speak with a human agent"),
        ("isthere sopmeone", "is there someone"),
        ("I wish to walk", "I wish to walk"),  # other words, not slips
        ("LINE Pay 付款", "LINE Pay 付款"),
    ],
)
def test_mistyped_key_words_are_read_as_meant(typed: str, read: str) -> None:
    assert respelled(typed) == read


def test_every_written_request_is_caught() -> None:
    finder = RequestFinder()
    asked = lines("explicit_requests.txt")
    assert len(asked) >= 60
    assert [t for t in asked if finder.find(t) is None] == []


def test_written_near_misses_do_not_fire() -> None:
    finder = RequestFinder()
    assert [t for t in lines("explicit_near_misses.txt") if finder.find(t)] == []


def test_extra_request_phrases_from_settings() -> None:
    gate = Gate(GateSettings(extra_request_phrases=[r"\bcall me back\b"]), None)
    assert before(gate, "please call me back").trigger == "explicit_request"


def test_a_switched_off_signal_is_recorded_but_does_not_fire() -> None:
    gate = Gate(GateSettings(explicit_request=False), None)
    verdict = before(gate, "agent please")
    assert verdict.trigger is None
    assert verdict.signals["explicit_request"] == "agent please"


# ---- sensitive topics ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("我已經退貨兩週了還沒收到退款", "refund_dispute"),
        ("You charged me twice for one order", "refund_dispute"),
        ("I still haven't received my refund", "refund_dispute"),
        ("我要客訴你們的送貨員", "complaint"),
        ("I want to file a complaint about the driver", "complaint"),
        ("再不處理我就找律師", "legal_threat"),
        ("我要去找消保官", "legal_threat"),
        ("I'm going to sue you", "legal_threat"),
        ("My lawyer will contact you", "legal_threat"),
        ("我的信用卡被盜刷了", "fraud"),
        ("This looks like a scam", "fraud"),
        ("我的帳號被盜了", "account_security"),
        ("My account was hacked", "account_security"),
        ("我要解約", "cancellation"),
        ("請幫我取消會員", "cancellation"),
        ("Please cancel my account", "cancellation"),
        ("你們不退款我就去消保官檢舉", "legal_threat"),
        ("I'll report you to consumer affairs", "complaint"),
    ],
)
def test_sensitive_topics(text: str, topic: str) -> None:
    # cancellation is built in but off by default: a shop turns it on to keep leavers
    settings = GateSettings(sensitive_topics=[*GateSettings().sensitive_topics, "cancellation"])
    gate = Gate(settings, sentiment=None, embedder=HashingEmbedder())
    language = "en" if text.isascii() else "zh"
    verdict = gate.before_answer(text, language, [])
    assert (verdict.trigger, verdict.value) == ("sensitive_topic", topic)


def test_by_default_a_customer_who_cancels_stays_with_the_bot(gate: Gate) -> None:
    assert "cancellation" not in GateSettings().sensitive_topics
    assert before(gate, "我要解約", "zh").trigger is None


@pytest.mark.parametrize(
    "text",
    [
        "How do I get a refund?",
        "退款要多久？",
        "How do I cancel an order?",
        "How do I change my password?",
        "Can my name be Sue on the gift card?",
        "向法院提起行政訴訟要準備什麼？",
        "怎麼取消會員",
        "how do I delete my account",
        "I'd like to cancel my membership, how do I do that?",
        "帳號被鎖住了要怎麼解開",
        "密碼忘了",
        "退款多久會入帳",
        "不想收電子報了",
    ],
)
def test_plain_questions_near_sensitive_topics_stay(gate: Gate, text: str) -> None:
    assert before(gate, text).signals["sensitive_topic"] is None


def test_topics_come_from_settings() -> None:
    settings = GateSettings(
        sensitive_topics=["fraud"], extra_sensitive_topics={"recall": [r"召回|\brecall\b"]}
    )
    gate = Gate(settings, None)
    assert before(gate, "Is this kettle part of the recall?").value == "recall"
    assert before(gate, "這批有召回嗎").value == "recall"
    assert before(gate, "This is a scam").value == "fraud"
    assert before(gate, "I want to sue you").trigger is None


def test_an_unknown_built_in_topic_is_an_error() -> None:
    with pytest.raises(ValueError, match="extra_sensitive_topics"):
        Gate(GateSettings(sensitive_topics=["refunds"]), None)


# ---- complexity and length -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "questions"),
    [
        ("運費多少？", 1),
        ("請問，運費多少？", 1),
        ("I want a refund.", 0),
        ("How do I return this, and how long does it take?", 2),
        ("營業時間幾點？運費多少？可以貨到付款嗎？", 3),
        ("請問退貨要怎麼辦理，需要附發票嗎，運費誰出？", 3),
        ("What are your hours? Do you ship to Taichung? And can I pay by card?", 3),
        ("我想問三件事：1. 運費 2. 退貨期限 3. 發票怎麼開", 3),
        ("第一，運費多少；第二，可以刷卡嗎；第三，幾天到貨", 3),
        ("1) shipping cost\n2) return window\n3) can I pay by card?", 3),
    ],
)
def test_question_counting(text: str, questions: int) -> None:
    assert count_questions(text) == questions


def test_several_questions_hand_off(gate: Gate) -> None:
    text = "What are your hours? Do you ship to Taichung? Can I pay by card? And by LINE Pay?"
    verdict = before(gate, text)
    assert (verdict.trigger, verdict.value) == ("complex_question", 4)
    # three in one message is a customer being thorough, not a case for a person
    three = "What are your hours? Do you ship to Taichung? Can I pay by card?"
    assert before(gate, three).trigger is None


def test_long_messages_hand_off_by_language(gate: Gate) -> None:
    zh = "我上個月買的外套收到時拉鍊就壞了" * 20  # 320 characters
    assert gate.before_answer(zh, "zh", []).trigger == "long_message"
    assert gate.before_answer(zh[:200], "zh", []).trigger is None
    en = "The zipper of the jacket I bought last month was broken when it arrived. " * 13
    assert gate.before_answer(en, "en", []).trigger == "long_message"
    assert gate.before_answer(en[:600], "en", []).trigger is None


# ---- repeated failure ----------------------------------------------------------------------------


def turn(text: str, decision: str | None) -> PastTurn:
    return PastTurn(text, decision, None)


def test_second_refusal_in_a_row_hands_off(gate: Gate) -> None:
    past = [turn("do you sell gift cards", "refused")]
    text = "what about vouchers"
    verdict = gate.after_answer(text, "refused", before(gate, text), past)
    assert (verdict.trigger, verdict.value) == ("repeated_refusals", 2)
    assert verdict.signals["refusals_in_a_row"] == 2


def test_refusals_must_be_in_a_row() -> None:
    assert refusals_in_a_row("refused", [turn("a", "refused"), turn("b", "answered")]) == 1
    assert refusals_in_a_row("answered", [turn("a", "refused")]) == 0
    # A message the bot did not reply to neither counts nor breaks the run.
    assert refusals_in_a_row("refused", [turn("a", "refused"), turn("b", None)]) == 2
    assert refusals_in_a_row("refused", [turn("a", "refused")] * 3) == 4


def test_refusal_count_is_a_setting() -> None:
    gate = Gate(GateSettings(refusals_in_a_row=3), None)
    past = [turn("do you sell gift cards", "refused")]
    verdict = gate.after_answer("vouchers?", "refused", before(gate, "vouchers?"), past)
    assert verdict.trigger is None


def test_the_same_question_again_after_a_refusal_hands_off(gate: Gate) -> None:
    past = [turn("how do I reset my password", "refused")]
    text = "How do I reset my password?"
    verdict = gate.after_answer(text, "clarifying", before(gate, text), past)
    assert verdict.trigger == "rephrased_question"
    assert isinstance(verdict.value, float) and verdict.value >= 0.91


def test_rephrasing_does_not_fire_when_it_is_no_repeat_or_worked(gate: Gate) -> None:
    refused = [turn("how do I reset my password", "refused")]
    other = "do you deliver to Kinmen"
    assert gate.after_answer(other, "clarifying", before(gate, other), refused).trigger is None
    # Asked again and answered this time: the rephrasing helped.
    again = "How do I reset my password?"
    assert gate.after_answer(again, "answered", before(gate, again), refused).trigger is None
    # After an answer the same words are, by default, no sign the bot failed.
    answered = [turn("how do I reset my password", "answered")]
    verdict = gate.after_answer(again, "clarifying", before(gate, again), answered)
    assert verdict.trigger is None
    assert verdict.signals["rephrase_similarity"] is None


def test_after_answer_keeps_the_earlier_trigger_and_adds_its_signals(gate: Gate) -> None:
    past = [turn("do you sell gift cards", "refused")]
    first = before(gate, "transfer me to an agent")
    verdict = gate.after_answer("transfer me to an agent", "refused", first, past)
    assert verdict.trigger == "explicit_request"
    assert verdict.signals["refusals_in_a_row"] == 2
    assert set(first.signals) < set(verdict.signals)


def test_without_a_sentiment_model_the_message_scores_zero(gate: Gate) -> None:
    verdict = before(gate, "This is the worst shop ever!!!")
    assert verdict.sentiment == 0.0
    assert verdict.signals["sentiment"] is None
    assert {"explicit_request", "sensitive_topic", "questions", "length"} <= set(verdict.signals)
