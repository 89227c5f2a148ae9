"""The conversation store: a protocol, and an in-memory implementation for fast unit tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from bot.conversation.events import (
    AgentNoted,
    AgentReplied,
    BotTurn,
    ConversationStarted,
    CustomerMessaged,
    Event,
    Recorded,
    StatusChanged,
    now,
)
from bot.conversation.status import ConversationStatus, check_transition
from bot.privacy.redaction import redact_event


class ConversationNotFound(LookupError):
    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no conversation {conversation_id!r}")
        self.conversation_id = conversation_id


class StatusConflict(Exception):
    """The status moved under the caller (e.g. another agent claimed the conversation first)."""

    def __init__(self, expected: ConversationStatus, actual: ConversationStatus) -> None:
        super().__init__(f"the conversation is {actual}, not {expected}")
        self.expected = expected
        self.actual = actual


class LogMoved(Exception):
    """A conditional append found a later event than the one it was written after."""

    def __init__(self, conversation_id: str, after_seq: int) -> None:
        super().__init__(f"conversation {conversation_id!r} has events after {after_seq}")
        self.conversation_id = conversation_id
        self.after_seq = after_seq


@dataclass(frozen=True)
class Conversation:
    id: str
    channel: str
    customer_id: str | None
    language: str | None
    status: ConversationStatus
    created_at: datetime
    updated_at: datetime
    assignee: str | None = None  # the agent who owns it while with_agent
    customer_hint: str | None = None  # an unverified customer id: shown, never joined on
    token_digest: str | None = field(default=None, repr=False)  # of the customer's token


# The events whose words a search by text looks in, and the payload fields that hold them.
SEARCHED_TEXT: dict[type[Event], tuple[str, ...]] = {
    CustomerMessaged: ("text",),
    BotTurn: ("reply",),
    AgentReplied: ("text",),
    AgentNoted: ("text",),
}


@dataclass(frozen=True)
class ConversationQuery:
    """What a search of every conversation asks for; each field set narrows it."""

    customer_id: str | None = None  # exactly this customer
    text: str | None = None  # in a message of the customer, the bot or an agent (any case)
    status: ConversationStatus | None = None
    channel: str | None = None
    start: datetime | None = None  # started at or after
    end: datetime | None = None  # started before
    limit: int | None = 20  # None: every match
    offset: int = 0


@dataclass(frozen=True)
class ConversationPage:
    conversations: list[Conversation]  # the most recently active first
    total: int  # every match, beyond this page too


def new_conversation_id() -> str:
    return uuid.uuid4().hex


class ConversationStore(Protocol):
    def create(
        self,
        channel: str,
        customer_id: str | None = None,
        language: str | None = None,
        *,
        customer_hint: str | None = None,
        token_digest: str | None = None,
    ) -> Conversation:
        """A new conversation in status bot; records ConversationStarted. `token_digest`: the
        digest of the customer's token (none: no customer route opens it)."""
        ...

    def get(self, conversation_id: str) -> Conversation:
        """Raises ConversationNotFound."""
        ...

    def append(self, event: Event, *, after_seq: int | None = None) -> Recorded:
        """Record an event; seq numbers of one conversation are 1, 2, 3… with no gaps, also
        under concurrent appends. With `after_seq`, only while the conversation's latest event
        is still that one (else LogMoved: someone else wrote first). Raises
        ConversationNotFound."""
        ...

    def awaiting_reply(self, since: datetime) -> list[Recorded]:
        """The customers' messages logged at or after `since` that are the latest event of a
        conversation in status bot: messages nobody has answered (yet)."""
        ...

    def events(self, conversation_id: str, after_seq: int = 0) -> list[Recorded]:
        """The conversation's events with seq > after_seq, in order. Raises ConversationNotFound."""
        ...

    def transition(
        self,
        conversation_id: str,
        to: ConversationStatus,
        *,
        reason: str = "",
        actor: str = "bot",
        expected: ConversationStatus | None = None,
        assignee: str | None = None,
        agent_name: str | None = None,
        assignee_name: str | None = None,
        preceded_by: Sequence[Event] = (),
        after_seq: int | None = None,
    ) -> Recorded:
        """Move the status atomically and record StatusChanged. Raises InvalidTransition for a
        move the table forbids, StatusConflict when `expected` is given and the status is not
        that (so two agents claiming at once: one wins, one gets StatusConflict). A move to
        with_agent names its `assignee` (and their display name) in the event too.

        `preceded_by`: events written just before the StatusChanged, in the same transaction
        (the bot's turn that hands off and the handoff: both are logged or neither is); with
        `after_seq`, only while the latest event is still that one (else LogMoved). Their seqs
        come directly before the returned one's."""
        ...

    def log(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterable[tuple[int, Event]]:
        """Every event with start <= at < end, ordered by conversation then seq, as (seq, event):
        the input of metrics."""
        ...

    def conversations(
        self, status: ConversationStatus | None = None, customer_id: str | None = None
    ) -> list[Conversation]:
        """Conversations, newest first, optionally only in one status or of one customer."""
        ...

    def search(self, query: ConversationQuery) -> ConversationPage:
        """Conversations matching every field of the query, the most recently active first
        (then by id), one page of them and how many match in all."""
        ...


@dataclass
class _Kept:
    conversation: Conversation
    events: list[Event] = field(default_factory=list)


def opening(
    channel: str,
    customer_id: str | None,
    language: str | None,
    customer_hint: str | None,
    token_digest: str | None,
) -> tuple[Conversation, ConversationStarted]:
    """A new conversation with the bot, and the first event of its log, as every store keeps
    them."""
    at = now()
    conversation = Conversation(
        new_conversation_id(),
        channel,
        customer_id,
        language,
        ConversationStatus.BOT,
        at,
        at,
        customer_hint=customer_hint,
        token_digest=token_digest,
    )
    started = ConversationStarted(
        conversation_id=conversation.id,
        at=at,
        channel=channel,
        customer_id=customer_id,
        customer_hint=customer_hint,
        language=language,
    )
    return conversation, started


class MemoryConversationStore:
    """Keeps everything in a dict; for unit tests and throwaway demos."""

    def __init__(self) -> None:
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def create(
        self,
        channel: str,
        customer_id: str | None = None,
        language: str | None = None,
        *,
        customer_hint: str | None = None,
        token_digest: str | None = None,
    ) -> Conversation:
        conversation, started = opening(channel, customer_id, language, customer_hint, token_digest)
        with self._lock:
            self._kept[conversation.id] = _Kept(conversation)
        self.append(started)
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        return self._find(conversation_id).conversation

    def append(self, event: Event, *, after_seq: int | None = None) -> Recorded:
        event = redact_event(event)
        with self._lock:
            kept = self._find(event.conversation_id)
            if after_seq is not None and len(kept.events) != after_seq:
                raise LogMoved(event.conversation_id, after_seq)
            kept.events.append(event)
            kept.conversation = replace(kept.conversation, updated_at=event.at)
            return Recorded(len(kept.events), event)

    def events(self, conversation_id: str, after_seq: int = 0) -> list[Recorded]:
        with self._lock:
            kept = self._find(conversation_id)
            return [
                Recorded(seq, e) for seq, e in enumerate(kept.events, start=1) if seq > after_seq
            ]

    def awaiting_reply(self, since: datetime) -> list[Recorded]:
        with self._lock:
            return [
                Recorded(len(k.events), k.events[-1])
                for k in self._kept.values()
                if k.conversation.status == ConversationStatus.BOT
                and k.events
                and isinstance(k.events[-1], CustomerMessaged)
                and k.events[-1].at >= since
            ]

    def transition(
        self,
        conversation_id: str,
        to: ConversationStatus,
        *,
        reason: str = "",
        actor: str = "bot",
        expected: ConversationStatus | None = None,
        assignee: str | None = None,
        agent_name: str | None = None,
        assignee_name: str | None = None,
        preceded_by: Sequence[Event] = (),
        after_seq: int | None = None,
    ) -> Recorded:
        first = [redact_event(e) for e in preceded_by]
        if any(e.conversation_id != conversation_id for e in first):
            raise ValueError("the events written with a move belong to the conversation")
        with self._lock:
            kept = self._find(conversation_id)
            current = kept.conversation.status
            if expected is not None and current != expected:
                raise StatusConflict(expected, current)
            check_transition(current, to)
            if after_seq is not None and len(kept.events) != after_seq:
                raise LogMoved(conversation_id, after_seq)
            kept.events.extend(first)
            event = StatusChanged(
                conversation_id=conversation_id,
                from_status=current,
                to_status=to,
                reason=reason,
                actor=actor,
                agent_name=agent_name,
                assignee=assignee if to == ConversationStatus.WITH_AGENT else None,
                assignee_name=assignee_name if to == ConversationStatus.WITH_AGENT else None,
            )
            kept.events.append(event)
            kept.conversation = replace(
                kept.conversation,
                status=to,
                updated_at=event.at,
                assignee=assignee if to == ConversationStatus.WITH_AGENT else None,
            )
            return Recorded(len(kept.events), event)

    def log(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterable[tuple[int, Event]]:
        with self._lock:
            snapshot = [(k.conversation.created_at, list(k.events)) for k in self._kept.values()]
        for _, events in sorted(snapshot, key=lambda s: s[0]):
            for seq, event in enumerate(events, start=1):
                if (start is None or event.at >= start) and (end is None or event.at < end):
                    yield seq, event

    def conversations(
        self, status: ConversationStatus | None = None, customer_id: str | None = None
    ) -> list[Conversation]:
        with self._lock:
            found = [
                k.conversation
                for k in self._kept.values()
                if (status is None or k.conversation.status == status)
                and (customer_id is None or k.conversation.customer_id == customer_id)
            ]
        return sorted(found, key=lambda c: c.created_at, reverse=True)

    def search(self, query: ConversationQuery) -> ConversationPage:
        text = query.text.casefold() if query.text else None
        with self._lock:
            kept = list(self._kept.values())
        found = []
        for k in kept:
            c = k.conversation
            if (
                (query.customer_id is None or c.customer_id == query.customer_id)
                and (query.status is None or c.status == query.status)
                and (query.channel is None or c.channel == query.channel)
                and (query.start is None or c.created_at >= query.start)
                and (query.end is None or c.created_at < query.end)
                and (text is None or any(text in said for said in _words(k.events)))
            ):
                found.append(c)
        found.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
        end = None if query.limit is None else query.offset + query.limit
        return ConversationPage(found[query.offset : end], len(found))

    def _find(self, conversation_id: str) -> _Kept:
        kept = self._kept.get(conversation_id)
        if kept is None:
            raise ConversationNotFound(conversation_id)
        return kept


def _words(events: list[Event]) -> Iterable[str]:
    for event in events:
        for kind, fields in SEARCHED_TEXT.items():
            if isinstance(event, kind):
                for name in fields:
                    yield str(getattr(event, name, "")).casefold()
