"""Every change of a conversation's status, in one place: each flow is a typed transition
(who asked for it, why), performed under the conversation's lock as one atomic move of the
store, recorded as a `StatusChanged` event, and followed by its notifications (the
conversation's listeners always; the queue's when the move touches the queue).

    HandoffRequested     bot → waiting            the gate or the customer asked for a person
    AgentAssigned        waiting → with_agent     an agent claimed it (only if still waiting)
    AssignedToAgent      waiting → with_agent     the system (auto-assignment) or an admin gave
                                                  it to an agent
    AgentTransferred     with_agent → with_agent  its agent (or an admin) passed it to a colleague
    Unassigned           with_agent → waiting     back into the queue, nobody has it
    ReturnedToBot        waiting | with_agent → bot
    ConversationResolved waiting | with_agent → resolved
    CustomerCameBack     resolved → bot           the customer wrote after a resolution
    CustomerLeft         waiting → bot            the customer's widget was gone too long (missed)

The table of allowed moves is `bot.conversation.status.TRANSITIONS`; a move it forbids raises
InvalidTransition, and a move made with `expected` set raises StatusConflict when another
move came first.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from bot.conversation.events import Event, Recorded
from bot.conversation.feed import EventFeed
from bot.conversation.status import ConversationStatus
from bot.conversation.store import ConversationStore

ActorKind = Literal["bot", "customer", "agent", "system"]

QUEUE_STATUSES = frozenset({ConversationStatus.WAITING, ConversationStatus.WITH_AGENT})


@dataclass(frozen=True)
class Actor:
    """Who moved the conversation; an agent by username, with the name customers see."""

    kind: ActorKind
    username: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """As the log records it: "bot", "customer", "system" or "agent:<username>"."""
        return f"agent:{self.username}" if self.kind == "agent" else self.kind

    @classmethod
    def agent(cls, username: str, name: str | None = None) -> Actor:
        return cls("agent", username, name)

    @classmethod
    def parse(cls, label: str) -> Actor:
        """The actor a log label names; an unknown label reads as the system."""
        kind, _, username = label.partition(":")
        if kind == "agent" and username:
            return cls.agent(username)
        if kind in ("bot", "customer", "system"):
            return cls(kind)  # type: ignore[arg-type]
        return SYSTEM


BOT = Actor("bot")
CUSTOMER = Actor("customer")
SYSTEM = Actor("system")


@dataclass(frozen=True)
class Transition:
    """A move of the status; subclasses name it and fix where it goes."""

    to: ClassVar[ConversationStatus]
    actor: Actor
    reason: str = ""
    # Only from this status (a compare-and-set); None takes the status as it is.
    expected: ConversationStatus | None = None

    @property
    def assignee(self) -> str | None:
        return None

    @property
    def assignee_name(self) -> str | None:
        return None


@dataclass(frozen=True)
class HandoffRequested(Transition):
    to: ClassVar[ConversationStatus] = ConversationStatus.WAITING


@dataclass(frozen=True)
class AgentAssigned(Transition):
    to: ClassVar[ConversationStatus] = ConversationStatus.WITH_AGENT
    reason: str = "claimed"
    expected: ConversationStatus | None = ConversationStatus.WAITING

    @property
    def assignee(self) -> str | None:
        return self.actor.username

    @property
    def assignee_name(self) -> str | None:
        return self.actor.name


@dataclass(frozen=True)
class _ToAgent(Transition):
    """A move that gives the conversation to an agent other than (or besides) the actor."""

    to: ClassVar[ConversationStatus] = ConversationStatus.WITH_AGENT
    agent: Actor = SYSTEM  # the agent who gets it (kind "agent", with their display name)

    def __post_init__(self) -> None:
        if self.agent.kind != "agent" or not self.agent.username:
            raise ValueError("a conversation is given to an agent")

    @property
    def assignee(self) -> str | None:
        return self.agent.username

    @property
    def assignee_name(self) -> str | None:
        return self.agent.name


@dataclass(frozen=True)
class AssignedToAgent(_ToAgent):
    reason: str = "assigned"
    expected: ConversationStatus | None = ConversationStatus.WAITING


@dataclass(frozen=True)
class AgentTransferred(_ToAgent):
    reason: str = "transferred"
    expected: ConversationStatus | None = ConversationStatus.WITH_AGENT


@dataclass(frozen=True)
class Unassigned(Transition):
    to: ClassVar[ConversationStatus] = ConversationStatus.WAITING
    reason: str = "unassigned"
    expected: ConversationStatus | None = ConversationStatus.WITH_AGENT


@dataclass(frozen=True)
class ReturnedToBot(Transition):
    to: ClassVar[ConversationStatus] = ConversationStatus.BOT
    reason: str = "returned_to_bot"


@dataclass(frozen=True)
class ConversationResolved(Transition):
    to: ClassVar[ConversationStatus] = ConversationStatus.RESOLVED
    reason: str = "resolved"


@dataclass(frozen=True)
class CustomerCameBack(Transition):
    to: ClassVar[ConversationStatus] = ConversationStatus.BOT
    actor: Actor = CUSTOMER
    reason: str = "customer_wrote_again"
    expected: ConversationStatus | None = ConversationStatus.RESOLVED


@dataclass(frozen=True)
class CustomerLeft(Transition):
    """A waiting customer whose widget has been gone for a set time: out of the live queue,
    counted as missed; the bot answers if they come back."""

    to: ClassVar[ConversationStatus] = ConversationStatus.BOT
    actor: Actor = SYSTEM
    reason: str = "customer_left"
    expected: ConversationStatus | None = ConversationStatus.WAITING


class ConversationFlows:
    def __init__(
        self,
        store: ConversationStore,
        feed: EventFeed,
        *,
        waiting: Callable[[], list[str]] | None = None,
    ) -> None:
        self.store = store
        self.feed = feed
        # the ids of the waiting conversations, whose customers hear when the queue moves
        self._waiting = waiting or (lambda: [])
        # called after every move, outside nothing but the caller's own locks
        self._after: list[Callable[[str, Transition], None]] = []
        # a lock lives while someone holds or waits for it
        self._locks: weakref.WeakValueDictionary[str, _RLock] = weakref.WeakValueDictionary()
        self._locks_guard = threading.Lock()
        # the store's lock across processes (PostgreSQL), taken once this process's is held
        self._shared: Callable[[str], AbstractContextManager[Any]] | None = getattr(
            store, "conversation_lock", None
        )

    def lock_for(self, conversation_id: str) -> _RLock:
        """The lock that orders everything done to one conversation (the customer's turns, the
        agents' desk, these flows), within this process and, when the store has one, across
        every worker of the database. Re-entrant: a flow may run inside a turn that holds it."""
        with self._locks_guard:
            lock = self._locks.get(conversation_id)
            if lock is None:
                shared = self._shared
                lock = self._locks[conversation_id] = _RLock(
                    (lambda: shared(conversation_id)) if shared is not None else None
                )
            return lock

    def apply(
        self,
        conversation_id: str,
        transition: Transition,
        *,
        preceded_by: Sequence[Event] = (),
        after_seq: int | None = None,
    ) -> Recorded:
        """Perform the move, record it, and tell whoever listens. `preceded_by`: events logged
        with the move in one transaction (the turn that hands off), as the store's
        `transition` writes them (`after_seq`: only right after that event)."""
        with self.lock_for(conversation_id):
            before = self.store.get(conversation_id).status
            recorded = self.store.transition(
                conversation_id,
                transition.to,
                reason=transition.reason,
                actor=transition.actor.label,
                expected=transition.expected,
                assignee=transition.assignee,
                agent_name=transition.actor.name if transition.actor.kind == "agent" else None,
                assignee_name=transition.assignee_name,
                preceded_by=preceded_by,
                after_seq=after_seq,
            )
        self.feed.notify(conversation_id)
        if before in QUEUE_STATUSES or transition.to in QUEUE_STATUSES:
            self.queue_changed()
        for after in self._after:
            after(conversation_id, transition)
        return recorded

    def after_move(self, callback: Callable[[str, Transition], None]) -> None:
        """Call `callback(conversation_id, transition)` after every move (e.g. to assign a
        new handoff to an agent)."""
        self._after.append(callback)

    def queue_changed(self) -> None:
        self.feed.queue_changed(self._waiting())


class _RLock:
    """A re-entrant lock that can be held in a weak dictionary; with `shared`, the outermost
    holder also holds the lock `shared()` gives (another process's turn waits there)."""

    __slots__ = ("__weakref__", "_depth", "_held", "_lock", "_shared")

    def __init__(self, shared: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self._lock = threading.RLock()
        self._shared = shared
        self._depth = 0  # changed only by the thread holding _lock
        self._held: AbstractContextManager[Any] | None = None

    def __enter__(self) -> bool:
        self._lock.acquire()
        if self._depth == 0 and self._shared is not None:
            held = self._shared()
            try:
                held.__enter__()
            except BaseException:
                self._lock.release()
                raise
            self._held = held
        self._depth += 1
        return True

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._held is not None:
                held, self._held = self._held, None
                held.__exit__(None, None, None)
        finally:
            self._lock.release()
