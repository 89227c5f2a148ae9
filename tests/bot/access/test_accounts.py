"""Accounts and sessions on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.access.accounts import AccountError, Accounts, Role, SessionInvalid, sessions, users
from bot.conversation.sql import SqlConversationStore

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(sql_url: str) -> Iterator[Accounts]:
    store = SqlConversationStore(sql_url)
    yield Accounts(store.engine, idle=timedelta(minutes=30), lifetime=timedelta(hours=8))
    store.close()


def test_passwords_are_stored_as_argon2_hashes(accounts: Accounts) -> None:
    accounts.add("mei", PASSWORD, Role.AGENT, "美玲")
    with accounts._engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.log_in("mei", PASSWORD) is not None
    assert accounts.log_in("MEI ", PASSWORD) is not None  # usernames are case-insensitive
    assert accounts.log_in("mei", PASSWORD + "x") is None
    assert accounts.log_in("nobody", PASSWORD) is None


def test_bad_accounts_are_refused(accounts: Accounts) -> None:
    accounts.add("mei", PASSWORD, Role.AGENT)
    with pytest.raises(AccountError) as short:
        accounts.add("tom", "short", Role.AGENT)
    assert short.value.code == "weak_password"
    with pytest.raises(AccountError) as taken:
        accounts.add("mei", PASSWORD, Role.ADMIN)
    assert taken.value.code == "user_exists"
    with pytest.raises(AccountError) as odd:
        accounts.add("<script>", PASSWORD, Role.AGENT)
    assert odd.value.code == "invalid_username"


def test_sessions_expire_and_only_their_hash_is_kept(accounts: Accounts) -> None:
    accounts.add("mei", PASSWORD, Role.AGENT, "美玲")
    session = accounts.log_in("mei", PASSWORD)
    assert session is not None
    assert accounts.session(session.token).user.display_name == "美玲"
    with accounts._engine.connect() as conn:
        kept = conn.execute(select(sessions.c.token_hash)).scalars().all()
    assert session.token not in kept and len(kept) == 1

    accounts.expire(session.token)
    with pytest.raises(SessionInvalid) as expired:
        accounts.session(session.token)
    assert expired.value.code == "session_expired"
    with pytest.raises(SessionInvalid) as still:
        accounts.session(session.token)
    assert still.value.code == "session_expired"
    accounts.log_in("mei", PASSWORD)  # purges expired sessions
    with pytest.raises(SessionInvalid) as gone:
        accounts.session(session.token)
    assert gone.value.code == "not_logged_in"
    with pytest.raises(SessionInvalid):
        accounts.session("made-up-token")
    with pytest.raises(SessionInvalid):
        accounts.session(None)


def test_a_new_password_ends_open_sessions(accounts: Accounts) -> None:
    accounts.add("mei", PASSWORD, Role.AGENT)
    session = accounts.log_in("mei", PASSWORD)
    assert session is not None
    accounts.set_password("mei", "another long password")
    with pytest.raises(SessionInvalid):
        accounts.session(session.token)
    assert accounts.log_in("mei", PASSWORD) is None
    assert accounts.log_in("mei", "another long password") is not None


def test_roles(accounts: Accounts) -> None:
    agent = accounts.add("mei", PASSWORD, Role.AGENT)
    admin = accounts.add("boss", PASSWORD, Role.ADMIN)
    assert agent.may(Role.AGENT) and not agent.may(Role.ADMIN)
    assert admin.may(Role.AGENT) and admin.may(Role.ADMIN)
    accounts.remove("mei")
    assert [u.username for u in accounts.list()] == ["boss"]
