"""GET /api/metrics: the numbers of a period, computed from the event log only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from bot.access.accounts import Accounts, Role
from bot.api.auth import requires
from bot.api.errors import ERROR_RESPONSES
from bot.conversation.store import ConversationStore
from bot.customers.directory import CustomerDirectory
from bot.orders.store import OrderStore
from bot.reports.dashboard import Filter, dashboard_numbers
from bot.reports.tags import TagSettings
from handoff.hours import BusinessHours, HoursSettings


def moment(value: str | None, *, end: bool, zone: tzinfo = UTC) -> datetime | None:
    """An ISO date ("2026-11-01": the whole day in `zone`) or date-time; naive times are in
    `zone` (UTC unless given)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            at = datetime.combine(day + timedelta(days=1) if end else day, time(), zone)
            return at.astimezone(UTC)
        at = datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:  # OverflowError: the day after 9999-12-31
        raise ValueError(f"{value!r} is not an ISO date or date-time (2026-11-01)") from exc
    return at if at.tzinfo else at.replace(tzinfo=zone)


def router(
    store: ConversationStore,
    assumed_window: timedelta,
    accounts: Accounts,
    tag_settings: TagSettings,
    orders: OrderStore,
    attribution_window: timedelta,
    opening_hours: Callable[[], HoursSettings] | None = None,
    directory: CustomerDirectory | None = None,
) -> APIRouter:
    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(prefix="/api/metrics", tags=["metrics"], dependencies=[admin])

    @api.get("", responses=ERROR_RESPONSES)
    async def metrics(
        start: Annotated[
            str | None, Query(alias="from", description="First day or moment, ISO 8601")
        ] = None,
        end: Annotated[
            str | None, Query(alias="to", description="Last day (inclusive) or moment, ISO")
        ] = None,
        tag: Annotated[
            str | None, Query(max_length=200, description="Only conversations with this tag")
        ] = None,
        channel: Annotated[
            str | None,
            Query(max_length=40, description="Only conversations on this channel (web, line…)"),
        ] = None,
    ) -> dict[str, Any]:
        """Deflection, resolution (confirmed and assumed), refusal and handoff rates, first
        response and handling times, containment per topic, conversion to orders (with the
        baseline of customers who did not converse), the revenue attributed to conversations,
        and profile_completeness (over every customer, of the channel if one is given).
        Each filtered by channel. Definitions: README, "Metrics"."""
        zone = ZoneInfo(opening_hours().time_zone) if opening_hours else UTC
        since, until = moment(start, end=False, zone=zone), moment(end, end=True, zone=zone)
        if since and until and until <= since:
            raise ValueError("'to' must be after 'from'")

        def compute() -> dict[str, Any]:
            return dashboard_numbers(
                store,
                orders,
                Filter(since, until, tag, channel or None),
                tags=tag_settings,
                assumed_window=assumed_window,
                attribution_window=attribution_window,
                hours=BusinessHours(opening_hours()) if opening_hours else None,
                directory=directory,
            )

        result = await run_in_threadpool(compute)
        return {"from": since, "to": until, "tag": tag, "channel": channel, **result}

    return api
