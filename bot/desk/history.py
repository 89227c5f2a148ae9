"""History: every conversation, found again by customer, words, tag, status, channel and
dates, each with what an agent needs to pick it out of a list (its first message, its tags,
who had it). The store does the searching in SQL; tags are read from the conversations' events
(bot.reports.tags), so a search by tag reads at most `MAX_TAGGED` matches of the rest."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.conversation.events import CustomerMessaged, Recorded, StatusChanged
from bot.conversation.flows import Actor
from bot.conversation.status import ConversationStatus
from bot.conversation.store import Conversation, ConversationQuery, ConversationStore
from bot.reports.tags import TagSettings, conversation_tags

MAX_TAGGED = 2000


class SearchRejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class HistoryEntry:
    conversation: Conversation
    first_message: str | None
    last_message: str | None
    tags: tuple[str, ...]
    agent: str | None  # the last agent who had it (its username)
    agent_name: str | None


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    total: int


class ConversationHistory:
    def __init__(self, store: ConversationStore, tags: TagSettings | None = None) -> None:
        self.store = store
        self.tags = tags or TagSettings()

    def search(self, query: ConversationQuery, tag: str | None = None) -> HistoryPage:
        if query.start is not None and query.end is not None and query.end <= query.start:
            raise SearchRejected("invalid_date_range", "the end must come after the start")
        if not tag:
            page = self.store.search(query)
            return HistoryPage([self._entry(c) for c in page.conversations], page.total)
        candidates = self.store.search(replace(query, limit=MAX_TAGGED, offset=0))
        tagged = [
            entry for entry in map(self._entry, candidates.conversations) if tag in entry.tags
        ]
        end = None if query.limit is None else query.offset + query.limit
        return HistoryPage(tagged[query.offset : end], len(tagged))

    def _entry(self, conversation: Conversation) -> HistoryEntry:
        events = self.store.events(conversation.id)
        said = [r.event.text for r in events if isinstance(r.event, CustomerMessaged)]
        agent, agent_name = _last_agent(events)
        return HistoryEntry(
            conversation=conversation,
            first_message=said[0] if said else None,
            last_message=said[-1] if said else None,
            tags=tuple(conversation_tags([r.event for r in events], self.tags)),
            agent=agent,
            agent_name=agent_name,
        )


def _last_agent(events: list[Recorded]) -> tuple[str | None, str | None]:
    for recorded in reversed(events):
        event = recorded.event
        if isinstance(event, StatusChanged) and event.to_status == ConversationStatus.WITH_AGENT:
            if event.assignee:
                return event.assignee, event.assignee_name or event.assignee
            username = Actor.parse(event.actor).username
            return username, event.agent_name or username
    return None, None
