"""Business hours: time zones, holidays, the minute of opening and closing, overnight spans and
closed days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from handoff.hours import BusinessHours, HoursSettings

TAIPEI = ZoneInfo("Asia/Taipei")


def taipei(*args: int) -> datetime:
    return datetime(*args, tzinfo=TAIPEI)  # type: ignore[misc]


# 2026-12-03 is a Thursday
DEFAULT = BusinessHours(HoursSettings())


def test_defaults_are_weekdays_nine_to_six_in_taipei() -> None:
    assert DEFAULT.open_now(taipei(2026, 12, 3, 10, 0))
    assert not DEFAULT.open_now(taipei(2026, 12, 5, 10, 0))  # Saturday
    assert not DEFAULT.open_now(taipei(2026, 12, 3, 23, 30))


def test_the_minute_of_opening_counts_and_the_minute_of_closing_does_not() -> None:
    assert not DEFAULT.open_now(taipei(2026, 12, 3, 8, 59, 59))
    assert DEFAULT.open_now(taipei(2026, 12, 3, 9, 0))
    assert DEFAULT.open_now(taipei(2026, 12, 3, 17, 59, 59))
    assert not DEFAULT.open_now(taipei(2026, 12, 3, 18, 0))


def test_the_time_zone_is_the_shops_not_the_callers() -> None:
    # 01:30 UTC is 09:30 in Taipei
    assert DEFAULT.open_now(datetime(2026, 12, 3, 1, 30, tzinfo=UTC))
    assert not DEFAULT.open_now(datetime(2026, 12, 3, 0, 59, tzinfo=UTC))
    berlin = BusinessHours(HoursSettings(time_zone="Europe/Berlin"))
    assert not berlin.open_now(datetime(2026, 12, 3, 1, 30, tzinfo=UTC))
    assert berlin.open_now(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))  # 09:00 in Berlin


def test_next_open_after_closing_is_tomorrow_morning_and_after_friday_monday() -> None:
    assert DEFAULT.next_open(taipei(2026, 12, 3, 23, 30)) == taipei(2026, 12, 4, 9, 0)
    assert DEFAULT.next_open(taipei(2026, 12, 3, 7, 0)) == taipei(2026, 12, 3, 9, 0)
    assert DEFAULT.next_open(taipei(2026, 12, 4, 18, 0)) == taipei(2026, 12, 7, 9, 0)
    assert DEFAULT.next_open(taipei(2026, 12, 3, 10, 0)) is None  # open now


def test_holidays_close_the_day_and_next_open_skips_them() -> None:
    hours = BusinessHours(HoursSettings(holidays=[date(2026, 12, 4), date(2026, 12, 7)]))
    assert not hours.open_now(taipei(2026, 12, 4, 10, 0))
    assert hours.next_open(taipei(2026, 12, 3, 20, 0)) == taipei(2026, 12, 8, 9, 0)


def test_an_overnight_span_runs_past_midnight_and_belongs_to_the_day_it_starts() -> None:
    hours = BusinessHours(HoursSettings(days={"fri": ["20:00-02:00"]}))
    assert hours.open_now(taipei(2026, 12, 4, 23, 0))
    assert hours.open_now(taipei(2026, 12, 5, 1, 59))  # Saturday, still Friday's span
    assert not hours.open_now(taipei(2026, 12, 5, 2, 0))
    assert not hours.open_now(taipei(2026, 12, 4, 1, 0))  # Thursday had no span
    assert hours.next_open(taipei(2026, 12, 5, 3, 0)) == taipei(2026, 12, 11, 20, 0)
    holiday = BusinessHours(
        HoursSettings(days={"fri": ["20:00-02:00"]}, holidays=[date(2026, 12, 4)])
    )
    assert not holiday.open_now(taipei(2026, 12, 5, 1, 0))


def test_a_span_to_midnight_and_a_closed_week() -> None:
    hours = BusinessHours(HoursSettings(days={"thu": ["12:00-24:00"]}))
    assert hours.open_now(taipei(2026, 12, 3, 23, 59, 59))
    assert not hours.open_now(taipei(2026, 12, 4, 0, 0))
    closed = BusinessHours(HoursSettings(days={}))
    assert not closed.open_now(taipei(2026, 12, 3, 10, 0))
    assert closed.next_open(taipei(2026, 12, 3, 10, 0)) is None


def test_two_spans_a_day_leave_the_lunch_break_closed() -> None:
    hours = BusinessHours(HoursSettings(days={"thu": ["13:00-18:00", "09:00-12:00"]}))
    assert not hours.open_now(taipei(2026, 12, 3, 12, 30))
    assert hours.next_open(taipei(2026, 12, 3, 12, 30)) == taipei(2026, 12, 3, 13, 0)


def test_open_seconds_count_only_opening_hours() -> None:
    # handed off Thursday 17:30, answered Friday 09:30: an hour of opening hours
    since, until = taipei(2026, 12, 3, 17, 30), taipei(2026, 12, 4, 9, 30)
    assert DEFAULT.open_seconds(since, until) == 3600
    assert DEFAULT.open_seconds(until, since) == 0
    assert DEFAULT.open_seconds(taipei(2026, 12, 5, 10), taipei(2026, 12, 5, 12)) == 0
    week = DEFAULT.open_seconds(taipei(2026, 12, 7), taipei(2026, 12, 7) + timedelta(days=7))
    assert week == 5 * 9 * 3600


@pytest.mark.parametrize(
    "bad",
    [
        {"time_zone": "Asia/Nowhere"},
        {"days": {"someday": ["09:00-18:00"]}},
        {"days": {"mon": ["9-18"]}},
        {"days": {"mon": ["09:00-09:00"]}},
        {"days": {"mon": ["25:00-26:00"]}},
        {"holidays": ["not a date"]},
    ],
)
def test_bad_hours_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HoursSettings.model_validate(bad)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        DEFAULT.open_now(datetime(2026, 12, 3, 10, 0))
