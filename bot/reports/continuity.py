"""Cross-channel continuity: whether customers move between channels, and whether a resolution
holds. Both count customers as one across their linked identities (`customer_of`).

* cross_channel_customers: of the customers who wrote in the period (a CustomerMessaged whose
  time is in it; on the chosen channel, if one is chosen), those who wrote on two or more
  channels in the period. cross_channel_rate = cross-channel ÷ those customers.
* repeat_contact_rate: of the conversations resolved in the period (a StatusChanged to
  resolved whose time is in it; of the chosen channel, if one is chosen), those whose customer
  wrote again within `window` (7 days) after the resolution, on any channel: in the same
  conversation or another of theirs. A "resolved" that comes back is not a resolution.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from bot.conversation.events import ConversationStarted, CustomerMessaged, Event, StatusChanged
from bot.conversation.status import ConversationStatus

REPEAT_WINDOW = timedelta(days=7)

DEFINITIONS: dict[str, dict[str, str]] = {
    "cross_channel_rate": {
        "en": "Of the customers who wrote in the period, those who wrote on two or more "
        "channels (web, LINE, Messenger), linked identities counting as one customer.",
        "zh": "本期間有傳訊息的顧客中，在兩個以上管道（網站、LINE、Messenger）"
        "傳過訊息的比例；已連結的身分算同一位顧客。",
    },
    "repeat_contact_rate": {
        "en": "Of the conversations resolved in the period, those whose customer wrote again "
        "within 7 days, on any channel: a resolution that comes back is not a resolution.",
        "zh": "本期間結案的對話中，顧客在 7 天內又從任何管道來訊的比例："
        "回頭再問的結案不算真正解決。",
    },
}


def continuity(
    log: Iterable[tuple[int, Event]],
    customer_of: Callable[[str, str | None], str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    channel: str | None = None,
    window: timedelta = REPEAT_WINDOW,
) -> dict[str, Any]:
    """`log`: every channel's events from the period's start on. `customer_of(conversation_id,
    customer_id)`: the customer's key, the same for all their linked identities."""

    def within(at: datetime) -> bool:
        return (start is None or at >= start) and (end is None or at < end)

    channels: dict[str, str] = {}
    customers: dict[str, str] = {}
    wrote: list[tuple[str, datetime]] = []  # (conversation, at) of every customer message
    resolved: list[tuple[str, datetime]] = []
    for _, event in log:
        cid = event.conversation_id
        if isinstance(event, ConversationStarted):
            channels[cid] = event.channel
            customers[cid] = customer_of(cid, event.customer_id)
        elif isinstance(event, CustomerMessaged):
            wrote.append((cid, event.at))
        elif (
            isinstance(event, StatusChanged)
            and event.to_status == ConversationStatus.RESOLVED
            and within(event.at)
        ):
            resolved.append((cid, event.at))

    on: defaultdict[str, set[str]] = defaultdict(set)
    for cid, at in wrote:
        if cid in customers and within(at):
            on[customers[cid]].add(channels[cid])
    writers = [c for c, used in on.items() if channel is None or channel in used]
    cross = [c for c in writers if len(on[c]) >= 2]

    later: defaultdict[str, list[datetime]] = defaultdict(list)
    for cid, at in wrote:
        if cid in customers:
            later[customers[cid]].append(at)
    counted = [
        (cid, at)
        for cid, at in resolved
        if cid in customers and (channel is None or channels.get(cid) == channel)
    ]
    came_back = [
        cid
        for cid, at in counted
        if any(at < again <= at + window for again in later[customers[cid]])
    ]
    return {
        "continuity": {
            "customers_who_wrote": len(writers),
            "cross_channel_customers": len(cross),
            "resolved_conversations": len(counted),
            "repeat_contact_conversations": len(came_back),
            "repeat_window_days": window.days,
        },
        "cross_channel_rate": _rate(len(cross), len(writers)),
        "repeat_contact_rate": _rate(len(came_back), len(counted)),
    }


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)
