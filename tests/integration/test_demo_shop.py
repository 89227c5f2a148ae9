"""A fixed, stable sample of the demo-shop question sets (eval/data/demo_questions.tsv) through
the real wiring and models: a regression in retrieval, refusal or the gate that costs the demo
its everyday answers fails here. The full measurement is `python -m eval.demo_shop`."""

from __future__ import annotations

import pytest

from bot.conversation.events import Decision
from bot.conversation.service import ConversationService
from eval.demo_shop import Asked, Question, ask, demo_service, load_questions

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("models")]

# Customers' wordings across every sheet and file, typos (媽), polite wrappers, English, and an
# English question whose answer is only in Chinese; their expected items are in the TSV.
ANSWERABLE = (
    "請問退貨流程是什麼",
    "7天鑑賞期是從哪天開始算？",
    "退貨要付運費媽？",
    "我用信用卡付的，刷退要多久？",
    "拆封過的化妝品可以退嗎",
    "收到東西是壞的怎麼辦",
    "可以拿去7-11退貨嗎",
    "宅配可以指定下午送到嗎",
    "滿幾元免運費？",
    "預購商品要等多久",
    "可以用街口付款嗎？",
    "ATM轉帳要在幾天內付款",
    "我要打統編，結帳時怎麼選",
    "可以用line points折抵嗎",
    "生日有禮物嗎",
    "密碼忘了登不進去怎麼辦",
    "家電保固多久",
    "保固過期維修要收多少錢",
    "我想取消訂單",
    "地址填錯了可以改嗎",
    "網站有用cookie嗎",
    "麻煩一下，家電壞掉保固要怎麼申請",
    "How long does shipping take?",
    "whats the minimum for free shipping",
    "I bought something on sale, can I still return it?",
    "What payment methods do you take?",
    "I need a receipt in English please",
    "What's covered by the warranty?",
    "What are your customer service hours?",
    "is 超商取貨 shipping free",
)
# On the shop's subject but not in its knowledge, and off-topic.
HELD_BACK = (
    "有禮品包裝服務嗎",
    "有賣禮物卡或禮券嗎",
    "學生有折扣嗎",
    "有最低價保證嗎",
    "Do you offer gift wrapping?",
    "Is there a mobile app?",
    "今天台北天氣如何",
    "高鐵票要怎麼訂",
    "Who won the World Cup in 2022?",
    "Recommend a good movie for tonight",
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ConversationService:
    """The demo shop ingested once with the real models, on `build_services`' wiring."""
    conversations, _ = demo_service(tmp_path_factory.mktemp("demo_shop") / "data")
    return conversations


def picked(texts: tuple[str, ...]) -> list[Question]:
    by_text = {q.text: q for q in load_questions()}
    missing = [t for t in texts if t not in by_text]
    assert not missing, f"no longer in eval/data/demo_questions.tsv: {missing}"
    return [by_text[t] for t in texts]


def _shown(asked: list[Asked]) -> list[str]:
    return [f"{a.question.text} → {a.decision} {a.reason} {a.cited[:1]}" for a in asked]


def test_everyday_questions_are_answered_from_the_right_item(service: ConversationService):
    questions = picked(ANSWERABLE)
    assert len(questions) == 30 and {q.kind for q in questions} == {"answerable"}
    asked = [ask(service, q) for q in questions]
    wrong = [a for a in asked if not a.right]
    # The refusal model holds near-domain questions back (fitted with each data set left out);
    # counting the question's own words, 27 of these 30 are answered from the right item (22
    # before), the others refused; a confident answer from the wrong item is the costly error.
    assert len(asked) - len(wrong) >= 25, _shown(wrong)
    confidently_wrong = [a for a in wrong if a.decision == Decision.ANSWERED]
    assert len(confidently_wrong) <= 2, _shown(confidently_wrong)
    # what the customer was shown as the source is the FAQ's question or a title, not a file
    assert all(".xlsx" not in a.cited_title and ".csv" not in a.cited_title for a in asked)


def test_questions_the_shop_cannot_answer_are_not_answered(service: ConversationService):
    questions = picked(HELD_BACK)
    assert {q.kind for q in questions} == {"near_domain", "off_topic"}
    asked = [ask(service, q) for q in questions]
    answered = [a for a in asked if a.decision == Decision.ANSWERED]
    assert len(answered) <= 2, _shown(answered)  # ≥ 80% held back


# Everyday phrasings kefu issue 10 found refused: a card that fails, mixed words, and English
# asked of knowledge that answers it in Chinese only (refused until rank agreement stopped
# counting, for such a turn, the rankings that cannot see the other language). Still refused,
# and kept in eval/data/demo_questions.tsv: 吹風機壞了保固多久, 欸我訂單都一個禮拜了還沒出貨是怎樣,
# 客服電話幾號, "can i pay cash when i pick up at 7-eleven"; 中了發票怎麼領 answered wrong.
ISSUE_PHRASINGS = (
    "信用卡刷不過怎麼辦",
    "點數會expire嗎",
    "我要報帳要打統編",
    "where is my order??",
)


def test_the_everyday_phrasings_of_the_issue_are_answered_from_the_right_item(
    service: ConversationService,
):
    asked = [ask(service, q) for q in picked(ISSUE_PHRASINGS)]
    wrong = [a for a in asked if not a.right]
    assert not wrong, _shown(wrong)


def test_an_english_question_answered_from_a_chinese_row_says_so(service: ConversationService):
    conversation = service.start("web")
    turn = service.send(conversation.id, "where is my order??").turn
    assert turn is not None and turn.event.decision == Decision.ANSWERED
    assert turn.event.citations[0].source == "orders_export.csv"
    assert "only available in Chinese" in turn.event.reply


def _first_turn(service: ConversationService, text: str):
    conversation = service.start("web")
    return service.send(conversation.id, text).turn


def test_calm_customers_with_complaint_words_stay_with_the_bot(service: ConversationService):
    # the written calm set (never fitted on): returns, refunds, defects, passwords, polite forms
    from eval.gate_corpora import project_lines

    calm = project_lines("gate_calm.txt")
    handed = []
    for text in calm:
        turn = _first_turn(service, text)
        assert turn is not None
        if turn.event.decision == Decision.HANDED_OFF:
            handed.append((text, turn.event.reason))
        # a calm customer is never told "sorry for the trouble"
        assert "acknowledged" not in turn.event.details, text
    assert len(handed) <= 0.02 * len(calm), handed


def test_upset_customers_reach_a_person_or_are_acknowledged(service: ConversationService):
    from eval.gate_corpora import project_lines

    angry = project_lines("gate_angry.txt")
    reached = 0
    for text in angry:
        turn = _first_turn(service, text)
        assert turn is not None
        event = turn.event
        if event.decision == Decision.HANDED_OFF or "acknowledged" in event.details:
            reached += 1
    # measured on the demo: 42 of 60 (zh 17 of 30, en 25 of 30); the rest are refused politely
    # with a person offered
    assert reached >= 0.5 * len(angry)


# English asked of knowledge that answers it in Chinese only: found by the words of customer
# service folded to one form across the languages (cancel = 取消, knowledge/synonyms.py) and
# ranked as Chinese rows are, not by the multilingual model's close similarities alone (all
# five refused before).
CROSS_LANGUAGE = (
    "How do I cancel my order?",
    "I forgot my password, what should I do?",
    "Can I pay cash on delivery?",
    "How do I unsubscribe from the newsletter?",
    "Is there a birthday gift for members?",
)


def test_english_questions_find_the_chinese_only_answer_by_their_words(
    service: ConversationService,
):
    asked = [ask(service, q) for q in picked(CROSS_LANGUAGE)]
    right = [a for a in asked if a.right]
    assert len(right) >= 4, _shown([a for a in asked if not a.right])
