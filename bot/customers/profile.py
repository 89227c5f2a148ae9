"""A customer's profile across their channels, built from the conversation log, and its
completeness: the share of the profile fields the shop wants that are known for the customer.

Fields known from the log and the channels: display_name (the platform's), channels, languages,
tags (the auto-tagging), topics (the sheets or files of the answers given), satisfaction (the
surveys' CSAT and CES), first_contact, last_contact, preferred_channel (where they wrote most).
Fields no channel collects come from bot/customers/directory.py: email and phone (as corrected
on the customer's request, else a verified one, else what they reported;
bot/customers/contacts.py), verified_email and
verified_phone (known only when verified), marketing_consent (their latest opt-in or opt-out,
bot/customers/consent.py; known whether it is yes or no) and the shop's own fields, named
`field:<name>` (bot/customers/fields.py). Those values win over the log's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.conversation.events import BotTurn, CustomerMessaged, Recorded, SurveyAnswered
from bot.conversation.store import Conversation
from bot.reports.tags import TagSettings, conversation_tags

ProfileField = Literal[
    "display_name",
    "channels",
    "languages",
    "tags",
    "topics",
    "satisfaction",
    "first_contact",
    "last_contact",
    "preferred_channel",
    "email",
    "phone",
    "verified_email",
    "verified_phone",
    "marketing_consent",
]
PROFILE_FIELDS: tuple[str, ...] = ProfileField.__args__  # type: ignore[attr-defined]


class ProfileSettings(BaseModel):
    wanted: list[ProfileField] = Field(
        default=["display_name", "languages", "tags", "satisfaction", "preferred_channel"],
        description="The profile fields the shop wants known for every customer; completeness "
        "is the share of these that are known (with the shop's own fields marked wanted). Any "
        "of: " + ", ".join(PROFILE_FIELDS) + ".",
    )


@dataclass(frozen=True)
class Profile:
    values: dict[str, Any] = field(default_factory=dict)  # only the known fields

    def known(self, name: str) -> bool:
        return self.values.get(name) not in (None, "", [], ())


def build_profile(
    conversations: Sequence[Conversation],
    events: Callable[[str], list[Recorded]],
    names: Mapping[str, str | None],
    tags: TagSettings,
    corrected: Mapping[str, Any] | None = None,
) -> Profile:
    """The profile of a customer from their conversations (on every channel), the events of
    each (`events(conversation_id)`), their names on the platforms (by identity), and the
    values known beside the log (`corrected`: contacts, consent, the shop's fields, a corrected
    name), which win."""
    values: dict[str, Any] = dict(corrected or {})
    named = [name for name in names.values() if name]
    if named and "display_name" not in values:
        values["display_name"] = named[0]
    if not conversations:
        return Profile(values)
    written: Counter[str] = Counter()
    languages: list[str] = []
    topics: list[str] = []
    found_tags: list[str] = []
    surveys: list[dict[str, Any]] = []
    contacts = []
    for conversation in sorted(conversations, key=lambda c: c.created_at):
        log = events(conversation.id)
        for recorded in log:
            event = recorded.event
            if isinstance(event, CustomerMessaged):
                written[conversation.channel] += 1
                contacts.append(event.at)
                if event.language in ("zh", "en") and event.language not in languages:
                    languages.append(event.language)
            elif isinstance(event, BotTurn) and event.topic and event.topic not in topics:
                topics.append(event.topic)
            elif isinstance(event, SurveyAnswered):
                surveys.append({"at": event.at.isoformat(), "csat": event.csat, "ces": event.ces})
        for tag in conversation_tags([r.event for r in log], tags):
            if tag not in found_tags:
                found_tags.append(tag)
    values["channels"] = sorted({c.channel for c in conversations})
    values["languages"] = languages
    values["tags"] = found_tags
    values["topics"] = topics
    values["satisfaction"] = surveys
    if contacts:
        values["first_contact"] = min(contacts).isoformat()
        values["last_contact"] = max(contacts).isoformat()
        values["preferred_channel"] = written.most_common(1)[0][0]
    return Profile({k: v for k, v in values.items() if v not in (None, "", [], ())})


def completeness(profile: Profile, wanted: Sequence[str]) -> float | None:
    """The share of the wanted fields that are known; None when the shop wants none."""
    if not wanted:
        return None
    return sum(profile.known(name) for name in wanted) / len(wanted)


@dataclass(frozen=True)
class CompletenessSummary:
    customers: int
    mean: float | None
    distribution: dict[str, int]  # "0-25%", "25-50%", "50-75%", "75-100%", "100%"
    missing: list[tuple[str, int]]  # the wanted fields, most often missing first


def summarize(profiles: Sequence[Profile], wanted: Sequence[str]) -> CompletenessSummary:
    """Completeness over many customers: its mean, how it is spread, what is missing most."""
    shares = [s for s in (completeness(p, wanted) for p in profiles) if s is not None]
    buckets = {"0-25%": 0, "25-50%": 0, "50-75%": 0, "75-100%": 0, "100%": 0}
    for share in shares:
        if share >= 1:
            buckets["100%"] += 1
        elif share >= 0.75:
            buckets["75-100%"] += 1
        elif share >= 0.5:
            buckets["50-75%"] += 1
        elif share >= 0.25:
            buckets["25-50%"] += 1
        else:
            buckets["0-25%"] += 1
    missing = Counter({name: 0 for name in wanted})
    for profile in profiles:
        for name in wanted:
            if not profile.known(name):
                missing[name] += 1
    return CompletenessSummary(
        customers=len(profiles),
        mean=round(sum(shares) / len(shares), 4) if shares else None,
        distribution=buckets,
        missing=sorted(missing.items(), key=lambda item: (-item[1], item[0])),
    )
