"""The opening hours an admin saves, on SQLite and PostgreSQL (migration 0004)."""

from __future__ import annotations

from datetime import date

from bot.desk.schedule import StoredHours
from handoff.hours import HoursSettings
from tests.bot.conversation.conftest import OpenStore


def test_saved_hours_replace_the_defaults_and_survive_a_reopen(
    sql_url: str, open_sql_store: OpenStore
) -> None:
    defaults = HoursSettings()
    hours = StoredHours(open_sql_store(sql_url).engine, defaults)
    assert hours.get() == defaults
    night = HoursSettings(
        time_zone="Asia/Taipei", days={"fri": ["22:00-02:00"]}, holidays=[date(2026, 12, 25)]
    )
    hours.put(night, "boss")
    hours.put(night.model_copy(update={"holidays": [date(2027, 1, 1)]}), "boss")  # replaces
    again = StoredHours(open_sql_store(sql_url).engine, defaults).get()
    assert again.days == {"fri": ["22:00-02:00"]}
    assert again.holidays == [date(2027, 1, 1)]
