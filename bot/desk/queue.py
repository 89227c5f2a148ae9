"""The human queue: conversations waiting for a person, in the order agents should take them
(`handoff.priority`), then those a person has. A waiting customer's position is their place
in that order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.conversation.events import CustomerMessaged, CustomerSentImage, now
from bot.conversation.status import ConversationStatus
from bot.conversation.store import Conversation, ConversationStore
from bot.conversation.views import claimer_name, last_customer_text, last_handoff, sentiments
from bot.reports.tags import TagSettings, conversation_tags
from handoff.priority import QueueSettings, priority


@dataclass(frozen=True)
class QueueEntry:
    conversation: Conversation
    priority: float
    position: int | None  # 1-based place among the waiting; None once a person has it
    waiting_since: datetime | None
    waited_s: float
    trigger: str | None
    trigger_value: float | str | None
    sentiment: float | None  # the highest negativity seen in the conversation
    last_message: str | None
    agent: str | None  # the username of the agent who has it
    agent_name: str | None = None  # their display name
    tags: tuple[str, ...] = ()  # what the customer asked about (bot.reports.tags)
    customer_messages: int = 0  # how many the customer wrote (a console hears of new ones)


class HumanQueue:
    def __init__(
        self,
        store: ConversationStore,
        settings: QueueSettings | None = None,
        tags: TagSettings | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or QueueSettings()
        self.tags = tags or TagSettings()

    def entries(self) -> list[QueueEntry]:
        """Waiting conversations by priority (then by wait), then those with an agent."""
        at = now()
        waiting = [self._entry(c, at) for c in self.store.conversations(ConversationStatus.WAITING)]
        waiting.sort(key=lambda e: (-e.priority, e.waiting_since or at))
        ranked = [_placed(e, i + 1) for i, e in enumerate(waiting)]
        taken = [
            self._entry(c, at) for c in self.store.conversations(ConversationStatus.WITH_AGENT)
        ]
        taken.sort(key=lambda e: e.waiting_since or at)
        return ranked + taken

    def position(self, conversation_id: str) -> int | None:
        for entry in self.entries():
            if entry.conversation.id == conversation_id:
                return entry.position
        return None

    def waiting_ids(self) -> list[str]:
        return [c.id for c in self.store.conversations(ConversationStatus.WAITING)]

    def _entry(self, conversation: Conversation, at: datetime) -> QueueEntry:
        events = self.store.events(conversation.id)
        handoff = last_handoff(events)
        scores = [score for _, score, _ in sentiments(events)]
        sentiment = max(scores) if scores else None
        since = handoff.at if handoff else conversation.updated_at
        waited = max(0.0, (at - since).total_seconds())
        trigger = handoff.trigger if handoff else None
        return QueueEntry(
            conversation=conversation,
            priority=round(priority(self.settings, trigger, sentiment, waited), 3),
            position=None,
            waiting_since=since,
            waited_s=round(waited, 1),
            trigger=trigger,
            trigger_value=handoff.trigger_value if handoff else None,
            sentiment=sentiment,
            last_message=last_customer_text(events),
            agent=conversation.assignee,
            agent_name=claimer_name(conversation, events),
            tags=tuple(conversation_tags([r.event for r in events], self.tags)),
            # a picture counts as a message: the agent is told of it as of any other
            customer_messages=sum(
                isinstance(r.event, CustomerMessaged | CustomerSentImage) for r in events
            ),
        )


def _placed(entry: QueueEntry, position: int) -> QueueEntry:
    return replace(entry, position=position)
