"""The conversation store on SQLAlchemy: a SQLite file by default, PostgreSQL for a team."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Integer,
    Row,
    Select,
    String,
    Table,
    create_engine,
    event,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, Engine, make_url

from bot.conversation.events import (
    EVENT_TYPES,
    CustomerMessaged,
    Event,
    Recorded,
    StatusChanged,
    event_from,
)
from bot.conversation.status import ConversationStatus, check_transition
from bot.conversation.store import (
    SEARCHED_TEXT,
    Conversation,
    ConversationNotFound,
    ConversationPage,
    ConversationQuery,
    LogMoved,
    StatusConflict,
    opening,
)
from bot.privacy.redaction import redact_event
from knowledge.database import UtcDateTime, metadata

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_FILE = "conversations.db"

# How long a SQLite writer waits for the file lock before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
# Rows fetched per round trip while streaming the log (a server-side cursor on PostgreSQL).
LOG_BATCH = 1000
# Any constant works; it only has to be the same for every process migrating one database.
_MIGRATION_LOCK_KEY = 0x6B656675  # "kefu"
# Conversation locks are PostgreSQL advisory locks keyed (this class, a hash of the id): the
# two-integer keys never meet the one-bigint key of the migration lock.
_CONVERSATION_LOCK_CLASS = 0x6B6663  # "kfc"
# connections kept for conversation locks: one per turn in progress; more open when needed
_LOCK_POOL_SIZE = 8
# Execution option that marks a write transaction (SQLite: BEGIN IMMEDIATE).
_WRITE = "kefu_write"


conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("customer_id", String(255), index=True),
    Column("language", String(16)),
    Column("status", String(16), nullable=False, index=True),
    Column("assignee", String(255)),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("updated_at", UtcDateTime, nullable=False, index=True),  # migration 0004
    # the seq of the conversation's latest event; bumping it locks the row, so seqs have no gaps
    Column("last_seq", Integer, nullable=False),
    # when the retention job took its texts and customer id (bot/privacy/retention.py)
    Column("anonymised_at", UtcDateTime),
    # an unverified customer id, and the SHA-256 digest of the customer's token (never the token)
    Column("customer_hint", String(255)),
    Column("customer_token", String(64)),
)

events = Table(
    "events",
    metadata,
    Column(
        "conversation_id",
        String(64),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("payload", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
)

# An anonymised conversation (retention, erasure) is gone for everyone: it answers as unknown
# and lists nowhere; only the log, the input of metrics, still holds its events.
_OPEN = conversations.c.anonymised_at.is_(None)


class SqlConversationStore:
    """The ConversationStore on any SQLAlchemy database; the schema is migrated on open."""

    def __init__(self, url: str | URL) -> None:
        parsed = make_url(url)
        self._sqlite = parsed.get_backend_name() == "sqlite"
        if self._sqlite and parsed.database in (None, "", ":memory:"):
            raise ValueError(
                "an in-memory SQLite database is not shared between connections; "
                "use a file (SqlConversationStore.sqlite(data_dir)) or MemoryConversationStore"
            )
        options: dict[str, Any] = {
            # keep zh-TW text readable in the database instead of \uXXXX escapes
            "json_serializer": lambda value: json.dumps(value, ensure_ascii=False),
        }
        if self._sqlite:
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        else:
            options["pool_pre_ping"] = True
            # the row locks below give gapless seqs at this level; a server defaulting to
            # SERIALIZABLE would instead fail concurrent appends with serialization errors
            options["isolation_level"] = "READ COMMITTED"
        self._engine: Engine = create_engine(parsed, **options)
        if self._sqlite:
            _serialize_sqlite_writes(self._engine)
        self._writer = self._engine.execution_options(**{_WRITE: True})
        # Conversation locks hold a connection for a whole turn, so they have a pool of their
        # own: a turn holding its lock must never wait for a connection to write with.
        self._locker: Engine | None = (
            None
            if self._sqlite
            else create_engine(
                parsed,
                pool_pre_ping=True,
                pool_size=_LOCK_POOL_SIZE,
                max_overflow=-1,
                isolation_level="READ COMMITTED",
            )
        )
        # SQLite has one writer at a time: threads of this process queue on a lock in order,
        # instead of on SQLite's busy handler, whose back-off sleeps were half a turn's wall
        # time under load before answering was limited to one turn per core (py-spy); with
        # that limit in, this gains little (bench_chat, 20 customers: p99 943 → 900 ms).
        # Other processes still meet the busy timeout; PostgreSQL needs none of this.
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if self._sqlite else nullcontext()
        )
        try:
            self.migrate()
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def sqlite(cls, data_dir: Path) -> SqlConversationStore:
        """The store in `data_dir/conversations.db`, created if missing."""
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(URL.create("sqlite+pysqlite", database=str(data_dir / SQLITE_FILE)))

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self._writer.begin() as conn:
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the latest revision (a no-op when it is there already)."""
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                # two processes opening a fresh database at once would both create the tables
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            command.upgrade(migration_config(conn), "head")

    def close(self) -> None:
        self._engine.dispose()
        if self._locker is not None:
            self._locker.dispose()

    def conversation_lock(self, conversation_id: str) -> AbstractContextManager[Any]:
        """Held while one process works on the conversation, for every process on the same
        database: on PostgreSQL a transaction-scoped advisory lock (released when the work
        ends, or when the connection dies with its process); on SQLite nothing, as SQLite
        serves one host, whose workers the in-process lock and the write lock order."""
        if self._locker is None:
            return nullcontext()
        return self._advisory_lock(self._locker, conversation_id)

    @staticmethod
    @contextmanager
    def _advisory_lock(locker: Engine, conversation_id: str) -> Iterator[None]:
        digest = hashlib.blake2b(conversation_id.encode(), digest_size=4).digest()
        key = int.from_bytes(digest, "big", signed=True)
        with locker.begin() as conn:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:cls, :key)"),
                {"cls": _CONVERSATION_LOCK_CLASS, "key": key},
            )
            yield

    def create(
        self,
        channel: str,
        customer_id: str | None = None,
        language: str | None = None,
        *,
        customer_hint: str | None = None,
        token_digest: str | None = None,
    ) -> Conversation:
        conversation, started = opening(channel, customer_id, language, customer_hint, token_digest)
        at = conversation.created_at
        with self._write() as conn:
            conn.execute(
                insert(conversations).values(
                    id=conversation.id,
                    channel=channel,
                    customer_id=customer_id,
                    customer_hint=customer_hint,
                    customer_token=token_digest,
                    language=language,
                    status=conversation.status.value,
                    assignee=None,
                    created_at=at,
                    updated_at=at,
                    last_seq=1,
                )
            )
            conn.execute(insert(events).values(_event_row(started, 1)))
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(conversations).where(conversations.c.id == conversation_id, _OPEN)
            ).one_or_none()
        if row is None:
            raise ConversationNotFound(conversation_id)
        return _conversation(row)

    def append(self, event: Event, *, after_seq: int | None = None) -> Recorded:
        event = self._checked(event)
        where = [conversations.c.id == event.conversation_id, _OPEN]
        if after_seq is not None:
            # compare-and-set on the latest seq: of two writers answering one message, one wins
            where.append(conversations.c.last_seq == after_seq)
        with self._write() as conn:
            seq = conn.execute(
                update(conversations)
                .where(*where)
                .values(last_seq=conversations.c.last_seq + 1, updated_at=event.at)
                .returning(conversations.c.last_seq)
            ).scalar_one_or_none()
            if seq is None:
                if after_seq is not None and _exists(conn, event.conversation_id):
                    raise LogMoved(event.conversation_id, after_seq)
                raise ConversationNotFound(event.conversation_id)
            conn.execute(insert(events).values(_event_row(event, seq)))
        return Recorded(seq, event)

    @staticmethod
    def _checked(event: Event) -> Event:
        """The event as the log keeps it: of a registered type, at an aware time, masked."""
        if EVENT_TYPES.get(event.kind) is not type(event):
            # the log could not be read back: event_from() only knows registered kinds
            raise ValueError(
                f"{type(event).__name__} is not a registered event type; register() it first"
            )
        _require_aware(event.at)
        return redact_event(event)  # what anyone typed reaches the log masked

    def events(self, conversation_id: str, after_seq: int = 0) -> list[Recorded]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(events.c.seq, events.c.kind, events.c.at, events.c.payload)
                .join(conversations, conversations.c.id == events.c.conversation_id)
                .where(events.c.conversation_id == conversation_id, events.c.seq > after_seq, _OPEN)
                .order_by(events.c.seq)
            ).all()
            if not rows and not _exists(conn, conversation_id):
                raise ConversationNotFound(conversation_id)
        return [
            Recorded(row.seq, event_from(row.kind, conversation_id, row.at, row.payload))
            for row in rows
        ]

    def awaiting_reply(self, since: datetime) -> list[Recorded]:
        _require_aware(since)
        query = (
            select(
                events.c.conversation_id, events.c.seq, events.c.kind, events.c.at, events.c.payload
            )
            .join(
                conversations,
                (conversations.c.id == events.c.conversation_id)
                & (conversations.c.last_seq == events.c.seq),
            )
            .where(
                _OPEN,
                conversations.c.status == ConversationStatus.BOT.value,
                conversations.c.updated_at >= since,
                events.c.kind == CustomerMessaged.kind,
                events.c.at >= since,
            )
            .order_by(events.c.at)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Recorded(row.seq, event_from(row.kind, row.conversation_id, row.at, row.payload))
            for row in rows
        ]

    def transition(
        self,
        conversation_id: str,
        to: ConversationStatus,
        *,
        reason: str = "",
        actor: str = "bot",
        expected: ConversationStatus | None = None,
        assignee: str | None = None,
        agent_name: str | None = None,
        assignee_name: str | None = None,
        preceded_by: Sequence[Event] = (),
        after_seq: int | None = None,
    ) -> Recorded:
        first = [self._checked(e) for e in _of(conversation_id, preceded_by)]
        with self._write() as conn:
            current = _status(conn, conversation_id, lock=True)
            if expected is not None and current != expected:
                raise StatusConflict(expected, current)
            check_transition(current, to)
            if first:
                # the turn, in this transaction: a failure below leaves neither it nor the move
                last = conn.execute(
                    select(conversations.c.last_seq).where(conversations.c.id == conversation_id)
                ).scalar_one()
                if after_seq is not None and last != after_seq:
                    raise LogMoved(conversation_id, after_seq)
                conn.execute(
                    insert(events),
                    [_event_row(e, last + i) for i, e in enumerate(first, start=1)],
                )
                conn.execute(
                    update(conversations)
                    .where(conversations.c.id == conversation_id)
                    .values(last_seq=last + len(first))
                )
            changed = StatusChanged(
                conversation_id=conversation_id,
                from_status=current,
                to_status=to,
                reason=reason,
                actor=actor,
                agent_name=agent_name,
                assignee=assignee if to == ConversationStatus.WITH_AGENT else None,
                assignee_name=assignee_name if to == ConversationStatus.WITH_AGENT else None,
            )
            # Compare-and-set: the row lock above already keeps others out, but the WHERE on the
            # status makes the move correct even for a writer that did not take the lock.
            seq = conn.execute(
                update(conversations)
                .where(
                    conversations.c.id == conversation_id,
                    conversations.c.status == current.value,
                )
                .values(
                    status=to.value,
                    assignee=assignee if to == ConversationStatus.WITH_AGENT else None,
                    last_seq=conversations.c.last_seq + 1,
                    updated_at=changed.at,
                )
                .returning(conversations.c.last_seq)
            ).scalar_one_or_none()
            if seq is None:
                raise StatusConflict(expected or current, _status(conn, conversation_id))
            conn.execute(insert(events).values(_event_row(changed, seq)))
        return Recorded(seq, changed)

    def log(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[tuple[int, Event]]:
        # checked now, not when the caller starts iterating
        _require_aware(start, end)
        query = (
            select(
                events.c.conversation_id,
                events.c.seq,
                events.c.kind,
                events.c.at,
                events.c.payload,
            )
            .join(conversations, conversations.c.id == events.c.conversation_id)
            # the same order as the memory store: conversations as they were created
            .order_by(conversations.c.created_at, conversations.c.id, events.c.seq)
        )
        if start is not None:
            query = query.where(events.c.at >= start)
        if end is not None:
            query = query.where(events.c.at < end)
        return self._stream(query)

    def _stream(self, query: Select[Any]) -> Iterator[tuple[int, Event]]:
        with self._engine.connect() as conn:
            for row in conn.execution_options(yield_per=LOG_BATCH).execute(query):
                yield row.seq, event_from(row.kind, row.conversation_id, row.at, row.payload)

    def conversations(
        self, status: ConversationStatus | None = None, customer_id: str | None = None
    ) -> list[Conversation]:
        query = (
            select(conversations)
            .where(_OPEN)
            .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
        )
        if status is not None:
            query = query.where(conversations.c.status == status.value)
        if customer_id is not None:
            query = query.where(conversations.c.customer_id == customer_id)
        with self._engine.connect() as conn:
            return [_conversation(row) for row in conn.execute(query)]

    def search(self, query: ConversationQuery) -> ConversationPage:
        _require_aware(query.start, query.end)
        where = []
        if query.customer_id is not None:
            where.append(conversations.c.customer_id == query.customer_id)
        if query.status is not None:
            where.append(conversations.c.status == query.status.value)
        if query.channel is not None:
            where.append(conversations.c.channel == query.channel)
        if query.start is not None:
            where.append(conversations.c.created_at >= query.start)
        if query.end is not None:
            where.append(conversations.c.created_at < query.end)
        if query.text:
            where.append(_says(query.text))
        rows = (
            select(conversations)
            .where(*where)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
            .offset(query.offset)
        )
        if query.limit is not None:
            rows = rows.limit(query.limit)
        count = select(func.count()).select_from(conversations).where(*where)
        with self._engine.connect() as conn:
            found = [_conversation(row) for row in conn.execute(rows)]
            total = conn.execute(count).scalar_one()
        return ConversationPage(found, int(total))


def _says(words: str) -> Any:
    """Some event of the conversation holds `words` in a searched field (any case). A scan of
    that conversation's events, by the events' primary key."""
    pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    kinds = {
        kind: fields
        for kind, event_type in EVENT_TYPES.items()
        for searched, fields in SEARCHED_TEXT.items()
        if issubclass(event_type, searched)
    }
    matches = [
        (events.c.kind == kind) & events.c.payload[field].as_string().ilike(pattern, escape="\\")
        for kind, fields in kinds.items()
        for field in fields
    ]
    return exists().where(events.c.conversation_id == conversations.c.id, or_(*matches))


def writer(engine: Engine) -> Engine:
    """`engine` for write transactions: on SQLite each begins IMMEDIATE, taking the write lock
    (waiting on the busy timeout) before it reads, so a read-then-update never meets
    "database is locked" when it upgrades. For the tables that live beside the store's."""
    return engine.execution_options(**{_WRITE: True})


def migration_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the store's migrations, with no alembic.ini: the scripts
    ship inside the package. With a connection, env.py migrates over that connection."""
    config = Config()
    # the ini parser would read % in a path as interpolation
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _serialize_sqlite_writes(engine: Engine) -> None:
    """SQLite: WAL so readers never wait (synchronous NORMAL: no disk sync per commit), and
    BEGIN IMMEDIATE for writes so two writers queue on the busy timeout instead of failing when
    both try to upgrade a read lock."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: it would emit its own BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a process that
            # crashes loses nothing committed, a power cut may lose the last commits but never
            # corrupts the file. The fsync of every commit (two per turn) was a sixth of a
            # single customer's turn, waiting on the disk (py-spy).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        writing = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _of(conversation_id: str, written: Sequence[Event]) -> Sequence[Event]:
    """Events written with a move: they belong to the conversation that moves."""
    if any(e.conversation_id != conversation_id for e in written):
        raise ValueError("the events written with a move belong to the conversation")
    return written


def _require_aware(*times: datetime | None) -> None:
    for at in times:
        if at is not None and at.tzinfo is None:
            raise ValueError(f"a naive datetime ({at}) is ambiguous; pass an aware one")


def _event_row(event: Event, seq: int) -> dict[str, Any]:
    return {
        "conversation_id": event.conversation_id,
        "seq": seq,
        "kind": event.kind,
        "at": event.at,
        "payload": event.payload(),
    }


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(
        id=row.id,
        channel=row.channel,
        customer_id=row.customer_id,
        language=row.language,
        status=ConversationStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        assignee=row.assignee,
        customer_hint=row.customer_hint,
        token_digest=row.customer_token,
    )


def _exists(conn: Connection, conversation_id: str) -> bool:
    found = conn.execute(
        select(conversations.c.id).where(conversations.c.id == conversation_id, _OPEN)
    ).first()
    return found is not None


def _status(conn: Connection, conversation_id: str, *, lock: bool = False) -> ConversationStatus:
    query = select(conversations.c.status).where(conversations.c.id == conversation_id, _OPEN)
    if lock:
        query = query.with_for_update()  # PostgreSQL; SQLite already holds the write lock
    status = conn.execute(query).scalar_one_or_none()
    if status is None:
        raise ConversationNotFound(conversation_id)
    return ConversationStatus(status)
