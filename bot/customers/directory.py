"""Every customer and their 360° profile, in one place: the agents' customer view, the
completeness on the dashboard (`profile_completeness` in GET /api/metrics) and the audience
export all read customers from here.

A customer is one identity, or the identities linked into one (bot/customers/identities.py);
their profile (bot/customers/profile.py) is built from the conversations on all of them, with
the values kept beside the log: contact points verified or self-reported
(bot/customers/contacts.py), the marketing consent (bot/customers/consent.py), the shop's own
fields (bot/customers/fields.py) and a name corrected on request
(bot/customers/corrections.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.conversation.store import Conversation, ConversationStore
from bot.customers.consent import Consent, MarketingConsents, current
from bot.customers.contacts import ContactPoint, contact_points
from bot.customers.corrections import CustomerCorrections
from bot.customers.fields import PREFIX, CustomFields, FieldValue
from bot.customers.identities import (
    CHANNEL_PREFIXES,
    Customer,
    CustomerIdentities,
    conversations_of,
    identity_of,
)
from bot.customers.profile import (
    PROFILE_FIELDS,
    CompletenessSummary,
    Profile,
    build_profile,
    summarize,
)
from bot.orders.model import Order
from bot.reports.tags import TagSettings

# What the completeness numbers mean, next to them on the dashboard and in the API.
DEFINITIONS: dict[str, dict[str, str]] = {
    "profile_completeness": {
        "en": "For each customer (identities linked into one count once), the share of the "
        "profile fields the shop marks as wanted that are known; the mean over every customer "
        "with a conversation (on the chosen channel, if one is chosen).",
        "zh": "每位顧客（已連結的多個身分算一位）在商店設定為「需要」的檔案欄位中，"
        "已知欄位所占的比例；取所有有對話的顧客（若選了管道，則為在該管道有對話的顧客）的平均。",
    },
    "profile_field_coverage": {
        "en": "For each profile field: the share of those customers for whom it is known. "
        "A verified e-mail or phone came from a verified source (the shop's signed customer "
        "id, or an order the customer proved was theirs); marketing consent is known once the "
        "customer opted in or out.",
        "zh": "每個檔案欄位：已知該欄位的顧客比例。已驗證的 Email 或電話來自可信來源"
        "（商店簽署的顧客編號，或顧客證明是自己的訂單）；行銷同意在顧客同意或拒絕後即為已知。",
    },
}


@dataclass(frozen=True)
class CustomerRecord:
    customer: Customer
    conversations: list[Conversation]
    profile: Profile
    contacts: list[ContactPoint] = field(default_factory=list)
    consent: Consent | None = None
    fields: dict[str, FieldValue] = field(default_factory=dict)

    @property
    def contactable(self) -> bool:
        """Marketing may write to them: their latest answer is an opt-in."""
        return self.consent is not None and self.consent.consent

    def channels(self) -> list[str]:
        return sorted({c.channel for c in self.conversations})


@dataclass(frozen=True)
class Coverage:
    summary: CompletenessSummary
    wanted: list[str]
    known: dict[str, int]  # every profile field (and the shop's own): customers who have it


class CustomerDirectory:
    def __init__(
        self,
        identities: CustomerIdentities,
        store: ConversationStore,
        names: Callable[[str], str | None],
        tags: TagSettings,
        wanted: Sequence[str],
        *,
        corrections: CustomerCorrections | None = None,
        consents: MarketingConsents | None = None,
        fields: CustomFields | None = None,
        orders: Callable[[str], list[Order]] | None = None,
    ) -> None:
        self.identities = identities
        self.store = store
        self.names = names
        self.tags = tags
        self.settings_wanted = list(wanted)
        self.corrections = corrections
        self.consents = consents
        self.fields = fields
        self.orders = orders

    def wanted(self) -> list[str]:
        """The fields completeness counts: the settings' and the shop's own marked wanted."""
        own = (
            [PREFIX + f.name for f in self.fields.definitions() if f.wanted] if self.fields else []
        )
        return [*self.settings_wanted, *own]

    def all_fields(self) -> list[str]:
        own = [PREFIX + f.name for f in self.fields.definitions()] if self.fields else []
        return [*PROFILE_FIELDS, *own]

    def key_of(self, conversation_id: str, customer_id: str | None) -> str:
        """One key for all of a customer's conversations: their linked customer's, else the
        signed customer id (or the channel's user id), else the conversation's own."""
        identity = (
            customer_id
            if customer_id and customer_id.startswith(CHANNEL_PREFIXES)
            else f"conversation:{conversation_id}"
        )
        return self.identities.customer(identity).key or customer_id or identity

    def record(self, identity: str) -> CustomerRecord:
        """The customer an identity belongs to."""
        customer = self.identities.customer(identity)
        return self._record(customer, conversations_of(self.store, customer.identities))

    def everyone(self, channel: str | None = None) -> list[CustomerRecord]:
        """Every customer with a conversation (on `channel`, if given), each once."""
        seen: set[str] = set()
        found: list[CustomerRecord] = []
        for conversation in self.store.conversations():
            identity = identity_of(conversation)
            if identity in seen:
                continue
            customer = self.identities.customer(identity)
            seen.update(customer.identities)
            conversations = conversations_of(self.store, customer.identities)
            if channel and all(c.channel != channel for c in conversations):
                continue
            found.append(self._record(customer, conversations))
        return found

    def coverage(self, channel: str | None = None) -> Coverage:
        """Completeness over every customer (of `channel`) and each field's coverage."""
        records = self.everyone(channel)
        profiles = [r.profile for r in records]
        wanted = self.wanted()
        known = {name: sum(p.known(name) for p in profiles) for name in self.all_fields()}
        return Coverage(summarize(profiles, wanted), wanted, known)

    def coverage_dict(self, channel: str | None = None) -> dict[str, Any]:
        """The coverage, JSON-ready: what GET /api/metrics and the admin API answer."""
        found = self.coverage(channel)
        customers = found.summary.customers
        return {
            "profile_completeness": found.summary.mean,
            "profile": {
                "customers": customers,
                "wanted": found.wanted,
                "distribution": found.summary.distribution,
                "missing": [{"field": f, "customers": n} for f, n in found.summary.missing],
                "fields": [
                    {
                        "field": name,
                        "wanted": name in found.wanted,
                        "customers": n,
                        "share": round(n / customers, 4) if customers else None,
                    }
                    for name, n in found.known.items()
                ],
            },
        }

    def _record(self, customer: Customer, conversations: list[Conversation]) -> CustomerRecord:
        ids = [c.customer_id for c in conversations if c.customer_id]
        corrected = self.corrections.latest_of(ids) if self.corrections is not None else None
        contacts = contact_points(
            conversations,
            self.store.events,
            self.orders,
            [corrected.email, corrected.phone] if corrected is not None else [],
        )
        consent = current(
            self.consents.history(customer.identities) if self.consents is not None else [],
            corrected,
        )
        own = self.fields.values_of(customer.identities) if self.fields is not None else {}
        values: dict[str, Any] = {}
        if corrected is not None and corrected.name:
            values["display_name"] = corrected.name
        for kind in ("email", "phone"):
            points = [p for p in contacts if p.kind == kind]
            fixed = getattr(corrected, kind) if corrected is not None else None
            if fixed:
                values[kind] = fixed  # corrected on the customer's request: as they gave it
            elif points:
                values[kind] = points[0].value  # verified ones come first
            if points and points[0].verified:
                values[f"verified_{kind}"] = points[0].value
        if consent is not None:
            values["marketing_consent"] = consent.consent
        for name, value in own.items():
            values[PREFIX + name] = value.value
        profile = build_profile(
            conversations,
            self.store.events,
            {i: self.names(i) for i in customer.identities},
            self.tags,
            values,
        )
        return CustomerRecord(customer, conversations, profile, contacts, consent, own)
