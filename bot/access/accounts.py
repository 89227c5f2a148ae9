"""Agents' and admins' accounts and their sessions, in the conversation store's database.

Passwords are hashed with argon2id. A session is a random token in an HttpOnly cookie; the
database keeps only its sha256, and every use checks that it has not expired. A session that
is used again moves its expiry forward (idle timeout), up to a hard limit from the log-in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_CHARS = 10


class AccessDenied(Exception):
    """401 (who are you?) or 403 (not you): `code` is stable, `key` names the texts."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.key = f"error_{code}"


class Role(StrEnum):
    AGENT = "agent"  # takes handoffs in the console
    ADMIN = "admin"  # everything an agent may, plus the knowledge base and the metrics


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: Role
    active: bool = True  # a deactivated user cannot log in

    def may(self, role: Role) -> bool:
        return self.role == role or self.role == Role.ADMIN


@dataclass(frozen=True)
class Session:
    token: str  # only known at log-in; the cookie's value
    user: User
    expires_at: datetime


class AccountError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SessionInvalid(Exception):
    """No such session, or it expired; `code` says which (not_logged_in, session_expired)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# In the conversation store's schema (migration 0002).
users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(120), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),  # migration 0010
)
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "username", String(64), ForeignKey("users.username", ondelete="CASCADE"), nullable=False
    ),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)


class Accounts:
    def __init__(
        self,
        engine: Engine,
        *,
        idle: timedelta = timedelta(hours=2),
        lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        self._engine = engine
        self._writer = writer(engine)  # every write transaction; see session() for why
        self._hasher = PasswordHasher()
        self.idle = idle
        self.lifetime = lifetime
        # Verifying against this when the user does not exist takes as long as a real check,
        # so the answer's timing does not tell which usernames exist.
        self._decoy = self._hasher.hash(secrets.token_hex(16))

    def add(self, username: str, password: str, role: Role, display_name: str = "") -> User:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise AccountError(
                "invalid_username",
                "a username is 2-64 characters: lowercase letters, digits, '.', '_' or '-'",
            )
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(
                "weak_password", f"a password needs at least {MIN_PASSWORD_CHARS} characters"
            )
        user = User(username, display_name.strip() or username, Role(role))
        try:
            with self._writer.begin() as conn:
                conn.execute(
                    insert(users).values(
                        username=user.username,
                        display_name=user.display_name,
                        role=user.role.value,
                        password_hash=self._hasher.hash(password),
                        created_at=now(),
                    )
                )
        except IntegrityError:
            raise AccountError("user_exists", f"user {username!r} exists already") from None
        return user

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(
                "weak_password", f"a password needs at least {MIN_PASSWORD_CHARS} characters"
            )
        with self._writer.begin() as conn:
            changed = conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(password_hash=self._hasher.hash(password))
            ).rowcount
            # a new password ends every session opened with the old one
            conn.execute(delete(sessions).where(sessions.c.username == username))
        if not changed:
            raise AccountError("no_such_user", f"no user {username!r}")

    def remove(self, username: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.username == username))
            gone = conn.execute(delete(users).where(users.c.username == username)).rowcount
        if not gone:
            raise AccountError("no_such_user", f"no user {username!r}")

    def update(
        self,
        username: str,
        *,
        display_name: str | None = None,
        role: Role | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> User:
        """Change a user's display name, role, activity or password. Deactivating a user, or
        a new password, ends their sessions. The last active admin stays an active admin."""
        if password is not None and len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(
                "weak_password", f"a password needs at least {MIN_PASSWORD_CHARS} characters"
            )
        values: dict[str, Any] = {}
        if display_name is not None:
            values["display_name"] = display_name.strip() or username
        if role is not None:
            values["role"] = Role(role).value
        if active is not None:
            values["active"] = active
        if password is not None:
            values["password_hash"] = self._hasher.hash(password)
        with self._writer.begin() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).one_or_none()
            if row is None:
                raise AccountError("no_such_user", f"no user {username!r}")
            stays_admin = values.get("role", row.role) == Role.ADMIN.value and values.get(
                "active", row.active
            )
            if row.role == Role.ADMIN.value and row.active and not stays_admin:
                others = conn.execute(
                    select(func.count())
                    .select_from(users)
                    .where(
                        users.c.role == Role.ADMIN.value,
                        users.c.active,
                        users.c.username != username,
                    )
                ).scalar_one()
                if not others:
                    raise AccountError(
                        "last_admin", "the last active admin cannot be demoted or deactivated"
                    )
            if values:
                conn.execute(update(users).where(users.c.username == username).values(**values))
            if password is not None or active is False:
                conn.execute(delete(sessions).where(sessions.c.username == username))
            row = conn.execute(select(users).where(users.c.username == username)).one()
        return _user(row)

    def list(self) -> list[User]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).all()
        return [_user(r) for r in rows]

    def get(self, username: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).one_or_none()
        return None if row is None else _user(row)

    def log_in(self, username: str, password: str) -> Session | None:
        """A new session, or None when the username or the password is wrong."""
        username = username.strip().lower()
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).one_or_none()
        stored = row.password_hash if row is not None else self._decoy
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        if self._hasher.check_needs_rehash(stored):
            with self._writer.begin() as conn:
                conn.execute(
                    update(users)
                    .where(users.c.username == username)
                    .values(password_hash=self._hasher.hash(password))
                )
        user = User(row.username, row.display_name, Role(row.role))
        token = secrets.token_urlsafe(32)
        at = now()
        expires = at + min(self.idle, self.lifetime)
        with self._writer.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires_at < at))
            conn.execute(
                insert(sessions).values(
                    token_hash=_digest(token),
                    username=user.username,
                    created_at=at,
                    expires_at=expires,
                )
            )
        return Session(token, user, expires)

    def session(self, token: str | None) -> Session:
        """The session of a cookie's token, its idle expiry moved on. Raises SessionInvalid."""
        if not token:
            raise SessionInvalid("not_logged_in")
        at = now()
        with self._engine.connect() as conn:
            row = conn.execute(
                select(sessions, users.c.display_name, users.c.role)
                .join(users, users.c.username == sessions.c.username)
                .where(sessions.c.token_hash == _digest(token), users.c.active)
            ).one_or_none()
        if row is None:
            raise SessionInvalid("not_logged_in")
        if row.expires_at <= at:
            # kept (log-ins purge them) so that every later call also says "expired"
            raise SessionInvalid("session_expired")
        expires = min(at + self.idle, row.created_at + self.lifetime)
        if expires - row.expires_at > timedelta(minutes=1):
            # The read above is a transaction of its own: on SQLite, upgrading a read to a write
            # fails at once ("database is locked") when another connection wrote in between.
            # The write takes the lock first, and its WHERE holds the read's conditions.
            with self._writer.begin() as conn:
                moved = conn.execute(
                    update(sessions)
                    .where(sessions.c.token_hash == row.token_hash, sessions.c.expires_at > at)
                    .values(expires_at=expires)
                ).rowcount
            if not moved:  # logged out, or its password changed, meanwhile
                raise SessionInvalid("not_logged_in")
        else:
            expires = row.expires_at
        return Session(token, User(row.username, row.display_name, Role(row.role)), expires)

    def log_out(self, token: str | None) -> None:
        if token:
            with self._writer.begin() as conn:
                conn.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))

    def expire(self, token: str) -> None:
        """End a session now, as if its time had run out (for operators and tests)."""
        with self._writer.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.token_hash == _digest(token))
                .values(expires_at=now() - timedelta(seconds=1))
            )


def _user(row: Any) -> User:
    return User(row.username, row.display_name, Role(row.role), bool(row.active))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
