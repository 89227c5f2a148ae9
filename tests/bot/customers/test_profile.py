"""Profiles built from hand-made conversation logs, and completeness over them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation.events import (
    ConversationStarted,
    CustomerMessaged,
    Recorded,
    SurveyAnswered,
    TurnAnswered,
)
from bot.conversation.status import ConversationStatus
from bot.conversation.store import Conversation
from bot.customers.profile import Profile, build_profile, completeness, summarize
from bot.reports.tags import TagSettings

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def conversation(cid: str, channel: str, minutes: int) -> Conversation:
    at = T0 + timedelta(minutes=minutes)
    return Conversation(cid, channel, None, None, ConversationStatus.BOT, at, at)


def logs() -> dict[str, list[Recorded]]:
    def said(cid: str, text: str, language: str, minutes: int) -> CustomerMessaged:
        return CustomerMessaged(
            conversation_id=cid, text=text, language=language, at=T0 + timedelta(minutes=minutes)
        )

    answered = TurnAnswered(
        conversation_id="a",
        question="退貨要怎麼申請？",
        language="zh",
        reply="…",
        reason="clear_match",
        confidence=0.9,
        topic="退換貨",
    )
    return {
        "a": [
            Recorded(1, ConversationStarted(conversation_id="a", channel="line")),
            Recorded(2, said("a", "退貨要怎麼申請？", "zh", 1)),
            Recorded(3, answered),
            Recorded(4, said("a", "運費呢？", "zh", 2)),
            Recorded(5, SurveyAnswered(conversation_id="a", csat=4, ces=6)),
        ],
        "b": [
            Recorded(1, ConversationStarted(conversation_id="b", channel="web")),
            Recorded(2, said("b", "How do I get a refund?", "en", 90)),
        ],
        "c": [Recorded(1, ConversationStarted(conversation_id="c", channel="web"))],
    }


def test_a_profile_across_two_channels() -> None:
    found = logs()
    profile = build_profile(
        [conversation("a", "line", 0), conversation("b", "web", 89)],
        lambda cid: found[cid],
        {"line:U1": "王小明", "conversation:b": None},
        TagSettings(),
    )
    values = profile.values
    assert values["display_name"] == "王小明"
    assert values["channels"] == ["line", "web"]
    assert values["languages"] == ["zh", "en"]
    assert values["preferred_channel"] == "line"  # two messages there, one on the web
    assert {"退換貨", "運送", "退款"} <= set(values["tags"])
    assert values["topics"] == ["退換貨"]
    assert values["satisfaction"] == [{"at": values["satisfaction"][0]["at"], "csat": 4, "ces": 6}]
    assert values["first_contact"] < values["last_contact"]
    assert "email" not in values and "marketing_consent" not in values
    assert completeness(profile, ["display_name", "languages", "email", "phone"]) == 0.5
    assert completeness(profile, []) is None


def test_an_anonymous_customer_who_never_wrote_knows_little() -> None:
    found = logs()
    profile = build_profile(
        [conversation("c", "web", 0)], lambda cid: found[cid], {}, TagSettings()
    )
    assert profile.values == {"channels": ["web"]}
    wanted = ["display_name", "languages", "tags", "satisfaction", "preferred_channel"]
    assert completeness(profile, wanted) == 0.0


def test_corrected_fields_win_and_count_as_known() -> None:
    found = logs()
    corrected = {"display_name": "王曉明", "email": "ming@example.tw", "marketing_consent": False}
    profile = build_profile(
        [conversation("a", "line", 0)],
        lambda cid: found[cid],
        {"line:U1": "王小明"},
        TagSettings(),
        corrected,
    )
    assert profile.values["display_name"] == "王曉明"  # over the platform's name
    assert profile.values["email"] == "ming@example.tw"
    assert profile.values["marketing_consent"] is False
    assert profile.values["channels"] == ["line"]
    assert completeness(profile, ["email", "phone", "marketing_consent"]) == pytest.approx(2 / 3)


def test_completeness_summarized_over_customers() -> None:
    wanted = ["display_name", "languages", "tags", "satisfaction"]
    full = Profile({"display_name": "A", "languages": ["zh"], "tags": ["x"], "satisfaction": [1]})
    half = Profile({"display_name": "B", "languages": ["en"]})
    none = Profile({"channels": ["web"]})
    summary = summarize([full, half, none], wanted)
    assert summary.customers == 3
    assert summary.mean == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert summary.distribution == {"0-25%": 1, "25-50%": 0, "50-75%": 1, "75-100%": 0, "100%": 1}
    assert summary.missing == [
        ("satisfaction", 2),
        ("tags", 2),
        ("display_name", 1),
        ("languages", 1),
    ]
    assert summarize([], wanted).mean is None
