"""Agents' presence and customers' sightings, on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.desk.presence import CustomerSightings, LocalPresence, PresenceStatus


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def test_online_while_a_console_is_open_and_active_away_when_idle_or_said() -> None:
    clock = Clock()
    presence = LocalPresence(timedelta(minutes=10), clock)
    assert presence.status("mei") == PresenceStatus.OFFLINE
    first = presence.console_opened("mei")
    second = presence.console_opened("mei")
    assert presence.status("mei") == PresenceStatus.ONLINE and presence.anyone_online()
    clock.at += timedelta(minutes=10)
    assert presence.status("mei") == PresenceStatus.AWAY
    presence.active("mei")
    assert presence.status("mei") == PresenceStatus.ONLINE
    presence.set_away("mei", True)
    assert presence.status("mei") == PresenceStatus.AWAY and not presence.anyone_online()
    presence.set_away("mei", False)
    presence.console_closed("mei", first)
    assert presence.status("mei") == PresenceStatus.ONLINE  # one console still open
    presence.console_closed("mei", second)
    assert presence.status("mei") == PresenceStatus.OFFLINE
    presence.console_opened("mei")
    presence.logged_out("mei")
    assert presence.everyone() == {}


def test_a_customer_is_there_while_streaming_and_gone_since_the_last_sight() -> None:
    clock = Clock()
    sightings = CustomerSightings(clock)
    assert sightings.gone_since("c1") == clock.at  # not seen since the start
    sightings.stream_opened("c1")
    sightings.stream_opened("c1")
    clock.at += timedelta(minutes=30)
    sightings.stream_closed("c1")
    assert sightings.gone_since("c1") is None  # the other tab still streams
    sightings.stream_closed("c1")
    assert sightings.gone_since("c1") == clock.at
    clock.at += timedelta(minutes=5)
    sightings.seen("c1")
    assert sightings.gone_since("c1") == clock.at
