"""Offline messages: what customers left while nobody could answer, for agents to answer when
they are back. An answer is an AgentReplied in the customer's conversation (they read it when
they come back to the widget) and an OfflineMessageAnswered that marks the message done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.access.accounts import User
from bot.conversation.events import (
    AgentReplied,
    OfflineMessageAnswered,
    OfflineMessageLeft,
    Recorded,
    now,
)
from bot.conversation.service import ConversationService


class NoSuchOfflineMessage(LookupError):
    def __init__(self, conversation_id: str, seq: int) -> None:
        super().__init__(f"event {seq} of conversation {conversation_id} is no offline message")


@dataclass(frozen=True)
class OfflineMessage:
    conversation_id: str
    seq: int
    at: datetime
    text: str
    language: str
    email: str | None
    phone: str | None
    answered_by: str | None  # the agent's display name, once answered
    answered_at: datetime | None


class OfflineInbox:
    def __init__(self, conversations: ConversationService) -> None:
        self.conversations = conversations
        self.store = conversations.store

    def messages(self, days: int = 30) -> list[OfflineMessage]:
        """The offline messages of the last `days` days, unanswered first, oldest first."""
        since = now() - timedelta(days=days)
        left: dict[tuple[str, int], OfflineMessageLeft] = {}
        answers: dict[tuple[str, int], OfflineMessageAnswered] = {}
        for seq, event in self.store.log(start=since):
            if isinstance(event, OfflineMessageLeft):
                left[(event.conversation_id, seq)] = event
            elif isinstance(event, OfflineMessageAnswered):
                answers[(event.conversation_id, event.message_seq)] = event
        found = [_message(key[1], event, answers.get(key)) for key, event in left.items()]
        return sorted(found, key=lambda m: (m.answered_at is not None, m.at))

    def answer(self, conversation_id: str, seq: int, agent: User, text: str) -> Recorded:
        """The agent's reply reaches the conversation; the message counts as answered."""
        text = text.strip()
        if not text:
            raise ValueError("the message is empty")
        with self.conversations.lock_for(conversation_id):
            found = self.store.events(conversation_id, after_seq=seq - 1)
            if (
                not found
                or found[0].seq != seq
                or not isinstance(found[0].event, OfflineMessageLeft)
            ):
                raise NoSuchOfflineMessage(conversation_id, seq)
            reply = self.store.append(
                AgentReplied(
                    conversation_id=conversation_id,
                    text=text,
                    agent=agent.username,
                    agent_name=agent.display_name,
                )
            )
            self.store.append(
                OfflineMessageAnswered(
                    conversation_id=conversation_id,
                    message_seq=seq,
                    reply_seq=reply.seq,
                    agent=agent.username,
                    agent_name=agent.display_name,
                )
            )
        self.conversations.feed.notify(conversation_id)
        self.conversations.queue_changed()
        return reply


def _message(
    seq: int, event: OfflineMessageLeft, answer: OfflineMessageAnswered | None
) -> OfflineMessage:
    return OfflineMessage(
        conversation_id=event.conversation_id,
        seq=seq,
        at=event.at,
        text=event.text,
        language=event.language,
        email=event.email,
        phone=event.phone,
        answered_by=answer.agent_name if answer else None,
        answered_at=answer.at if answer else None,
    )
