"""Business hours: when people are there to take a handoff. Pure policy: no clock, no storage.

Opening hours are spans per weekday in the shop's time zone ("09:00-18:00"; "22:00-02:00"
runs past midnight and belongs to the day it starts; "24:00" is the end of a day), minus
holidays (dates on which nothing opens, including the spans that would start on them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
# how far ahead next_open looks before saying "never"
HORIZON_DAYS = 400


def _default_days() -> dict[str, list[str]]:
    return {day: ["09:00-18:00"] for day in WEEKDAYS[:5]} | {"sat": [], "sun": []}


class HoursSettings(BaseModel):
    """Opening hours per weekday, holidays and the time zone they are in."""

    time_zone: str = Field(
        default="Asia/Taipei", description="The IANA time zone the opening hours are in."
    )
    days: dict[str, list[str]] = Field(
        default_factory=_default_days,
        description='Opening spans per weekday (mon…sun), e.g. {"mon": ["09:00-12:00", '
        '"13:00-18:00"]}; "22:00-02:00" runs past midnight; a day left out or empty is closed.',
    )
    holidays: list[date] = Field(
        default_factory=list, description="Dates (YYYY-MM-DD) on which nothing opens."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("days")
    @classmethod
    def _spans(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            for span in spans:
                match = SPAN.match(span)
                if match is None:
                    raise ValueError(f"{day}: {span!r} is not HH:MM-HH:MM")
                if match.group(1, 2) == match.group(3, 4):
                    raise ValueError(f"{day}: {span!r} opens and closes at the same minute")
        return {day: sorted(spans) for day, spans in value.items()}


@dataclass(frozen=True)
class Availability:
    """Whether someone could answer a handoff now, and when the shop next opens."""

    open_now: bool
    agents_available: bool
    next_open: datetime | None
    at: datetime | None = None  # when this was found


@dataclass(frozen=True)
class _Span:
    opens: time
    minutes: int  # how long it stays open

    @classmethod
    def parse(cls, text: str) -> _Span:
        match = SPAN.match(text)
        assert match is not None  # validated by HoursSettings
        oh, om, ch, cm = (int(g) for g in match.groups())
        length = (ch * 60 + cm) - (oh * 60 + om)
        return cls(time(oh, om), length if length > 0 else length + 24 * 60)


class BusinessHours:
    def __init__(self, settings: HoursSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.time_zone)
        self.holidays = frozenset(settings.holidays)
        self._days = {
            WEEKDAYS.index(day): [_Span.parse(s) for s in spans]
            for day, spans in settings.days.items()
        }

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The opening spans that start on `day` (local), as aware datetimes."""
        if day in self.holidays:
            return []
        found = []
        for span in self._days.get(day.weekday(), []):
            start = datetime.combine(day, span.opens, self.zone)
            # wall-clock end: a span is so many minutes of the local day, whatever the offset
            end = (start.replace(tzinfo=None) + timedelta(minutes=span.minutes)).replace(
                tzinfo=self.zone
            )
            found.append((start, end))
        return found

    def open_now(self, at: datetime) -> bool:
        """Open at `at`: some span has opened (its first minute counts) and not yet closed
        (its closing minute does not)."""
        _require_aware(at)
        today = self.local(at).date()
        for day in (today - timedelta(days=1), today):
            for start, end in self.spans(day):
                if start <= at < end:
                    return True
        return False

    def next_open(self, at: datetime) -> datetime | None:
        """When it next opens, in the shop's time zone, if closed at `at`; None when open at
        `at`, or when no span opens within the horizon (every day closed)."""
        if self.open_now(at):
            return None
        today = self.local(at).date()
        for offset in range(HORIZON_DAYS):
            for start, _ in self.spans(today + timedelta(days=offset)):
                if start > at:
                    return start
        return None

    def open_seconds(self, since: datetime, until: datetime) -> float:
        """Seconds of opening hours between `since` and `until` (a response time that does not
        count the night)."""
        _require_aware(since, until)
        if until <= since:
            return 0.0
        total = 0.0
        day = self.local(since).date() - timedelta(days=1)
        last = self.local(until).date()
        while day <= last:
            for start, end in self.spans(day):
                overlap = (min(end, until) - max(start, since)).total_seconds()
                total += max(0.0, overlap)
            day += timedelta(days=1)
        return total


def _require_aware(*times: datetime) -> None:
    for at in times:
        if at.tzinfo is None:
            raise ValueError(f"a naive datetime ({at}) is ambiguous; pass an aware one")
