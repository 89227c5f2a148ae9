"""What the channels keep beside the conversation log, in the store's database (migration 0004):

- the platform events already taken, so that a redelivered event (LINE's webhookEventId,
  Messenger's message id) is handled once, also after a restart;
- each channel conversation's delivery cursor: the seq of the last event sent to the platform,
  moved by compare-and-set, so two workers never send the same event twice;
- the customers' contacts on each channel: name and language from the platform, and whether
  they follow the account (LINE's follow and unfollow).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer

channel_events = Table(
    "channel_events",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("received_at", UtcDateTime, nullable=False, index=True),
)

channel_deliveries = Table(
    "channel_deliveries",
    metadata,
    Column(
        "conversation_id",
        String(64),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("channel", String(32), nullable=False),
    Column("sender_id", String(128), nullable=False),
    Column("delivered_seq", Integer, nullable=False),
)

channel_contacts = Table(
    "channel_contacts",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("sender_id", String(128), primary_key=True),
    Column("display_name", String(200)),
    Column("language", String(16)),
    Column("following", Boolean),
    Column("updated_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class Tracked:
    """A conversation carried on a channel: to whom its events go, and how far they went."""

    conversation_id: str
    channel: str
    sender_id: str
    delivered_seq: int


@dataclass(frozen=True)
class Contact:
    channel: str
    sender_id: str
    display_name: str | None
    language: str | None
    following: bool | None
    updated_at: datetime


class ChannelRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def first_time(self, channel: str, event_id: str) -> bool:
        """Record the platform's event; False when it was recorded before (a redelivery)."""
        try:
            with self._writer.begin() as conn:
                conn.execute(
                    insert(channel_events).values(
                        channel=channel, event_id=event_id, received_at=now()
                    )
                )
        except IntegrityError:
            return False
        return True

    def track(self, conversation_id: str, channel: str, sender_id: str, seq: int) -> Tracked:
        """Carry the conversation on the channel; the events up to `seq` count as sent."""
        with self._writer.begin() as conn:
            conn.execute(
                insert(channel_deliveries).values(
                    conversation_id=conversation_id,
                    channel=channel,
                    sender_id=sender_id,
                    delivered_seq=seq,
                )
            )
        return Tracked(conversation_id, channel, sender_id, seq)

    def tracked(self, conversation_id: str) -> Tracked | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(channel_deliveries).where(
                    channel_deliveries.c.conversation_id == conversation_id
                )
            ).one_or_none()
        if row is None:
            return None
        return Tracked(row.conversation_id, row.channel, row.sender_id, row.delivered_seq)

    def advance(self, conversation_id: str, from_seq: int, to_seq: int) -> bool:
        """Move the cursor from `from_seq` to `to_seq`; False when another worker moved it
        first (that worker sends those events)."""
        with self._writer.begin() as conn:
            moved = conn.execute(
                update(channel_deliveries)
                .where(
                    channel_deliveries.c.conversation_id == conversation_id,
                    channel_deliveries.c.delivered_seq == from_seq,
                )
                .values(delivered_seq=to_seq)
            ).rowcount
        return bool(moved)

    def contact(self, channel: str, sender_id: str) -> Contact | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(channel_contacts).where(
                    channel_contacts.c.channel == channel,
                    channel_contacts.c.sender_id == sender_id,
                )
            ).one_or_none()
        if row is None:
            return None
        return Contact(
            row.channel,
            row.sender_id,
            row.display_name,
            row.language,
            row.following,
            row.updated_at,
        )

    def name_of(self, identity: str) -> str | None:
        """The platform's name for a channel identity ("line:U…"), if it gave one."""
        channel, _, sender = identity.partition(":")
        found = self.contact(channel, sender) if sender else None
        return found.display_name if found else None

    def save_contact(
        self,
        channel: str,
        sender_id: str,
        *,
        display_name: str | None = None,
        language: str | None = None,
        following: bool | None = None,
    ) -> Contact:
        """Create or update the contact; a value left None keeps what was known."""
        with self._writer.begin() as conn:
            found = conn.execute(
                select(channel_contacts).where(
                    channel_contacts.c.channel == channel,
                    channel_contacts.c.sender_id == sender_id,
                )
            ).one_or_none()
            known = dict(found._mapping) if found is not None else {}
            given = {"display_name": display_name, "language": language, "following": following}
            values = {
                **{
                    name: known.get(name) if value is None else value
                    for name, value in given.items()
                },
                "updated_at": now(),
            }
            if found is None:
                conn.execute(
                    insert(channel_contacts).values(channel=channel, sender_id=sender_id, **values)
                )
            else:
                conn.execute(
                    update(channel_contacts)
                    .where(
                        channel_contacts.c.channel == channel,
                        channel_contacts.c.sender_id == sender_id,
                    )
                    .values(**values)
                )
        contact = self.contact(channel, sender_id)
        assert contact is not None
        return contact
