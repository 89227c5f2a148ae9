"""When people are back, as the customer reads it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.answering.texts import opening_time

TAIPEI = ZoneInfo("Asia/Taipei")


def taipei(*args: int) -> datetime:
    return datetime(*args, tzinfo=TAIPEI)  # type: ignore[misc]


def test_the_next_opening_reads_in_the_customers_language() -> None:
    now = taipei(2026, 12, 3, 23, 30)  # Thursday
    assert opening_time(taipei(2026, 12, 4, 9), now, "zh") == "於明天（週五）09:00 "
    assert opening_time(taipei(2026, 12, 4, 9), now, "en") == "tomorrow (Friday) at 09:00"
    assert opening_time(taipei(2026, 12, 3, 23, 45), now, "en") == "today at 23:45"
    later = taipei(2026, 12, 7, 9)
    assert opening_time(later, now, "zh") == "於12月7日（週一）09:00 "
    assert opening_time(later, now, "en") == "on Monday, 7 December at 09:00"
