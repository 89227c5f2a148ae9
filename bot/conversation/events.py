"""The typed events of a conversation. The log of these events is the only source of metrics."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from bot.conversation.status import ConversationStatus


def now() -> datetime:
    return datetime.now(UTC)


class Decision(StrEnum):
    ANSWERED = "answered"
    CLARIFYING = "clarifying"
    REFUSED = "refused"
    HANDED_OFF = "handed_off"


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from: the item, its file and its place in the file (for agents),
    and what a customer is shown: the FAQ row's question or the document's title, and its
    public address when the source has one."""

    item_id: str
    source: str
    locator: str  # "sheet=常見問題;row=5" or "page=3;offset=120"
    snippet: str
    title: str = ""  # the row's question, else the document's title ("" in older logs)
    url: str = ""  # the item's public address (an http(s) link), if the source gives one


@dataclass(frozen=True)
class Retrieved:
    """One knowledge item the bot looked at, with its fused score and each signal's score."""

    item_id: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"
    private: ClassVar[bool] = False  # private events are for agents only, never the customer
    conversation_id: str
    at: datetime = field(default_factory=now)

    def payload(self) -> dict[str, Any]:
        """The fields beyond conversation_id and at, as JSON-ready values."""
        # field by field, not dataclasses.asdict: its deep copy of every nested value was
        # most of the cost of writing a turn's event
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("conversation_id", "at")
        }
        if "redacted" in data and not data["redacted"]:
            del data["redacted"]  # only a message that had something masked says so
        return _jsonable(data)


@dataclass(frozen=True, kw_only=True)
class ConversationStarted(Event):
    kind: ClassVar[str] = "conversation_started"
    channel: str
    customer_id: str | None = None
    language: str | None = None
    customer_hint: str | None = None  # an id the customer gave, not signed by the shop


@dataclass(frozen=True, kw_only=True)
class CustomerMessaged(Event):
    kind: ClassVar[str] = "customer_messaged"
    text: str
    language: str
    redacted: tuple[str, ...] = ()  # the kinds of personal numbers masked before logging


@dataclass(frozen=True, kw_only=True)
class BotTurn(Event):
    """The bot's reply to one customer message; the subclass says what it decided."""

    decision: ClassVar[Decision]
    question: str  # the question as the bot understood it (a follow-up is completed)
    language: str
    reply: str
    reason: str  # why it decided so: the signal that refused, "clear_match", ...
    confidence: float
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[Retrieved, ...] = ()
    topic: str | None = None  # the sheet or file of the best item
    latency_ms: float = 0.0
    answer_mode: str = "extractive"  # "extractive" or "llm"
    details: dict[str, Any] = field(default_factory=dict)  # signal values, grounding verdicts


@dataclass(frozen=True, kw_only=True)
class TurnAnswered(BotTurn):
    kind: ClassVar[str] = "turn_answered"
    decision: ClassVar[Decision] = Decision.ANSWERED


@dataclass(frozen=True, kw_only=True)
class TurnClarifying(BotTurn):
    kind: ClassVar[str] = "turn_clarifying"
    decision: ClassVar[Decision] = Decision.CLARIFYING
    options: tuple[str, ...] = ()  # the questions offered to choose from


@dataclass(frozen=True, kw_only=True)
class TurnRefused(BotTurn):
    kind: ClassVar[str] = "turn_refused"
    decision: ClassVar[Decision] = Decision.REFUSED


@dataclass(frozen=True, kw_only=True)
class TurnHandedOff(BotTurn):
    kind: ClassVar[str] = "turn_handed_off"
    decision: ClassVar[Decision] = Decision.HANDED_OFF
    trigger: str = ""  # which signal handed off: explicit_request, sentiment, ...
    trigger_value: float | str | None = None


@dataclass(frozen=True, kw_only=True)
class StatusChanged(Event):
    kind: ClassVar[str] = "status_changed"
    from_status: ConversationStatus
    to_status: ConversationStatus
    reason: str = ""
    actor: str = "bot"  # "bot", "customer", "agent:<username>", "system"
    agent_name: str | None = None  # the agent's display name, when an agent moved it
    # who has it after a move to with_agent (a claim, an assignment or a transfer)
    assignee: str | None = None
    assignee_name: str | None = None

    def payload(self) -> dict[str, Any]:
        data = super().payload()
        for name in ("assignee", "assignee_name"):
            if data[name] is None:
                del data[name]  # only moves to with_agent name one
        return data


@dataclass(frozen=True, kw_only=True)
class FeedbackGiven(Event):
    """The customer said whether an answer helped (the widget's 👍 / 👎)."""

    kind: ClassVar[str] = "feedback_given"
    helpful: bool
    turn_seq: int | None = None


