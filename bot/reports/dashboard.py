"""The dashboard's numbers of a period, in one place: GET /api/metrics answers them and the
metrics exports (CSV, XLSX) write them, so that both say the same.

Service metrics (bot/reports/metrics.py), conversion after a conversation with its baseline
(bot/orders/attribution.py), cross-channel continuity (bot/reports/continuity.py) and profile
completeness (bot/customers/directory.py), each filterable by channel (web, line, messenger):
a channel keeps the conversations on it, and for completeness and continuity the customers who
wrote on it (a repeat contact counts on any channel). The tag filters the service metrics and
conversion; completeness is over every customer, whatever the period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.conversation.events import Event
from bot.conversation.store import ConversationStore
from bot.customers.directory import DEFINITIONS as PROFILE_DEFINITIONS
from bot.customers.directory import CustomerDirectory
from bot.orders.attribution import DEFINITIONS as CONVERSION_DEFINITIONS
from bot.orders.attribution import Attribution, attribute, baseline
from bot.orders.store import OrderStore
from bot.reports.continuity import DEFINITIONS as CONTINUITY_DEFINITIONS
from bot.reports.continuity import continuity
from bot.reports.metrics import Metrics, compute_metrics
from bot.reports.tags import TagSettings, with_tag
from handoff.hours import BusinessHours


@dataclass(frozen=True)
class Filter:
    start: datetime | None = None
    end: datetime | None = None
    tag: str | None = None
    channel: str | None = None


def period_log(
    store: ConversationStore, chosen: Filter, tags: TagSettings
) -> list[tuple[int, Event]]:
    """The log from the period's start on, of the conversations with the tag and channel."""
    log = with_tag(store.log(chosen.start, None), chosen.tag, tags)
    if chosen.channel:
        ids = {c.id for c in store.conversations() if c.channel == chosen.channel}
        log = [(seq, e) for seq, e in log if e.conversation_id in ids]
    return log


def service_metrics(
    log: Iterable[tuple[int, Event]],
    chosen: Filter,
    assumed_window: timedelta,
    hours: BusinessHours | None = None,
) -> Metrics:
    return compute_metrics(
        log,
        start=chosen.start,
        end=chosen.end,
        assumed_window=assumed_window,
        now=datetime.now(UTC),
        hours=hours,
    )


def conversion(
    log: list[tuple[int, Event]], orders: OrderStore, chosen: Filter, window: timedelta
) -> Attribution:
    placed = orders.placed_between(
        chosen.start, chosen.end + window if chosen.end is not None else None
    )
    return attribute(
        log,
        placed,
        window=window,
        start=chosen.start,
        end=chosen.end,
        channel=chosen.channel,
        verified_order=orders.find,
    )


def dashboard_numbers(
    store: ConversationStore,
    orders: OrderStore,
    chosen: Filter,
    *,
    tags: TagSettings,
    assumed_window: timedelta,
    attribution_window: timedelta,
    hours: BusinessHours | None = None,
    directory: CustomerDirectory | None = None,
) -> dict[str, Any]:
    """Every number of the period with its definitions (zh and en)."""
    log = period_log(store, chosen, tags)
    found = service_metrics(log, chosen, assumed_window, hours).as_dict()
    converted = conversion(log, orders, chosen, attribution_window).as_dict()
    converted["conversion"]["baseline"] = baseline(
        log,
        orders.placed_between(
            None, chosen.end + attribution_window if chosen.end is not None else None
        ),
        start=chosen.start,
        end=chosen.end,
        window=attribution_window,
        verified_order=orders.find,
    )
    profile = directory.coverage_dict(chosen.channel) if directory is not None else {}
    moved = continuity(
        store.log(chosen.start, None),  # a customer may come back on any channel
        directory.key_of if directory is not None else lambda cid, customer: customer or cid,
        start=chosen.start,
        end=chosen.end,
        channel=chosen.channel,
    )
    definitions = {
        **found.pop("definitions"),
        **CONVERSION_DEFINITIONS,
        **CONTINUITY_DEFINITIONS,
        **(PROFILE_DEFINITIONS if directory is not None else {}),
    }
    return {**found, **converted, **moved, **profile, "definitions": definitions}
