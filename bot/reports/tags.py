"""Tags on conversations and customers, from what they asked: the topics of the knowledge items
the bot answered with, and keyword rules on the customer's messages.

A topic tag reads as the admin named the knowledge: the sheet of a spreadsheet row ("退換貨"),
else the file's name without its extension ("shipping" for shipping.pdf). Only answered turns
give topics: the best item of a refused turn is, by the bot's own judgement, not about the
question.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import PurePath

from pydantic import BaseModel, Field, field_validator

from bot.conversation.events import CustomerMessaged, Event, TurnAnswered

TOPIC_SEPARATOR = " › "  # BotTurn.topic of a spreadsheet row: "file › sheet"

# Plain words where they suffice, so the defaults read well in the README's settings table;
# English words that are parts of longer ones ("ship" in "membership") are spelt out. No "|":
# each alternative is its own pattern (the README table is Markdown).
DEFAULT_RULES: dict[str, list[str]] = {
    "退換貨": ["退貨", "換貨", "退換", "鑑賞期", "return", "exchange"],
    "退款": ["退款", "退費", "退錢", "refund"],
    "運送": [
        "運費",
        "免運",
        "運送",
        "配送",
        "寄送",
        "出貨",
        "到貨",
        "宅配",
        "物流",
        "包裹",
        "shipping",
        "shipped",
        "deliver",
        "parcel",
        "tracking number",
    ],
    "付款": [
        "付款",
        "付費",
        "支付",
        "刷卡",
        "信用卡",
        "轉帳",
        "匯款",
        "分期",
        "line ?pay",
        "apple ?pay",
        "payment",
        "credit card",
        "pay with",
        "pay by",
        "installment",
    ],
    "發票": ["發票", "統編", "統一編號", "載具", "invoice", "receipt", "tax id"],
    "會員": [
        "會員",
        "點數",
        "紅利",
        "註冊",
        "登入",
        "密碼",
        r"\bmember",  # not "remember"
        "reward points",
        "sign up",
        "log ?in",
        "password",
    ],
    "訂單": ["訂單", "下單", "my order", "order number", "order status", "cancel.{0,20}order"],
    "投訴": ["投訴", "客訴", "申訴", "抱怨", "檢舉", "complain"],
}


class TagSettings(BaseModel):
    """How conversations are tagged."""

    topics: bool = Field(
        default=True,
        description="Tag a conversation with the topic of each item the bot answered with: "
        "the sheet of a spreadsheet row, else the file name without extension.",
    )
    rules: dict[str, list[str]] = Field(
        default_factory=lambda: {tag: list(p) for tag, p in DEFAULT_RULES.items()},
        description="Keyword tags: tag → regular expressions (case-insensitive), any of "
        "which in a customer message gives the conversation the tag. Replaces the defaults.",
    )

    @field_validator("rules")
    @classmethod
    def _patterns_compile(cls, rules: dict[str, list[str]]) -> dict[str, list[str]]:
        for tag, patterns in rules.items():
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise ValueError(f"tag {tag!r}: bad pattern {pattern!r}: {error}") from None
        return rules


def topic_tag(topic: str) -> str:
    """The readable part of a BotTurn.topic: "faq.xlsx › 退換貨" → "退換貨", "shipping.pdf" →
    "shipping"."""
    source, _, sheet = topic.partition(TOPIC_SEPARATOR)
    return sheet.strip() or _stem(source)


def citation_tag(source: str, locator: str) -> str:
    """The tag of a citation: its sheet ("sheet=退換貨;row=3"), else its file's stem."""
    for part in locator.split(";"):
        key, _, value = part.partition("=")
        if key.strip() == "sheet" and value.strip():
            return value.strip()
    return _stem(source)


def _stem(source: str) -> str:
    name = source.strip()
    if not name:
        return ""
    return PurePath(name).stem.strip() or name


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def conversation_tags(events: Sequence[Event], settings: TagSettings) -> list[str]:
    """The tags of one conversation's events, sorted and unique."""
    tags: set[str] = set()
    rules = [(tag, _compiled(tuple(p))) for tag, p in settings.rules.items() if p]
    for event in events:
        if isinstance(event, CustomerMessaged):
            tags.update(tag for tag, pattern in rules if pattern.search(event.text))
        elif settings.topics and isinstance(event, TurnAnswered):
            if event.topic:
                tags.add(topic_tag(event.topic))
            tags.update(citation_tag(c.source, c.locator) for c in event.citations)
    tags.discard("")
    return sorted(tags)


def tags_by_conversation(
    log: Iterable[tuple[int, Event]], settings: TagSettings
) -> dict[str, list[str]]:
    """Each conversation's tags from a log of (seq, event), e.g. ConversationStore.log(start,
    end); conversations with no tag are left out."""
    by_conversation: dict[str, list[tuple[int, Event]]] = defaultdict(list)
    for seq, event in log:
        by_conversation[event.conversation_id].append((seq, event))
    tagged: dict[str, list[str]] = {}
    for conversation_id, recorded in by_conversation.items():
        events = [event for _, event in sorted(recorded, key=lambda r: r[0])]
        found = conversation_tags(events, settings)
        if found:
            tagged[conversation_id] = found
    return tagged


def customer_tags(conversations_tags: Iterable[Sequence[str]]) -> list[str]:
    """A customer's tags: the union of their conversations' tags, sorted."""
    return sorted({tag for tags in conversations_tags for tag in tags})


def with_tag(
    log: Iterable[tuple[int, Event]], tag: str | None, settings: TagSettings
) -> list[tuple[int, Event]]:
    """The events of the conversations that carry `tag` (all of them when tag is None)."""
    events = list(log)
    if not tag:
        return events
    tagged = tags_by_conversation(events, settings)
    return [(seq, e) for seq, e in events if tag in tagged.get(e.conversation_id, ())]
