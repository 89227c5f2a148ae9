"""Unanswered questions from hand-built event logs whose right answers are worked out here, and
their grouping: exact duplicates by rule, meaning with the real e5 model (integration)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.conversation.events import (
    BotTurn,
    ConversationStarted,
    CustomerMessaged,
    Event,
    StatusChanged,
    TurnAnswered,
    TurnClarifying,
    TurnHandedOff,
    TurnRefused,
)
from bot.conversation.status import ConversationStatus
from bot.conversation.store import MemoryConversationStore
from bot.reports.unanswered import (
    Asked,
    GapGroup,
    gaps_workbook,
    group_questions,
    normalised,
    unanswered_questions,
)
from knowledge.embedding import HashingEmbedder

S = ConversationStatus
T = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, ISO week 2026-W02
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


class Talk:
    """One conversation's events, each at T + an offset, numbered 1, 2, 3… like a store."""

    def __init__(self, conversation_id: str, start: datetime = T) -> None:
        self.id = conversation_id
        self.start = start
        self.events: list[Event] = [
            ConversationStarted(conversation_id=conversation_id, at=start, channel="web")
        ]

    def says(self, minute: float, text: str) -> Talk:
        self.events.append(
            CustomerMessaged(conversation_id=self.id, at=self._at(minute), text=text, language="zh")
        )
        return self

    def bot(
        self,
        turn: type[BotTurn],
        minute: float,
        question: str = "",
        reason: str = "test",
        **extra: Any,
    ) -> Talk:
        self.events.append(
            turn(
                conversation_id=self.id,
                at=self._at(minute),
                question=question,
                language="zh",
                reply="…",
                reason=reason,
                confidence=0.5,
                **extra,
            )
        )
        return self

    def status(self, minute: float, to: S, reason: str, actor: str = "bot") -> Talk:
        self.events.append(
            StatusChanged(
                conversation_id=self.id,
                at=self._at(minute),
                from_status=S.BOT,
                to_status=to,
                reason=reason,
                actor=actor,
            )
        )
        return self

    def log(self) -> list[tuple[int, Event]]:
        return list(enumerate(self.events, start=1))

    def _at(self, minute: float) -> datetime:
        return self.start + minute * MINUTE


def found(*talks: Talk, **period: datetime) -> list[tuple[str, str, str]]:
    log = [recorded for talk in talks for recorded in talk.log()]
    return [(a.conversation_id, a.text, a.reason) for a in unanswered_questions(log, **period)]


# ---- which questions count ---------------------------------------------------------------------


def test_a_refused_turn_counts_its_question_and_answered_or_clarifying_turns_do_not():
    talk = (
        Talk("a")
        .says(0, "運費多少")
        .bot(TurnAnswered, 0.1, "運費多少")
        .says(1, "那退貨呢")
        .bot(TurnClarifying, 1.1, "退貨")
        .says(2, "可以用 LINE Pay 嗎")
        .bot(TurnRefused, 2.1, "可以用 LINE Pay 付款嗎")  # the question as the bot completed it
    )
    assert found(talk) == [("a", "可以用 LINE Pay 付款嗎", "refused")]


def test_a_turn_without_its_question_falls_back_to_the_customers_message():
    talk = Talk("a").says(0, "  有保固嗎？ ").bot(TurnRefused, 0.1, question="  ")
    assert found(talk) == [("a", "有保固嗎？", "refused")]


def test_a_handoff_turn_counts_as_handed_off():
    talk = (
        Talk("a")
        .says(0, "你們的退款到底什麼時候到")
        .bot(TurnHandedOff, 0.1, "你們的退款到底什麼時候到", trigger="negative_sentiment")
        .status(0.1, S.WAITING, "negative_sentiment")
    )
    # the status change that goes with the handoff turn adds nothing
    assert found(talk) == [("a", "你們的退款到底什麼時候到", "handed_off")]


