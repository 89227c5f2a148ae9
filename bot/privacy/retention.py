"""Retention: conversations older than the retention period are anonymised in place.

A conversation whose last event is older than `retention_days` keeps its events (their kinds,
times, statuses, decisions, topics, triggers, scores, survey marks), so every count and time
of the metrics is computed from it as before, but loses what identifies or quotes anyone:

* what people typed and the bot read back: `text`, `comment`, `question`, `reply`, `answer`
  become "", the options offered become [], strings inside a turn's details and a handoff's
  trigger value become "";
* who the customer was: the conversation's `customer_id` (on its row and on its start event)
  becomes null, so no two conversations can be joined to one person any more;
* the pictures sent in it: they are deleted in the same transaction, and their events lose
  the content's digest (kind, type, size and time stay).

Staff names on status changes, replies and notes stay (they are the shop's own, and the audit
log records their actions anyway). The row gets `anonymised_at`: from then on the store answers
for it as for an unknown conversation (404), lists it nowhere and takes no more events; only
its log, the input of the metrics, remains. Runs as `kefu privacy purge` and once every
`purge_interval_hours` inside `kefu serve`. Erasing one customer (bot/privacy/customers.py)
anonymises the same way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from bot.attachments import store as pictures
from bot.conversation.events import now
from bot.conversation.sql import SqlConversationStore, conversations, events, writer

log = logging.getLogger(__name__)

TEXT_FIELDS = ("text", "comment", "question", "reply", "answer")
BATCH = 200  # conversations anonymised per transaction


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime  # conversations last active before this were anonymised
    conversations: int
    events: int
    files: int = 0  # pictures deleted


def anonymised_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored event payload without texts and identities; counts, times and labels stay."""
    kept = dict(payload)
    for name in TEXT_FIELDS:
        if isinstance(kept.get(name), str):
            kept[name] = ""
    if "options" in kept:
        kept["options"] = []
    if "customer_id" in kept:
        kept["customer_id"] = None
    if isinstance(kept.get("sha256"), str):
        kept["sha256"] = ""  # a picture's digest could match it to a copy elsewhere
    if isinstance(kept.get("trigger_value"), str):
        kept["trigger_value"] = ""
    if "details" in kept:
        kept["details"] = _without_strings(kept["details"])
    return kept


def _without_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_strings(v) for v in value]
    if isinstance(value, str):
        return ""
    return value


def anonymise(conn: Connection, ids: list[str], at: datetime) -> int:
    """Anonymise these conversations in the caller's (write) transaction; how many events."""
    rows = conn.execute(
        select(events.c.conversation_id, events.c.seq, events.c.payload).where(
            events.c.conversation_id.in_(ids)
        )
    ).all()
    for row in rows:
        conn.execute(
            update(events)
            .where(events.c.conversation_id == row.conversation_id, events.c.seq == row.seq)
            .values(payload=anonymised_payload(row.payload))
        )
    conn.execute(
        update(conversations)
        .where(conversations.c.id.in_(ids))
        .values(customer_id=None, anonymised_at=at)
    )
    return len(rows)


class Retention:
    """Anonymises the conversations of a SQL store that have been quiet for `days` days."""

    def __init__(self, store: SqlConversationStore, days: int) -> None:
        if days < 1:
            raise ValueError("the retention period is at least one day")
        self.store = store
        self.days = days

    def purge(self, at: datetime | None = None) -> PurgeReport:
        """Anonymise every conversation last active before `at` minus the retention period
        (`at`: now; a later time shows what a later run will do)."""
        at = at or now()
        cutoff = at - timedelta(days=self.days)
        engine = writer(self.store.engine)
        done_conversations = done_events = done_files = 0
        while True:
            with engine.begin() as conn:
                ids = list(
                    conn.execute(
                        select(conversations.c.id)
                        .where(
                            conversations.c.updated_at < cutoff,
                            conversations.c.anonymised_at.is_(None),
                        )
                        .order_by(conversations.c.updated_at)
                        .limit(BATCH)
                    ).scalars()
                )
                if not ids:
                    break
                done_events += anonymise(conn, ids, at)
                done_files += pictures.forget(conn, ids)
            done_conversations += len(ids)
        report = PurgeReport(cutoff, done_conversations, done_events, done_files)
        log.info(
            "privacy.purge.done conversations=%d events=%d files=%d cutoff=%s",
            report.conversations,
            report.events,
            report.files,
            report.cutoff.isoformat(),
        )
        return report


async def purge_periodically(retention: Retention, interval: timedelta) -> None:
    """Purge now and then every `interval`, until cancelled; a failed run is logged and the
    next one tried at its time."""
    while True:
        try:
            await anyio.to_thread.run_sync(retention.purge)
        except Exception:
            log.exception("privacy.purge.failed")
        await asyncio.sleep(interval.total_seconds())
