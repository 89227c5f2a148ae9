"""The handoff packet: everything an agent needs at once, so the customer never repeats
themselves. Built from the conversation's log (and the knowledge base for the passages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.answering.answerer import Answerer
from bot.answering.extract import citation_label
from bot.answering.language import detect_customer_language
from bot.conversation.events import (
    BotTurn,
    Citation,
    CustomerMessaged,
    CustomerSentImage,
    Decision,
    Recorded,
    TurnHandedOff,
)
from bot.conversation.store import Conversation, ConversationStore
from bot.conversation.views import last_handoff, sentiments
from bot.reports.tags import TagSettings, conversation_tags, customer_tags
from knowledge.catalog import Catalog

EARLIER_CONVERSATIONS = 10
SNIPPET_CHARS = 300


@dataclass(frozen=True)
class Packet:
    trigger: str | None
    trigger_value: float | str | None
    question: str | None  # the customer's last question before the handoff
    sentiment: list[dict[str, Any]]  # [{seq, score, text}] over the turns
    retrieved: list[dict[str, Any]]  # what the bot found for that question, with scores
    customer: dict[str, Any]  # channel, id, earlier conversations
    suggested_reply: dict[str, Any] | None = None  # {text, citations} from the knowledge base
    signals: dict[str, Any] = field(default_factory=dict)  # every gate signal at the handoff
    # the pictures the customer sent in this conversation: [{seq, at, attachment_id, ...}]
    pictures: list[dict[str, Any]] = field(default_factory=list)


class PacketBuilder:
    def __init__(
        self,
        store: ConversationStore,
        catalog: Catalog,
        answerer: Answerer,
        tags: TagSettings | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.answerer = answerer
        self.tags = tags or TagSettings()

    def build(self, conversation: Conversation, events: list[Recorded]) -> Packet:
        handoff = last_handoff(events)
        upto = handoff.seq if handoff else events[-1].seq if events else 0
        before = [r for r in events if r.seq <= upto]
        question = next(
            (r.event.text for r in reversed(before) if isinstance(r.event, CustomerMessaged)),
            None,
        )
        turn = next((r.event for r in reversed(before) if isinstance(r.event, BotTurn)), None)
        return Packet(
            trigger=handoff.trigger if handoff else None,
            trigger_value=handoff.trigger_value if handoff else None,
            question=question,
            sentiment=[
                {"seq": seq, "score": round(score, 3), "text": text}
                for seq, score, text in sentiments(events)
            ],
            retrieved=self._retrieved(turn),
            customer=self._customer(conversation, events),
            suggested_reply=self._suggestion(turn, question),
            signals=dict(turn.details.get("gate", {}).get("signals", {})) if turn else {},
            pictures=[
                {
                    "seq": r.seq,
                    "at": r.event.at.isoformat(),
                    "attachment_id": r.event.attachment_id,
                    "content_type": r.event.content_type,
                    "width": r.event.width,
                    "height": r.event.height,
                }
                for r in events
                if isinstance(r.event, CustomerSentImage)
            ],
        )

    def _retrieved(self, turn: BotTurn | None) -> list[dict[str, Any]]:
        if turn is None or not turn.retrieved:
            return []
        chunks = self.catalog.get([r.item_id for r in turn.retrieved])
        found = []
        for r in turn.retrieved:
            chunk = chunks.get(r.item_id)
            if chunk is None:
                continue  # re-ingested away since
            cited = Citation(r.item_id, chunk.source, chunk.locator, chunk.text[:SNIPPET_CHARS])
            found.append(
                {
                    "item_id": r.item_id,
                    "score": round(r.score, 4),
                    "scores": {k: round(v, 4) for k, v in r.scores.items()},
                    "source": chunk.source,
                    "locator": chunk.locator,
                    "label": citation_label(cited, turn.language),
                    "snippet": cited.snippet,
                }
            )
        return found

    def _customer(self, conversation: Conversation, events: list[Recorded]) -> dict[str, Any]:
        earlier: list[dict[str, Any]] = []
        this = conversation_tags([r.event for r in events], self.tags)
        tags = [this]
        if conversation.customer_id:
            for other in self.store.conversations(customer_id=conversation.customer_id):
                if other.id == conversation.id:
                    continue
                logged = self.store.events(other.id)
                tags.append(conversation_tags([r.event for r in logged], self.tags))
                first = next(
                    (r.event.text for r in logged if isinstance(r.event, CustomerMessaged)),
                    None,
                )
                earlier.append(
                    {
                        "id": other.id,
                        "created_at": other.created_at.isoformat(),
                        "status": other.status.value,
                        "first_message": first,
                    }
                )
                if len(earlier) == EARLIER_CONVERSATIONS:
                    break
        return {
            "channel": conversation.channel,
            "customer_id": conversation.customer_id,
            "language": conversation.language,
            "earlier_conversations": earlier,
            "conversation_tags": this,
            "tags": customer_tags(tags),
        }

    def _suggestion(self, turn: BotTurn | None, question: str | None) -> dict[str, Any] | None:
        """The knowledge base's answer to the question: the one the bot gave or would have
        given, else a fresh look (an agent may still use a near miss)."""
        if isinstance(turn, TurnHandedOff):
            answer = turn.details.get("answer", {})
            if answer.get("decision") == Decision.ANSWERED.value and answer.get("reply"):
                return {"text": answer["reply"], "citations": answer.get("citations", [])}
        elif turn is not None and turn.decision == Decision.ANSWERED:
            return {"text": turn.reply, "citations": [c.__dict__ for c in turn.citations]}
        if not question:
            return None
        outcome = self.answerer.answer(question, detect_customer_language(question))
        if outcome.decision != Decision.ANSWERED:
            return None
        return {"text": outcome.reply, "citations": [c.__dict__ for c in outcome.citations]}