def test_the_widget_button_counts_the_last_message_unless_it_already_counted():
    answered_then_button = (
        Talk("a")
        .says(0, "可以開統編嗎")
        .bot(TurnAnswered, 0.1, "可以開統編嗎")
        .says(1, "發票要怎麼改抬頭")
        .bot(TurnAnswered, 1.1, "發票要怎麼改抬頭")
        .status(2, S.WAITING, "customer_request", actor="customer")
    )
    refused_then_button = (
        Talk("b")
        .says(0, "可以寄到香港嗎")
        .bot(TurnRefused, 0.1, "可以寄到香港嗎")
        .status(1, S.WAITING, "customer_request", actor="customer")
    )
    button_before_any_message = Talk("c").status(0, S.WAITING, "customer_request", "customer")
    other_reason = (
        Talk("d")
        .says(0, "請問營業時間")
        .bot(TurnAnswered, 0.1)
        .status(1, S.WAITING, "agent_transfer", actor="agent:amy")
    )
    assert found(answered_then_button, refused_then_button, button_before_any_message) == [
        ("b", "可以寄到香港嗎", "refused"),
        ("a", "發票要怎麼改抬頭", "handed_off"),
    ]
    assert found(other_reason) == []


def test_closest_items_offered_count_unless_the_customer_picked_one():
    picked = (
        Talk("a")
        .says(0, "超商取貨運費要多少")
        .bot(TurnClarifying, 0.1, "超商取貨運費要多少", reason="closest_match")
        .says(1, "1")
        .bot(TurnAnswered, 1.1, "運費怎麼算？多少錢免運？", reason="picked_option")
    )
    asked_something_else = (
        Talk("b")
        .says(0, "寄錯商品換貨運費誰付")
        .bot(TurnClarifying, 0.1, "寄錯商品換貨運費誰付", reason="closest_match")
        .says(1, "那可以寄到日本嗎")
        .bot(TurnAnswered, 1.1, "那可以寄到日本嗎", reason="confident")
    )
    left = (
        Talk("c")
        .says(0, "點數可以轉給朋友嗎")
        .bot(TurnClarifying, 0.1, "點數可以轉給朋友嗎", reason="closest_match")
    )
    gave_up = (
        Talk("d")
        .says(0, "刷退要多久")
        .bot(TurnClarifying, 0.1, "刷退要多久", reason="closest_match")
        .status(1, S.WAITING, "customer_request", actor="customer")
    )
    between_close_answers = (
        Talk("e").says(0, "保固").bot(TurnClarifying, 0.1, "保固", reason="close_candidates")
    )
    assert found(picked, asked_something_else, left, gave_up, between_close_answers) == [
        ("b", "寄錯商品換貨運費誰付", "offered"),
        ("c", "點數可以轉給朋友嗎", "offered"),
        ("d", "刷退要多久", "handed_off"),  # once, as the button's
    ]


def test_an_explicit_request_counts_the_question_before_it_not_the_request():
    answered = (
        Talk("a")
        .says(0, "退貨運費誰出")
        .bot(TurnAnswered, 0.1, "退貨運費誰出")
        .says(1, "我要找真人")
        .bot(TurnHandedOff, 1.1, "我要找真人", trigger="explicit_request")
        .status(1.1, S.WAITING, "explicit_request")
    )
    refused = (
        Talk("b")
        .says(0, "可以分期嗎")
        .bot(TurnRefused, 0.1, "可以分期嗎")
        .says(1, "轉人工")
        .bot(TurnHandedOff, 1.1, "轉人工", trigger="explicit_request")
    )
    first_words = (
        Talk("c")
        .says(0, "人工客服")
        .bot(TurnHandedOff, 0.1, "人工客服", trigger="explicit_request")
    )
    # the button pressed after the request: the request does not count either
    then_button = (
        Talk("d")
        .says(0, "真人")
        .bot(TurnHandedOff, 0.1, "真人", trigger="explicit_request")
        .status(1, S.WAITING, "customer_request", actor="customer")
    )
    assert found(answered, refused, first_words, then_button) == [
        ("b", "可以分期嗎", "refused"),
        ("a", "退貨運費誰出", "handed_off"),
    ]


def test_the_period_is_start_inclusive_end_exclusive_on_the_time_it_was_given_up():
    talk = (
        Talk("a")
        .says(0, "一")
        .bot(TurnRefused, 1, "一")
        .says(2, "二")
        .bot(TurnRefused, 3, "二")
        .says(4, "三")
        .bot(TurnRefused, 5, "三")
    )
    period = {"start": T + 1 * MINUTE, "end": T + 5 * MINUTE}
    assert [text for _, text, _ in found(talk, **period)] == ["一", "二"]


def test_questions_come_oldest_first_from_interleaved_logs_in_any_order():
    early = Talk("early").says(0, "先問的").bot(TurnRefused, 0.1, "先問的")
    late = Talk("late", T + DAY).says(0, "後問的").bot(TurnRefused, 0.1, "後問的")
    log = late.log() + list(reversed(early.log()))  # seq order is restored per conversation
    assert [a.text for a in unanswered_questions(log)] == ["先問的", "後問的"]


