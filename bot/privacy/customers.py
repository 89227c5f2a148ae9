"""A customer's rights over what kefu holds about them: a copy of it, its correction, a stop
on its marketing use, and its erasure.

A customer is their `customer_id` (the shop's id, a LINE or Messenger id, an e-mail address),
on every channel. The copy holds each of their conversations with every event in it (private
notes and the bot's internals included: the law asks for everything held), their tags and
their survey answers, what was corrected on their request (bot/customers/corrections.py), their
marketing opt-ins and opt-outs (bot/customers/consent.py) and their values of the shop's own
fields (bot/customers/fields.py). The copy carries the pictures sent in their conversations too
(base64, with their type and size). Erasure deletes the corrections, the consents and the field
values and anonymises their conversations as the retention job does (bot/privacy/retention.py):
texts, pictures and customer id gone, counts kept; from then on those conversations answer 404
to everyone.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.attachments import store as pictures
from bot.attachments.store import AttachmentNotFound
from bot.conversation.events import AgentSentImage, ImageShared, Recorded, SurveyAnswered, now
from bot.conversation.sql import SqlConversationStore, writer
from bot.customers import consent, fields
from bot.customers.corrections import Correction, CustomerCorrections, forget
from bot.privacy.retention import anonymise
from bot.reports.tags import TagSettings, conversation_tags, customer_tags


class CustomerNotFound(LookupError):
    def __init__(self, customer_id: str) -> None:
        super().__init__("no conversation of this customer")
        self.customer_id = customer_id


@dataclass(frozen=True)
class Erasure:
    customer_id: str
    conversations: int
    events: int
    at: datetime
    files: int = 0  # pictures deleted


class CustomerData:
    def __init__(
        self,
        store: SqlConversationStore,
        tag_settings: TagSettings,
    ) -> None:
        self.store = store
        self.tag_settings = tag_settings
        self.corrections = CustomerCorrections(store.engine)
        self.consents = consent.MarketingConsents(store.engine)
        self.fields = fields.CustomFields(store.engine)

    def correct(self, customer_id: str, changes: dict[str, Any], actor: str) -> Correction:
        """Correct profile fields and set or clear the marketing opt-out (see
        CustomerCorrections.correct). Raises CustomerNotFound."""
        if not self.store.conversations(customer_id=customer_id):
            raise CustomerNotFound(customer_id)
        return self.corrections.correct(customer_id, changes, actor)

    def export(self, customer_id: str) -> dict[str, Any]:
        """Everything held about the customer, JSON-ready. Raises CustomerNotFound."""
        found = self.store.conversations(customer_id=customer_id)
        if not found:
            raise CustomerNotFound(customer_id)
        held: list[dict[str, Any]] = []
        tags: list[list[str]] = []
        surveys: list[dict[str, Any]] = []
        for conversation in found:
            recorded = self.store.events(conversation.id)
            tags.append(conversation_tags([r.event for r in recorded], self.tag_settings))
            surveys.extend(
                {
                    "conversation_id": conversation.id,
                    "at": r.event.at.isoformat(),
                    "csat": r.event.csat,
                    "ces": r.event.ces,
                    "comment": r.event.comment,
                }
                for r in recorded
                if isinstance(r.event, SurveyAnswered)
            )
            held.append(
                {
                    "id": conversation.id,
                    "channel": conversation.channel,
                    "language": conversation.language,
                    "status": conversation.status.value,
                    "created_at": conversation.created_at.isoformat(),
                    "updated_at": conversation.updated_at.isoformat(),
                    "events": [
                        {
                            "seq": r.seq,
                            "kind": r.event.kind,
                            "at": r.event.at.isoformat(),
                            "data": r.event.payload(),
                        }
                        for r in recorded
                    ],
                    "pictures": self._pictures(recorded),
                }
            )
        corrected = self.corrections.get(customer_id)
        held_by = _identities(customer_id, [c.id for c in found])
        return {
            "customer_id": customer_id,
            "exported_at": now().isoformat(),
            "channels": sorted({c.channel for c in found}),
            "tags": customer_tags(tags),
            "survey_answers": surveys,
            "profile": corrected.public() if corrected else None,
            "marketing_consent": [c.public() for c in self.consents.history(held_by)],
            "custom_fields": {
                name: {"value": v.value, "updated_at": v.updated_at.isoformat()}
                for name, v in self.fields.values_of(held_by).items()
            },
            "conversations": held,
        }

    def _pictures(self, recorded: list[Recorded]) -> list[dict[str, Any]]:
        """The pictures of one conversation, each with its content (base64)."""
        found = []
        for r in recorded:
            event = r.event
            if not isinstance(event, ImageShared):
                continue
            try:
                content = pictures.read(
                    self.store.engine, event.conversation_id, event.attachment_id
                )
            except AttachmentNotFound:
                continue
            found.append(
                {
                    "seq": r.seq,
                    "at": event.at.isoformat(),
                    "sent_by": "agent" if isinstance(event, AgentSentImage) else "customer",
                    "content_type": event.content_type,
                    "size": len(content),
                    "sha256": event.sha256,
                    "base64": base64.b64encode(content).decode("ascii"),
                }
            )
        return found

    def erase(self, customer_id: str) -> Erasure:
        """Anonymise every conversation of the customer and delete their corrections, their
        marketing opt-ins and opt-outs and their values of the shop's fields. Raises
        CustomerNotFound."""
        ids = [c.id for c in self.store.conversations(customer_id=customer_id)]
        if not ids:
            raise CustomerNotFound(customer_id)
        at = now()
        with writer(self.store.engine).begin() as conn:
            events = anonymise(conn, ids, at)
            forget(conn, customer_id)
            consent.forget(conn, _identities(customer_id, ids))
            fields.forget(conn, _identities(customer_id, ids))
            files = pictures.forget(conn, ids)
        return Erasure(customer_id, len(ids), events, at, files)


def _identities(customer_id: str, conversation_ids: list[str]) -> list[str]:
    """The identities (bot/customers/identities.py) the customer's consent and fields are kept
    on: their channel's user id, and each of their conversations."""
    return [customer_id, *(f"conversation:{c}" for c in conversation_ids)]