@dataclass(frozen=True, kw_only=True)
class AgentReplied(Event):
    """A person wrote to the customer."""

    kind: ClassVar[str] = "agent_replied"
    text: str
    agent: str  # username
    agent_name: str  # display name, as the customer sees it
    redacted: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AgentNoted(Event):
    """A private note for other agents; never shown to the customer."""

    kind: ClassVar[str] = "agent_noted"
    private: ClassVar[bool] = True
    text: str
    agent: str
    agent_name: str
    redacted: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SurveyAnswered(Event):
    """The end-of-conversation survey: CSAT 1-5 and customer effort 1-7 (7 = very easy)."""

    kind: ClassVar[str] = "survey_answered"
    csat: int
    ces: int
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class KnowledgeDraftSaved(Event):
    """An agent saved a question and their reply as a knowledge draft for an admin."""

    kind: ClassVar[str] = "knowledge_draft_saved"
    private: ClassVar[bool] = True
    draft_id: str
    question: str
    answer: str
    agent: str
    agent_name: str


@dataclass(frozen=True, kw_only=True)
class OrderLookup(Event):
    """A step of an order question: asked, verified (the customer proved they own the order),
    answered, or failed (`reason`: not_verified, unavailable, handed_off). For agents and the
    metrics only; the customer sees the bot's turn."""

    kind: ClassVar[str] = "order_lookup"
    private: ClassVar[bool] = True
    stage: str
    reason: str = ""
    order_number: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentsUnavailable(Event):
    """A handoff found nobody to answer (closed, or no agent online): the customer was told
    so, with the next opening time, offered to leave a message, and stays with the bot."""

    kind: ClassVar[str] = "agents_unavailable"
    language: str
    reply: str  # what the customer was told
    open_now: bool
    next_open: str | None = None  # ISO time, in the shop's time zone
    trigger: str = ""  # what asked for the person: customer_request, explicit_request, ...
    in_turn: bool = False  # the bot's turn already said the reply


@dataclass(frozen=True, kw_only=True)
class OfflineMessageLeft(Event):
    """While nobody could answer, the customer left a message and a way to reach them."""

    kind: ClassVar[str] = "offline_message_left"
    text: str
    language: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, kw_only=True)
class OfflineMessageAnswered(Event):
    """An agent answered an offline message (the answer itself is an AgentReplied)."""

    kind: ClassVar[str] = "offline_message_answered"
    private: ClassVar[bool] = True
    message_seq: int
    reply_seq: int
    agent: str
    agent_name: str


@dataclass(frozen=True, kw_only=True)
class ImageShared(Event):
    """A picture put into the conversation; the file is kept under the data directory
    (bot/attachments/store.py), this event says which it is and what its bytes showed it to be."""

    kind: ClassVar[str] = "image_shared"
    attachment_id: str  # the file's name in the conversation's folder (random, never the client's)
    content_type: str  # sniffed from the content: image/jpeg, image/png, image/gif, image/webp
    size: int  # bytes
    width: int
    height: int
    sha256: str = ""  # of the kept file
    # the kept file is the picture without its metadata (GPS, camera, owner; EXIF orientation
    # aside); False in events from before metadata was removed: kept as sent
    metadata_removed: bool = False


@dataclass(frozen=True, kw_only=True)
class CustomerSentImage(ImageShared):
    """The customer sent a picture (a photo of a defect)."""

    kind: ClassVar[str] = "customer_sent_image"


@dataclass(frozen=True, kw_only=True)
class AgentSentImage(ImageShared):
    """An agent sent the customer a picture."""

    kind: ClassVar[str] = "agent_sent_image"
    agent: str  # username
    agent_name: str  # display name, as the customer sees it


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        ConversationStarted,
        CustomerMessaged,
        TurnAnswered,
        TurnClarifying,
        TurnRefused,
        TurnHandedOff,
        StatusChanged,
        FeedbackGiven,
        AgentReplied,
        AgentNoted,
        SurveyAnswered,
        KnowledgeDraftSaved,
        OrderLookup,
        AgentsUnavailable,
        OfflineMessageLeft,
        OfflineMessageAnswered,
        CustomerSentImage,
        AgentSentImage,
    )
}


def register(cls: type[Event]) -> type[Event]:
    """Add an event type (the handoff package adds its own); usable as a class decorator."""
    EVENT_TYPES[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class Recorded:
    """An event as stored: its place in the conversation (seq, from 1) and in the whole log."""

    seq: int
    event: Event


def event_from(kind: str, conversation_id: str, at: datetime, payload: dict[str, Any]) -> Event:
    """Rebuild a typed event from its stored kind and payload."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    values: dict[str, Any] = {}
    hints = {f.name: f for f in dataclasses.fields(cls)}
    for name, value in payload.items():
        if name not in hints:
            continue  # a field dropped in a later version
        values[name] = _revive(name, value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return cls(conversation_id=conversation_id, at=at, **values)


def _revive(name: str, value: Any) -> Any:
    if name == "citations":
        return tuple(Citation(**c) for c in value)
    if name == "retrieved":
        return tuple(Retrieved(**r) for r in value)
    if name in ("options", "redacted"):
        return tuple(value)
    if name in ("from_status", "to_status"):
        return ConversationStatus(value)
    return value


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value