def test_questions_from_a_real_store_log():
    store = MemoryConversationStore()
    conversation = store.create("web")
    cid = conversation.id
    store.append(CustomerMessaged(conversation_id=cid, text="有宅配到離島嗎", language="zh"))
    store.append(
        TurnAnswered(
            conversation_id=cid,
            question="有宅配到離島嗎",
            language="zh",
            reply="有",
            reason="x",
            confidence=0.9,
        )
    )
    store.transition(cid, S.WAITING, reason="customer_request", actor="customer")
    asked = unanswered_questions(store.log())
    assert [(a.conversation_id, a.text, a.reason) for a in asked] == [
        (cid, "有宅配到離島嗎", "handed_off")
    ]


# ---- grouping ----------------------------------------------------------------------------------


def asked(text: str, at: datetime, reason: str = "refused", cid: str = "c") -> Asked:
    return Asked(text=text, at=at, conversation_id=cid, reason=reason)


def test_normalised_wordings_ignore_case_width_script_spaces_and_punctuation():
    assert normalised("Can I pay with LINE Pay?") == normalised("can i pay with line  pay")
    assert normalised("可以用LINE Pay付款嗎？") == normalised("可以用 ＬＩＮＥ pay 付款嗎?")
    assert normalised("退货") == normalised("退貨")
    assert normalised("退貨") != normalised("換貨")


def test_exact_duplicates_fall_together_even_when_nothing_else_may():
    questions = [
        asked("Can I pay with LINE Pay?", T),
        asked("can i pay with line pay", T + DAY),
        asked("可以用LINE Pay付款嗎？", T + 2 * DAY),
        asked("可以用 line pay 付款嗎", T + 3 * DAY),
        asked("幾點開門", T + 4 * DAY),
    ]
    # a similarity no two different wordings reach: only duplicates group
    groups = group_questions(questions, HashingEmbedder(), similarity=0.9999)
    assert sorted(g.count for g in groups) == [1, 2, 2]
    members = {frozenset(q.text for q in g.questions) for g in groups}
    assert frozenset({"Can I pay with LINE Pay?", "can i pay with line pay"}) in members
    assert frozenset({"可以用LINE Pay付款嗎？", "可以用 line pay 付款嗎"}) in members


def test_a_group_counts_its_reasons_days_and_weeks():
    questions = [
        asked("退貨運費誰出", T + 2 * DAY, "refused"),  # W02
        asked("退貨運費誰出？", datetime(2026, 1, 21, tzinfo=UTC), "handed_off"),  # W04
        asked("退貨運費 誰出", T, "refused"),  # W02
    ]
    (group,) = group_questions(questions, HashingEmbedder())
    assert group.count == 3
    assert group.reasons == {"refused": 2, "offered": 0, "handed_off": 1}
    assert (group.first_seen, group.last_seen) == (T, datetime(2026, 1, 21, tzinfo=UTC))
    assert group.trend == [("2026-W02", 2), ("2026-W03", 0), ("2026-W04", 1)]
    assert [q.at for q in group.questions] == sorted((q.at for q in questions), reverse=True)


def test_the_trend_crosses_the_year_in_iso_weeks_and_in_the_given_zone():
    questions = [
        asked("有發票嗎", datetime(2025, 12, 28, 20, tzinfo=UTC)),  # Sunday: 2025-W52
        asked("有發票嗎", datetime(2026, 1, 1, tzinfo=UTC)),  # Thursday: 2026-W01
    ]
    (group,) = group_questions(questions, HashingEmbedder())
    assert group.trend == [("2025-W52", 1), ("2026-W01", 1)]
    # 20:00 UTC on Sunday is already Monday in Taipei
    (taipei,) = group_questions(questions, HashingEmbedder(), zone=ZoneInfo("Asia/Taipei"))
    assert taipei.trend == [("2026-W01", 2)]


def test_examples_are_the_newest_distinct_wordings_newest_first_at_most_five():
    wordings = ["a b c", "a b c d", "a b c e", "a b c f", "a b c g", "a b c h"]
    questions = [asked(w, T + i * DAY) for i, w in enumerate(wordings)]
    questions.append(asked("A B C!", T + 10 * DAY))  # the newest, a repeat of the first
    (group,) = group_questions(questions, HashingEmbedder(), similarity=-1.0)
    assert [q.text for q in group.examples] == [
        "A B C!",
        "a b c h",
        "a b c g",
        "a b c f",
        "a b c e",
    ]
    assert group.count == 7


