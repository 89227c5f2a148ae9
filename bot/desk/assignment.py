"""Who gets a conversation: a new handoff goes to the least busy online agent when
auto-assignment is on (fewest conversations in hand; of equals, the one who got one longest
ago), and waiting conversations are offered to an agent as they come online."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from bot.access.accounts import Role, User
from bot.conversation.flows import (
    SYSTEM,
    Actor,
    AssignedToAgent,
    ConversationFlows,
    HandoffRequested,
    Transition,
)
from bot.conversation.status import ConversationStatus, InvalidTransition
from bot.conversation.store import ConversationNotFound, ConversationStore, StatusConflict
from bot.desk.presence import AgentPresence

log = logging.getLogger(__name__)


class AutoAssignment:
    def __init__(
        self,
        store: ConversationStore,
        flows: ConversationFlows,
        presence: AgentPresence,
        user: Callable[[str], User | None],
        *,
        enabled: bool = False,
    ) -> None:
        self.store = store
        self.flows = flows
        self.presence = presence
        self._user = user
        self.enabled = enabled
        self._last_given: dict[str, float] = {}
        self._giving: dict[str, str] = {}  # conversation → the agent chosen, being given
        self._lock = threading.Lock()  # one choice at a time, so handoffs spread out

    def after_move(self, conversation_id: str, transition: Transition) -> None:
        """Flows call this after every move: a new handoff is given to someone."""
        if self.enabled and isinstance(transition, HandoffRequested):
            self.assign(conversation_id)

    def agent_arrived(self, _username: str) -> None:
        """An agent came online: the waiting conversations (oldest first) find a person."""
        if not self.enabled:
            return
        for conversation in reversed(self.store.conversations(ConversationStatus.WAITING)):
            if self.assign(conversation.id) is None:
                break

    def assign(self, conversation_id: str) -> str | None:
        """Give a waiting conversation to the least busy online agent; their username, or None
        when nobody is online or it was no longer waiting."""
        # choosing takes the lock, giving does not: the caller may hold the conversation's
        # lock, and another thread holding this one could be waiting for it
        with self._lock:
            agent = self.least_busy()
            if agent is None:
                return None
            self._last_given[agent.username] = time.monotonic()
            self._giving[conversation_id] = agent.username
        try:
            self.flows.apply(
                conversation_id,
                AssignedToAgent(
                    SYSTEM,
                    reason="auto_assigned",
                    agent=Actor.agent(agent.username, agent.display_name),
                ),
            )
        except (StatusConflict, InvalidTransition, ConversationNotFound):
            return None
        finally:
            with self._lock:
                self._giving.pop(conversation_id, None)
        log.info("conversation_auto_assigned", extra={"conversation_id": conversation_id})
        return agent.username

    def least_busy(self) -> User | None:
        """Of the online agents, who has fewest conversations (those being given included);
        of equals, who got one longest ago. Called under the choosing lock."""
        online = [
            u
            for u in map(self._user, self.presence.online())
            if u and u.active and u.may(Role.AGENT)
        ]
        if not online:
            return None
        taken = self.store.conversations(ConversationStatus.WITH_AGENT)
        load = Counter(c.assignee for c in taken)
        stored = {c.id for c in taken}
        load.update(u for c, u in self._giving.items() if c not in stored)
        return min(
            online,
            key=lambda u: (load[u.username], self._last_given.get(u.username, 0.0), u.username),
        )
