"""The API fixtures (the real app over the demo knowledge, a SQLite store per test)."""

from tests.bot.api.conftest import admin, client, demo_data_dir, services  # noqa: F401