def test_the_label_is_the_wording_closest_to_the_centre_counting_repeats():
    questions = [asked("運費多少", T + i * MINUTE) for i in range(3)]
    questions += [asked("退貨要怎麼辦", T), asked("會員點數怎麼用", T)]
    (group,) = group_questions(questions, HashingEmbedder(), similarity=-1.0)
    assert group.label == "運費多少"


def test_groups_come_newest_first_with_ids_stable_for_the_same_questions():
    old = [asked("幾點開門", T), asked("幾點開門？", T + DAY)]
    new = [asked("可以刷卡嗎", T + 3 * DAY)]
    groups = group_questions(old + new, HashingEmbedder(), similarity=0.9999)
    assert [g.label for g in groups] == ["可以刷卡嗎", "幾點開門"]

    again = group_questions(list(reversed(new + old)), HashingEmbedder(), similarity=0.9999)
    assert [g.id for g in again] == [g.id for g in groups]
    assert all(len(g.id) == 12 and int(g.id, 16) >= 0 for g in groups)
    # a repeated wording keeps the id; a new wording makes another group
    repeated = group_questions(
        [*old, *new, asked("可以刷卡嗎 ", T + 4 * DAY)], HashingEmbedder(), similarity=0.9999
    )
    assert [g.id for g in repeated] == [g.id for g in groups]
    merged = group_questions(old + new, HashingEmbedder(), similarity=-1.0)
    grown = group_questions(
        [*old, *new, asked("能刷卡嗎", T + 5 * DAY)], HashingEmbedder(), similarity=-1.0
    )
    assert len(merged) == len(grown) == 1 and merged[0].id != grown[0].id


def test_no_questions_no_groups():
    assert group_questions([], HashingEmbedder()) == []


@pytest.mark.integration
def test_e5_groups_phrasings_of_one_question_and_keeps_others_apart():
    from knowledge.embedding import E5Embedder

    line_pay = [
        "可以用 LINE Pay 付款嗎？",
        "LINE Pay 可以用嗎",
        "Can I pay with LINE Pay?",
        "Do you accept LINE Pay?",
    ]
    hours = ["What are your opening hours?", "When do you open?", "What time does the store open?"]
    questions = [asked(text, T + i * MINUTE, cid=str(i)) for i, text in enumerate(line_pay + hours)]
    groups = group_questions(questions, E5Embedder())
    assert {frozenset(q.text for q in g.questions) for g in groups} == {
        frozenset(line_pay),
        frozenset(hours),
    }
    assert groups[0].label in hours  # asked last, so listed first


# ---- the workbook ------------------------------------------------------------------------------


def test_the_workbook_holds_a_row_per_group_and_per_question():
    groups: list[GapGroup] = group_questions(
        [
            asked("可以寄到香港嗎", T, "refused", "c1"),
            asked("可以寄到香港嗎？", T + DAY, "handed_off", "c2"),
            asked("有實體店嗎", T + 2 * DAY, "refused", "c3"),
        ],
        HashingEmbedder(),
        similarity=0.9999,
    )
    book = load_workbook(io.BytesIO(gaps_workbook(groups)))
    assert book.sheetnames == ["groups", "questions"]

    summary = list(book["groups"].iter_rows(values_only=True))
    assert "次數 count" in summary[0] and "拒答 refused" in summary[0]
    assert summary[0][2:5] == ("拒答 refused", "給了相近內容 offered", "轉真人 handed off")
    assert [row[:5] for row in summary[1:]] == [
        ("有實體店嗎", 1, 1, 0, 0),
        ("可以寄到香港嗎", 2, 1, 0, 1),
    ]
    assert summary[2][5] == datetime(2026, 1, 5, 9, 0)  # first seen, UTC
    assert summary[2][7] == "可以寄到香港嗎？"  # one wording: its newest

    details = list(book["questions"].iter_rows(values_only=True))
    assert len(details) == 1 + 3
    assert details[1] == (
        "有實體店嗎",
        "有實體店嗎",
        datetime(2026, 1, 7, 9, 0),
        "拒答 refused",
        "c3",
    )
    assert {row[4] for row in details[2:]} == {"c1", "c2"}


def test_an_empty_workbook_still_has_its_headers():
    book = load_workbook(io.BytesIO(gaps_workbook([])))
    assert [len(list(book[name].iter_rows())) for name in book.sheetnames] == [1, 1]
