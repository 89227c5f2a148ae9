"""Session refreshes while others write, on a real SQLite file (issue 12): a refresh reads the
session, then moves its expiry; in a deferred transaction that upgrade met "database is
locked" at once whenever another connection had written since the read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.access.accounts import Accounts, Role, sessions
from bot.conversation.events import CustomerMessaged, now
from bot.conversation.sql import SqlConversationStore

PASSWORD = "correct horse battery"
SESSIONS = 60


@pytest.fixture
def store(sqlite_url: str) -> Iterator[SqlConversationStore]:
    opened = SqlConversationStore(sqlite_url)
    yield opened
    opened.close()


def test_refreshes_under_concurrent_writes_never_fail(store: SqlConversationStore) -> None:
    accounts = Accounts(store.engine, idle=timedelta(hours=2), lifetime=timedelta(hours=12))
    accounts.add("mei", PASSWORD, Role.AGENT)
    tokens = []
    for _ in range(SESSIONS):
        session = accounts.log_in("mei", PASSWORD)
        assert session is not None
        tokens.append(session.token)
    # every session near its idle end, so that each check moves the expiry (a write)
    with store.engine.begin() as conn:
        conn.execute(update(sessions).values(expires_at=now() + timedelta(minutes=5)))
    conversation = store.create("web")

    stop = threading.Event()
    failures: list[BaseException] = []
    refreshed: list[object] = []
    written: list[int] = []

    def write() -> None:
        while not stop.is_set():
            store.append(
                CustomerMessaged(conversation_id=conversation.id, text="在嗎？", language="zh")
            )
            written.append(1)

    def refresh(mine: list[str]) -> None:
        for token in mine:
            try:
                refreshed.append(accounts.session(token))
            except BaseException as exc:  # counted: the test says how many failed
                failures.append(exc)

    writers = [threading.Thread(target=write) for _ in range(3)]
    readers = [threading.Thread(target=refresh, args=(tokens[i::6],)) for i in range(6)]
    for thread in writers + readers:
        thread.start()
    for thread in readers:
        thread.join(120)
    stop.set()
    for thread in writers:
        thread.join(30)

    assert written, "the writers never wrote: nothing was concurrent"
    assert not failures, f"{len(failures)} of {SESSIONS} refreshes failed: {failures[0]!r}"
    assert len(refreshed) == SESSIONS
    for token in tokens:  # each moved on to the full idle time
        assert accounts.session(token).expires_at > now() + timedelta(minutes=100)
