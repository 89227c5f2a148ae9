"""Tags from hand-built event logs: the topics the bot answered with and the keyword rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.conversation.events import (
    BotTurn,
    Citation,
    ConversationStarted,
    CustomerMessaged,
    Event,
    TurnAnswered,
    TurnHandedOff,
    TurnRefused,
)
from bot.reports.tags import (
    TagSettings,
    citation_tag,
    conversation_tags,
    customer_tags,
    tags_by_conversation,
    topic_tag,
)

T = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NO_RULES = TagSettings(rules={})


def says(text: str, cid: str = "c") -> CustomerMessaged:
    return CustomerMessaged(conversation_id=cid, at=T, text=text, language="zh")


def turn(
    kind: type[BotTurn] = TurnAnswered,
    topic: str | None = None,
    citations: tuple[Citation, ...] = (),
    cid: str = "c",
) -> BotTurn:
    return kind(
        conversation_id=cid,
        at=T,
        question="q",
        language="zh",
        reply="…",
        reason="test",
        confidence=0.9,
        topic=topic,
        citations=citations,
    )


def cite(source: str, locator: str) -> Citation:
    return Citation(item_id="i", source=source, locator=locator, snippet="…")


def test_topic_tags_read_as_the_sheet_or_the_file_stem():
    assert topic_tag("faq.xlsx › 退換貨") == "退換貨"
    assert topic_tag("shipping.pdf") == "shipping"
    assert topic_tag("docs/會員制度.docx") == "會員制度"
    assert topic_tag("README") == "README"
    assert citation_tag("faq.xlsx", "sheet=付款方式;row=3") == "付款方式"
    assert citation_tag("policy.md", "section=2") == "policy"
    assert citation_tag("manual.pdf", "page=3;offset=120") == "manual"


def test_a_conversation_is_tagged_with_the_topics_and_citations_it_was_answered_with():
    events: list[Event] = [
        ConversationStarted(conversation_id="c", at=T, channel="web"),
        says("運費多少"),
        turn(topic="faq.xlsx › 運送", citations=(cite("faq.xlsx", "sheet=運送;row=2"),)),
        says("保固呢"),
        turn(topic="warranty.pdf", citations=(cite("warranty.pdf", "page=1"),)),
        says("那發票"),
        turn(topic="faq.xlsx › 運送", citations=(cite("faq.xlsx", "sheet=發票;row=9"),)),
    ]
    assert conversation_tags(events, NO_RULES) == ["warranty", "發票", "運送"]


def test_refused_and_handed_off_turns_give_no_topic():
    events: list[Event] = [
        says("可以寄到火星嗎"),
        turn(TurnRefused, topic="faq.xlsx › 運送"),
        says("氣死我了"),
        turn(TurnHandedOff, topic="faq.xlsx › 退換貨"),
    ]
    assert conversation_tags(events, NO_RULES) == []


def test_topics_can_be_switched_off():
    events: list[Event] = [says("運費多少"), turn(topic="faq.xlsx › 運送")]
    assert conversation_tags(events, TagSettings(topics=False, rules={})) == []


def test_default_rules_tag_zh_tw_and_english_messages_case_insensitively():
    settings = TagSettings(topics=False)

    def tags(text: str) -> list[str]:
        return conversation_tags([says(text)], settings)

    assert tags("買了不合適可以退貨嗎") == ["退換貨"]
    assert tags("How do I RETURN this?") == ["退換貨"]
    assert tags("退款什麼時候會到") == ["退款"]
    assert tags("Still waiting for my Refund") == ["退款"]
    assert tags("滿多少免運") == ["運送"]
    assert tags("when will it be delivered") == ["運送"]
    assert tags("可以用LINE Pay嗎") == ["付款"]
    assert tags("do you take linepay") == ["付款"]
    assert tags("可以開統編嗎") == ["發票"]
    assert tags("I forgot my password") == ["會員"]
    assert tags("我要投訴你們的客服") == ["投訴"]
    assert tags("where is my order") == ["訂單"]
    assert sorted(tags("退貨的運費誰出")) == sorted(["退換貨", "運送"])
    # words inside other words do not count
    assert tags("I remember the address") == []
    assert tags("membership perks?") == ["會員"]
    assert tags("你們幾點開門") == []


def test_rules_are_configurable_and_replace_the_defaults():
    settings = TagSettings.model_validate(
        {"topics": False, "rules": {"VIP": [r"\bvip\b", "貴賓"], "empty": []}}
    )
    assert conversation_tags([says("我是貴賓")], settings) == ["VIP"]
    assert conversation_tags([says("I am a VIP")], settings) == ["VIP"]
    assert conversation_tags([says("可以退貨嗎")], settings) == []


def test_a_bad_pattern_is_refused_with_its_tag():
    with pytest.raises(ValidationError, match="退貨"):
        TagSettings(rules={"退貨": ["(unclosed"]})


def test_defaults_and_descriptions_have_no_pipe_for_the_readme_table():
    for name, field in TagSettings.model_fields.items():
        shown = str(field.get_default(call_default_factory=True))
        assert "|" not in shown and "|" not in (field.description or ""), name


def test_tags_by_conversation_from_a_log_leaves_untagged_conversations_out():
    later = T + timedelta(minutes=1)
    log: list[tuple[int, Event]] = [
        (1, ConversationStarted(conversation_id="a", at=T, channel="web")),
        (2, says("可以刷卡嗎", "a")),
        (3, turn(topic="faq.xlsx › 付款方式", cid="a")),
        (1, ConversationStarted(conversation_id="b", at=T, channel="web")),
        (2, says("你好", "b")),
        (1, ConversationStarted(conversation_id="z", at=later, channel="web")),
        (2, CustomerMessaged(conversation_id="z", at=later, text="refund?", language="en")),
    ]
    assert tags_by_conversation(log, TagSettings()) == {
        "a": ["付款", "付款方式"],
        "z": ["退款"],
    }


def test_a_customer_carries_the_union_of_their_conversations_tags():
    assert customer_tags([["運送", "退款"], [], ["付款", "運送"]]) == ["付款", "退款", "運送"]
    assert customer_tags([]) == []
