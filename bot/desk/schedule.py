"""The opening hours an admin set (stored in the database, so every worker reads the same;
the settings' hours until an admin saves some), and whether someone could take a handoff now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Table, delete, insert, select
from sqlalchemy.engine import Engine

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer
from bot.desk.presence import AgentPresence, Clock
from handoff.hours import Availability, BusinessHours, HoursSettings

HOURS_KEY = "hours"

# In the conversation store's schema (migration 0004): settings an admin edits, one JSON
# value per key.
shop_settings = Table(
    "shop_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)


class StoredHours:
    def __init__(self, engine: Engine, defaults: HoursSettings) -> None:
        self.engine = engine
        self.defaults = defaults

    def get(self) -> HoursSettings:
        with self.engine.connect() as conn:
            value: Any = conn.execute(
                select(shop_settings.c.value).where(shop_settings.c.key == HOURS_KEY)
            ).scalar_one_or_none()
        if value is None:
            return self.defaults
        return HoursSettings.model_validate(value)

    def put(self, hours: HoursSettings, username: str) -> HoursSettings:
        row = {
            "key": HOURS_KEY,
            "value": hours.model_dump(mode="json"),
            "updated_at": now(),
            "updated_by": username,
        }
        with writer(self.engine).begin() as conn:
            conn.execute(delete(shop_settings).where(shop_settings.c.key == HOURS_KEY))
            conn.execute(insert(shop_settings).values(**row))
        return hours


class Staffing:
    """Whether someone could answer now: open, and at least one agent online whose account
    may still take conversations (a deactivated agent's console left open counts for nobody)."""

    def __init__(
        self,
        hours: StoredHours,
        presence: AgentPresence,
        clock: Clock = now,
        may_answer: Callable[[str], bool] = lambda _: True,
    ) -> None:
        self.hours = hours
        self.presence = presence
        self.clock = clock
        self.may_answer = may_answer  # by username: an active account that may take chats

    def agents_online(self) -> list[str]:
        """The online agents who may answer."""
        return [name for name in self.presence.online() if self.may_answer(name)]

    def now(self, at: datetime | None = None) -> Availability:
        at = at or self.clock()
        hours = BusinessHours(self.hours.get())
        open_now = hours.open_now(at)
        return Availability(
            open_now=open_now,
            agents_available=open_now and bool(self.agents_online()),
            next_open=None if open_now else hours.next_open(at),
            at=at,
        )
