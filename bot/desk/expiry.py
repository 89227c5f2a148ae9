"""Ghosts leave the queue: a waiting customer whose widget has been gone for `gone_after`
(no stream, no poll) and who left no message moves out of the live queue as missed (the
CustomerLeft flow, reason customer_left)."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.conversation.events import OfflineMessageLeft
from bot.conversation.flows import ConversationFlows, CustomerLeft
from bot.conversation.status import ConversationStatus
from bot.conversation.store import StatusConflict
from bot.conversation.views import last_handoff
from bot.desk.presence import Sightings

log = logging.getLogger(__name__)


class QueueExpiry:
    def __init__(
        self, flows: ConversationFlows, sightings: Sightings, gone_after: timedelta
    ) -> None:
        self.flows = flows
        self.store = flows.store
        self.sightings = sightings
        self.gone_after = gone_after

    def run(self) -> list[str]:
        """Move every gone customer out of the queue; returns their conversations' ids."""
        at = self.sightings.clock()
        moved = []
        for conversation in self.store.conversations(ConversationStatus.WAITING):
            gone = self.sightings.gone_since(conversation.id)
            if gone is None:
                continue
            if at - gone < self.gone_after:
                continue
            events = self.store.events(conversation.id)
            handoff = last_handoff(events)
            after = handoff.at if handoff else conversation.created_at
            if any(isinstance(r.event, OfflineMessageLeft) and r.event.at >= after for r in events):
                continue
            try:
                self.flows.apply(conversation.id, CustomerLeft())
            except StatusConflict:
                continue  # claimed or returned meanwhile
            moved.append(conversation.id)
        if moved:
            log.info("queue.expired", extra={"missed": len(moved)})
        return moved
