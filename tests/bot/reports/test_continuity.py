"""Cross-channel continuity on a hand-built log whose answer is worked out here: customers who
wrote on two or more channels, and resolutions the customer came back to within 7 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.conversation.events import ConversationStarted, CustomerMessaged, Event, StatusChanged
from bot.conversation.status import ConversationStatus
from bot.reports.continuity import continuity


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def talk(
    cid: str, channel: str, customer: str, day: int, *, resolved: int | None = None
) -> list[Event]:
    events: list[Event] = [
        ConversationStarted(conversation_id=cid, at=at(day), channel=channel, customer_id=customer),
        CustomerMessaged(conversation_id=cid, at=at(day), text="運費多少", language="zh"),
    ]
    if resolved is not None:
        events.append(
            StatusChanged(
                conversation_id=cid,
                at=at(resolved),
                from_status=ConversationStatus.WITH_AGENT,
                to_status=ConversationStatus.RESOLVED,
                reason="agent",
            )
        )
    return events


# amy's LINE id and her web conversation are linked: one customer
LINKED = {"line:Uamy": "cus_amy", "w1": "cus_amy"}


def key(cid: str, customer: str | None) -> str:
    return LINKED.get(customer or "", LINKED.get(cid, customer or cid))


def log() -> list[tuple[int, Event]]:
    events = [
        *talk("w1", "web", "", 1, resolved=1),  # amy, resolved on the 1st …
        *talk("l1", "line", "line:Uamy", 3),  # … and back on LINE on the 3rd: a repeat
        *talk("l2", "line", "line:Ubob", 2, resolved=2),  # bob, resolved, back on the 12th: late
        *talk("l3", "line", "line:Ubob", 12),
        *talk("m1", "messenger", "messenger:Pcat", 4, resolved=4),  # cat: never back
    ]
    return [(i, e) for i, e in enumerate(events, start=1)]


def test_a_hand_built_log_gives_the_known_answer() -> None:
    found = continuity(log(), key, start=at(1, 0), end=at(8, 0))
    assert found["continuity"] == {
        "customers_who_wrote": 3,  # amy, bob, cat (bob's return is after the period)
        "cross_channel_customers": 1,  # amy: web and LINE
        "resolved_conversations": 3,
        "repeat_contact_conversations": 1,  # w1: amy came back within 7 days
        "repeat_window_days": 7,
    }
    assert found["cross_channel_rate"] == round(1 / 3, 4)
    assert found["repeat_contact_rate"] == round(1 / 3, 4)


def test_by_channel_and_a_longer_window() -> None:
    line = continuity(log(), key, start=at(1, 0), end=at(8, 0), channel="line")
    assert line["continuity"]["customers_who_wrote"] == 2  # amy and bob wrote on LINE
    assert line["cross_channel_rate"] == 0.5
    assert line["continuity"]["resolved_conversations"] == 1  # l2
    assert line["repeat_contact_rate"] == 0.0
    longer = continuity(log(), key, start=at(1, 0), end=at(8, 0), window=timedelta(days=14))
    assert longer["repeat_contact_rate"] == round(2 / 3, 4)  # bob's return now counts


def test_nothing_to_divide_by_is_null() -> None:
    found = continuity([], key)
    assert found["cross_channel_rate"] is None and found["repeat_contact_rate"] is None
