"""The recognisers and masks of bot/privacy/redaction.py, and the log never keeping a card or
an id (memory store and SQLite store alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation.events import AgentNoted, AgentReplied, CustomerMessaged, TurnAnswered
from bot.conversation.sql import SqlConversationStore
from bot.conversation.store import MemoryConversationStore
from bot.privacy.redaction import (
    find,
    luhn_valid,
    mask_personal,
    masked,
    redact,
    redact_event,
    taiwan_id_valid,
)
from eval.redaction import DEFAULT_DATA, load, score


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("A123456789", True),
        ("L121223307", True),
        ("A123456788", False),
        ("A800000014", True),  # new resident certificate
        ("BC32752368", True),  # old resident certificate
        ("BC32752367", False),
        ("A3234567890", False),
        ("1123456789", False),
    ],
)
def test_taiwan_id_check_digit(number: str, valid: bool) -> None:
    assert taiwan_id_valid(number) is valid


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert luhn_valid("378282246310005")


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ("卡號4111 1111 1111 1111謝謝", "卡號**** **** **** 1111謝謝", ("card",)),
        ("card 4111-1111-1111-1111.", "card ****-****-****-1111.", ("card",)),
        ("身分證A123456789", "身分證A*******89", ("national_id",)),
        ("ARC: BC32752368", "ARC: B*******68", ("resident_id",)),
        ("居留證 A800000014", "居留證 A*******14", ("resident_id",)),
        ("帳號：(822) 1234-5678-9012", "帳號：(822) ****-****-9012", ("bank_account",)),
        ("account no. 55667788990", "account no. *******8990", ("bank_account",)),
        ("卡號是４１１１ １１１１ １１１１ １１１１", "卡號是**** **** **** １１１１", ("card",)),
    ],
)
def test_redact_masks_what_the_log_must_not_keep(
    text: str, expected: str, kinds: tuple[str, ...]
) -> None:
    redaction = redact(text)
    assert redaction.text == expected
    assert redaction.kinds == kinds


@pytest.mark.parametrize(
    "text",
    [
        "訂單編號 4111111111111111 什麼時候到",  # Luhn-valid, but an order number
        "價格 NT$1,299，2026-12-01 下單",
        "身分證 A123456788",  # wrong check digit
        "型號 KX-0912-345-678",
        "帳號密碼忘記了，訂單 20261201",
        "barcode 4710088412345",
    ],
)
def test_left_alone(text: str) -> None:
    assert find(text) == []
    assert mask_personal(text) == text


def test_contacts_stay_in_redact_but_not_in_mask_personal() -> None:
    text = "手機 0912-345-678，信箱 amy.lin@gmail.com"
    assert redact(text).text == text
    result = masked(text)
    assert result.text == "手機 ****-***-678，信箱 a***@gmail.com"
    assert result.kinds == ("phone", "email")


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_personal("卡號4111111111111111 身分證A123456789 電話0912345678")
    assert mask_personal(once) == once
    assert redact(once).kinds == ()


def test_redact_event_keeps_kinds_and_leaves_bot_turns() -> None:
    event = AgentReplied(
        conversation_id="c", text="您的卡 4111111111111111", agent="amy", agent_name="Amy"
    )
    kept = redact_event(event)
    assert isinstance(kept, AgentReplied)
    assert kept.text == "您的卡 ************1111"
    assert kept.redacted == ("card",)
    turn = TurnAnswered(
        conversation_id="c",
        question="q",
        language="zh",
        reply="請匯款至帳號 12345678901234",
        reason="clear_match",
        confidence=1.0,
    )
    assert redact_event(turn) is turn  # the shop's own knowledge is not masked


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_log_never_keeps_a_card_or_an_id(kind: str, tmp_path: Path) -> None:
    store = MemoryConversationStore() if kind == "memory" else SqlConversationStore.sqlite(tmp_path)
    try:
        c = store.create("web")
        store.append(
            CustomerMessaged(
                conversation_id=c.id, text="卡號 4111111111111111 身分證 A123456789", language="zh"
            )
        )
        store.append(
            AgentNoted(conversation_id=c.id, text="ARC BC32752368", agent="a", agent_name="A")
        )
        logged = [r.event for r in store.events(c.id)]
        texts = " ".join(str(e.payload()) for e in logged)
        for secret in ("4111111111111111", "A123456789", "BC32752368"):
            assert secret not in texts
        assert logged[1].redacted == ("card", "national_id")  # type: ignore[attr-defined]
        assert logged[2].redacted == ("resident_id",)  # type: ignore[attr-defined]
    finally:
        getattr(store, "close", lambda: None)()


def test_labelled_messages_are_measured() -> None:
    """The evaluation set loads, and the recognisers keep the bar they were measured at."""
    labelled = load(DEFAULT_DATA)
    assert len(labelled) >= 140
    scores = score(labelled)
    tp, fp, fn = (sum(c.values()) for c in (scores.tp, scores.fp, scores.fn))
    assert tp / (tp + fp) >= 0.97
    assert tp / (tp + fn) >= 0.95
