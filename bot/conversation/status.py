"""A conversation's status and the transitions allowed between statuses."""

from __future__ import annotations

from enum import StrEnum


class ConversationStatus(StrEnum):
    BOT = "bot"  # the bot answers
    WAITING = "waiting"  # handed off, waiting in the human queue
    WITH_AGENT = "with_agent"  # an agent owns it; the bot stays silent
    RESOLVED = "resolved"


S = ConversationStatus

# Every allowed move. A resolved conversation reopens with the bot when the customer writes again.
TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    S.BOT: frozenset({S.WAITING, S.RESOLVED}),
    S.WAITING: frozenset({S.WITH_AGENT, S.BOT, S.RESOLVED}),
    # with_agent → with_agent: a transfer to another agent
    S.WITH_AGENT: frozenset({S.WITH_AGENT, S.BOT, S.WAITING, S.RESOLVED}),
    S.RESOLVED: frozenset({S.BOT}),
}


class InvalidTransition(Exception):
    def __init__(self, current: ConversationStatus, target: ConversationStatus) -> None:
        super().__init__(f"a conversation cannot go from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: ConversationStatus, target: ConversationStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
