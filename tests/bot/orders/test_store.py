"""The order table as migration 0005 creates it matches the table the code writes, on SQLite
and PostgreSQL, and concurrent saves of one order keep the newest."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from bot.conversation.sql import SqlConversationStore
from bot.orders.model import Order
from bot.orders.store import OrderStore, Saved, orders


def test_the_migration_creates_the_table_the_code_writes(sql_url: str) -> None:
    store = SqlConversationStore(sql_url)
    try:
        only_orders = MetaData()
        orders.to_metadata(only_orders)
        with store.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    # the database's other tables are not compared
                    "include_name": lambda name, kind, _: kind != "table" or name == "orders",
                },
            )
            diff = compare_metadata(context, only_orders)
        assert diff == []
    finally:
        store.close()


def test_concurrent_updates_of_one_order_keep_the_newest(sql_url: str) -> None:
    store = SqlConversationStore(sql_url)
    try:
        book = OrderStore(store.engine)
        base = datetime(2026, 12, 1, tzinfo=UTC)
        updates = [
            Order("3001", "shopify", base, base + timedelta(minutes=i), tracking_number=f"T{i}")
            for i in range(12)
        ]
        results: list[Saved] = []
        threads = [
            threading.Thread(target=lambda o=o: results.append(book.save(o))) for o in updates
        ]
        for thread in reversed(threads):
            thread.start()
        for thread in threads:
            thread.join()
        [kept] = book.find("3001")
        assert kept.tracking_number == "T11"
        assert results.count(Saved.CREATED) == 1
    finally:
        store.close()
