"""One contract, every conversation store: in memory, SQLite file and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine

from bot.conversation.events import (
    Citation,
    ConversationStarted,
    CustomerMessaged,
    Event,
    FeedbackGiven,
    Retrieved,
    StatusChanged,
    TurnAnswered,
    TurnClarifying,
    TurnHandedOff,
    TurnRefused,
)
from bot.conversation.sql import SqlConversationStore, migration_config
from bot.conversation.status import ConversationStatus, InvalidTransition
from bot.conversation.store import (
    ConversationNotFound,
    ConversationStore,
    LogMoved,
    StatusConflict,
)
from bot.tables import metadata

S = ConversationStatus
OpenStore = Callable[[str], SqlConversationStore]
TAIPEI = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def said(conversation_id: str, text: str, at: datetime | None = None) -> CustomerMessaged:
    if at is None:
        return CustomerMessaged(conversation_id=conversation_id, text=text, language="zh-TW")
    return CustomerMessaged(conversation_id=conversation_id, text=text, language="zh-TW", at=at)


def one_of_each(conversation_id: str) -> list[Event]:
    """Every built-in event type (ConversationStarted comes from create), with every kind of
    payload value: tuples of dataclasses, enums, nested dicts, None, non-UTC times."""
    turn: dict[str, Any] = {
        "conversation_id": conversation_id,
        "question": "退貨要幾天？",
        "language": "zh-TW",
        "reply": "七天內可以退貨。",
        "confidence": 0.8125,
        "citations": (
            Citation("faq-12", "faq.xlsx", "sheet=常見問題;row=5", "七天內可以退貨"),
            Citation("doc-3", "policy.pdf", "page=3;offset=120", "鑑賞期"),
        ),
        "retrieved": (
            Retrieved("faq-12", 0.91, {"bm25": 12.5, "e5": 0.875}),
            Retrieved("doc-3", 0.5),
        ),
        "topic": "退換貨",
        "latency_ms": 42.25,
        "details": {"grounded": True, "verdicts": ["ok", "ok"], "signal": {"score": 0.75}},
    }
    return [
        said(conversation_id, "你好，我想退貨", at=datetime(2025, 3, 1, 17, 0, 1, 250, TAIPEI)),
        TurnAnswered(**turn, reason="clear_match", answer_mode="llm"),
        TurnClarifying(**turn, reason="ambiguous", options=("退貨", "換貨")),
        TurnRefused(**{**turn, "citations": (), "topic": None}, reason="low_score"),
        TurnHandedOff(**turn, reason="handoff", trigger="sentiment", trigger_value=-0.625),
        TurnHandedOff(**turn, reason="handoff", trigger="explicit_request", trigger_value="真人"),
        StatusChanged(
            conversation_id=conversation_id,
            from_status=S.BOT,
            to_status=S.WAITING,
            reason="sentiment",
            actor="system",
        ),
        FeedbackGiven(conversation_id=conversation_id, helpful=True, turn_seq=3),
        FeedbackGiven(conversation_id=conversation_id, helpful=False),
    ]


def test_create_then_get(store: ConversationStore):
    created = store.create("web", customer_id="c-1", language="zh-TW")
    assert created.status == S.BOT
    assert created.assignee is None
    assert created.created_at.tzinfo is not None
    assert store.get(created.id) == created
    [started] = store.events(created.id)
    assert started.seq == 1
    assert started.event == ConversationStarted(
        conversation_id=created.id,
        at=created.created_at,
        channel="web",
        customer_id="c-1",
        language="zh-TW",
    )


def test_the_customer_token_digest_and_an_unverified_hint_are_kept(store: ConversationStore):
    created = store.create("web", customer_hint="alice@example.com", token_digest="ab" * 32)
    kept = store.get(created.id)
    assert (kept.customer_id, kept.customer_hint, kept.token_digest) == (
        None,
        "alice@example.com",
        "ab" * 32,
    )
    # a hint joins nothing: asking for the customer finds no conversation of theirs
    assert store.conversations(customer_id="alice@example.com") == []
    [started] = store.events(created.id)
    assert started.event.customer_hint == "alice@example.com"
    assert "ab" * 32 not in repr(kept)  # the digest stays out of logs and reprs


def test_unknown_id_raises_everywhere(store: ConversationStore):
    store.create("web")
    with pytest.raises(ConversationNotFound):
        store.get("nope")
    with pytest.raises(ConversationNotFound):
        store.append(said("nope", "hi"))
    with pytest.raises(ConversationNotFound):
        store.events("nope")
    with pytest.raises(ConversationNotFound):
        store.transition("nope", S.WAITING)


def test_events_round_trip_every_type_in_order(store: ConversationStore):
    conversation = store.create("line", customer_id="U123")
    sample = one_of_each(conversation.id)
    expected_types = {
        CustomerMessaged,
        TurnAnswered,
        TurnClarifying,
        TurnRefused,
        TurnHandedOff,
        StatusChanged,
        FeedbackGiven,
    }
    assert {type(e) for e in sample} == expected_types
    recorded = [store.append(e) for e in sample]
    assert [r.seq for r in recorded] == list(range(2, len(sample) + 2))

    stored = store.events(conversation.id)
    assert [r.seq for r in stored] == list(range(1, len(sample) + 2))
    assert [r.event for r in stored[1:]] == sample  # dataclass equality: every field
    for original, back in zip(sample, (r.event for r in stored[1:]), strict=True):
        assert type(back) is type(original)
        assert back.at == original.at and back.at.utcoffset() is not None
    answered = stored[2].event
    assert isinstance(answered, TurnAnswered)
    assert isinstance(answered.citations, tuple) and isinstance(answered.citations[0], Citation)
    assert answered.retrieved[0].scores == {"bm25": 12.5, "e5": 0.875}
    changed = stored[7].event
    assert isinstance(changed, StatusChanged) and changed.to_status is S.WAITING


def test_events_after_seq(store: ConversationStore):
    conversation = store.create("web")
    for i in range(4):
        store.append(said(conversation.id, f"m{i}"))
    assert [r.seq for r in store.events(conversation.id, after_seq=3)] == [4, 5]
    assert store.events(conversation.id, after_seq=5) == []
    tail = store.events(conversation.id, after_seq=4)
    assert isinstance(tail[0].event, CustomerMessaged) and tail[0].event.text == "m3"


def test_concurrent_appends_get_gapless_seqs(store: ConversationStore):
    threads, per_thread = 8, 25
    conversation = store.create("web")
    start = threading.Barrier(threads)
    seqs: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            start.wait()
            seqs[worker] = [
                store.append(said(conversation.id, f"{worker}:{i}")).seq for i in range(per_thread)
            ]
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    total = threads * per_thread
    assert sorted(s for mine in seqs.values() for s in mine) == list(range(2, total + 2))
    assert all(mine == sorted(mine) for mine in seqs.values())
    stored = store.events(conversation.id)
    assert [r.seq for r in stored] == list(range(1, total + 2))
    texts = {r.event.text for r in stored[1:] if isinstance(r.event, CustomerMessaged)}
    assert texts == {f"{w}:{i}" for w in range(threads) for i in range(per_thread)}


def test_concurrent_claims_have_exactly_one_winner(store: ConversationStore):
    agents = 12
    conversation = store.create("web")
    store.transition(conversation.id, S.WAITING, reason="explicit_request")
    start = threading.Barrier(agents)
    won: list[str] = []
    lost: list[StatusConflict] = []
    errors: list[BaseException] = []

    def claim(agent: str) -> None:
        try:
            start.wait()
            store.transition(
                conversation.id,
                S.WITH_AGENT,
                expected=S.WAITING,
                actor=f"agent:{agent}",
                assignee=agent,
            )
            won.append(agent)
        except StatusConflict as conflict:
            lost.append(conflict)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=claim, args=(f"a{i}",)) for i in range(agents)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert len(won) == 1 and len(lost) == agents - 1
    assert all(c.expected == S.WAITING and c.actual == S.WITH_AGENT for c in lost)
    claimed = store.get(conversation.id)
    assert claimed.status == S.WITH_AGENT and claimed.assignee == won[0]
    changes = [r.event for r in store.events(conversation.id) if isinstance(r.event, StatusChanged)]
    assert [(c.to_status, c.actor) for c in changes] == [
        (S.WAITING, "bot"),
        (S.WITH_AGENT, f"agent:{won[0]}"),
    ]


def test_transition_records_status_changed_and_assignee(store: ConversationStore):
    conversation = store.create("web")
    store.transition(conversation.id, S.WAITING, reason="low_score")
    recorded = store.transition(
        conversation.id, S.WITH_AGENT, actor="agent:mei", expected=S.WAITING, assignee="mei"
    )
    assert recorded.seq == 3
    assert isinstance(recorded.event, StatusChanged)
    assert (recorded.event.from_status, recorded.event.to_status) == (S.WAITING, S.WITH_AGENT)
    assert store.events(conversation.id, after_seq=2) == [recorded]
    now = store.get(conversation.id)
    assert (now.status, now.assignee) == (S.WITH_AGENT, "mei")
    assert now.updated_at == recorded.event.at
    store.transition(conversation.id, S.RESOLVED, actor="agent:mei")
    assert (store.get(conversation.id).status, store.get(conversation.id).assignee) == (
        S.RESOLVED,
        None,
    )


def test_invalid_transition_and_conflict_record_nothing(store: ConversationStore):
    conversation = store.create("web")
    with pytest.raises(InvalidTransition):
        store.transition(conversation.id, S.WITH_AGENT, assignee="mei")
    with pytest.raises(StatusConflict) as conflict:
        store.transition(conversation.id, S.RESOLVED, expected=S.WAITING)
    assert (conflict.value.expected, conflict.value.actual) == (S.WAITING, S.BOT)
    assert store.get(conversation.id) == conversation
    assert [r.seq for r in store.events(conversation.id)] == [1]
    # and the seq counter did not move either
    assert store.append(said(conversation.id, "hi")).seq == 2


def test_log_filters_the_period_and_orders_by_conversation_then_seq(store: ConversationStore):
    first = store.create("web")
    second = store.create("web")
    hour = timedelta(hours=1)
    store.append(said(second.id, "b1", T0 + hour))
    store.append(said(first.id, "a1", T0))  # at == start: in
    store.append(said(first.id, "a2", T0 + 2 * hour))
    store.append(said(second.id, "b2", T0 + 3 * hour))  # at == end: out
    store.append(said(first.id, "a3", T0 - hour))  # before start: out

    period = list(store.log(T0, T0 + 3 * hour))
    assert [(seq, e.conversation_id, getattr(e, "text", None)) for seq, e in period] == [
        (2, first.id, "a1"),
        (3, first.id, "a2"),
        (2, second.id, "b1"),
    ]
    # the bounds may be in any zone
    assert list(store.log(T0.astimezone(TAIPEI), (T0 + 3 * hour).astimezone(TAIPEI))) == period
    assert [seq for seq, _ in store.log(end=T0)] == [4]
    everything = list(store.log())
    assert len(everything) == 7
    assert [(e.conversation_id, seq) for seq, e in everything] == [
        (first.id, 1),
        (first.id, 2),
        (first.id, 3),
        (first.id, 4),
        (second.id, 1),
        (second.id, 2),
        (second.id, 3),
    ]


def test_conversations_filter_and_newest_first(store: ConversationStore):
    made = []
    for customer in ("x", "y", "x"):
        made.append(store.create("web", customer_id=customer))
        time.sleep(0.002)  # distinct created_at even on a fast machine: the order is by time
    old_x, y, new_x = (c.id for c in made)
    store.transition(y, S.WAITING)

    assert [c.id for c in store.conversations()] == [new_x, y, old_x]
    assert [c.id for c in store.conversations(status=S.WAITING)] == [y]
    assert [c.id for c in store.conversations(customer_id="x")] == [new_x, old_x]
    assert [c.id for c in store.conversations(status=S.BOT, customer_id="x")] == [new_x, old_x]
    assert store.conversations(status=S.RESOLVED) == []
    assert store.conversations(customer_id="nobody") == []
    assert store.conversations(status=S.WAITING)[0] == store.get(y)


# --- SQL only: the schema, its migrations and what survives a restart ---


@pytest.fixture
def inspector_engine(sql_url: str) -> Iterator[Engine]:
    """A plain engine on the same database, to look at it from outside the store."""
    engine = create_engine(sql_url)
    yield engine
    engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(migration_config()).get_current_head()


def test_migration_creates_the_schema_on_an_empty_database(
    sql_url: str, inspector_engine: Engine, open_sql_store: OpenStore
):
    assert inspect(inspector_engine).get_table_names() == []
    open_sql_store(sql_url)

    schema = inspect(inspector_engine)
    assert set(schema.get_table_names()) == {
        "alembic_version",
        "conversations",
        "events",
        "users",
        "sessions",
        "knowledge_drafts",
        "audit_log",
        "orders",
        "channel_events",
        "channel_deliveries",
        "channel_contacts",
        "customer_identities",
        "identity_events",
        "link_codes",
        "shop_settings",
        "saved_replies",
        "customer_corrections",
        "marketing_consents",
        "custom_fields",
        "custom_field_values",
        "attachments",
        "ingest_jobs",
        "knowledge_files",
        "knowledge_chunks",
        "knowledge_sources",
        "knowledge_meta",
    }
    assert {c["name"] for c in schema.get_columns("conversations")} == {
        "id",
        "channel",
        "customer_id",
        "language",
        "status",
        "assignee",
        "created_at",
        "updated_at",
        "last_seq",
        "anonymised_at",
        "customer_hint",
        "customer_token",
    }
    assert schema.get_pk_constraint("events")["constrained_columns"] == ["conversation_id", "seq"]
    [foreign_key] = schema.get_foreign_keys("events")
    assert foreign_key["referred_table"] == "conversations"
    assert ["at"] in [ix["column_names"] for ix in schema.get_indexes("events")]
    with inspector_engine.connect() as conn:
        migration = MigrationContext.configure(conn)
        assert migration.get_current_revision() == head_revision()
        # the migration and the tables the code uses describe the same schema
        assert compare_metadata(migration, metadata) == []


def test_reopening_migrates_nothing(
    sql_url: str, inspector_engine: Engine, open_sql_store: OpenStore
):
    open_sql_store(sql_url).close()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.strip().split()[0].upper())

    # every engine, as the store makes its own
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        open_sql_store(sql_url)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert statements, "the second open should have looked at the schema version"
    assert not {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"} & set(statements)
    with inspector_engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()


def test_data_survives_a_reopen(sql_url: str, open_sql_store: OpenStore):
    first = open_sql_store(sql_url)
    conversation = first.create("web", customer_id="c-9", language="en")
    for e in one_of_each(conversation.id):
        first.append(e)
    first.transition(conversation.id, S.WAITING, reason="sentiment")
    first.transition(conversation.id, S.WITH_AGENT, expected=S.WAITING, assignee="mei")
    before = (first.get(conversation.id), first.events(conversation.id), list(first.log()))
    first.close()

    again = open_sql_store(sql_url)
    assert (again.get(conversation.id), again.events(conversation.id), list(again.log())) == before
    assert again.get(conversation.id).assignee == "mei"
    assert again.append(said(conversation.id, "still there?")).seq == len(before[1]) + 1


def test_times_come_back_in_utc(sql_url: str, open_sql_store: OpenStore):
    store = open_sql_store(sql_url)
    conversation = store.create("web")
    taipei_time = datetime(2025, 3, 1, 17, 30, 0, 123456, TAIPEI)
    store.append(said(conversation.id, "hi", taipei_time))
    back = store.events(conversation.id)[-1].event
    assert back.at == taipei_time and back.at.utcoffset() == timedelta(0)
    assert back.at.tzinfo is UTC
    assert store.get(conversation.id).created_at.tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        store.log(start=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        store.append(said(conversation.id, "hi", datetime(2025, 1, 1)))


def test_sqlite_under_a_data_dir(tmp_path: Path):
    store = SqlConversationStore.sqlite(tmp_path / "data")
    try:
        conversation = store.create("web")
        assert (tmp_path / "data" / "conversations.db").is_file()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()
    reopened = SqlConversationStore.sqlite(tmp_path / "data")
    try:
        assert reopened.get(conversation.id) == conversation
    finally:
        reopened.close()


def test_in_memory_sqlite_is_refused_with_a_hint():
    with pytest.raises(ValueError, match="MemoryConversationStore"):
        SqlConversationStore("sqlite://")


def test_an_unregistered_event_type_is_refused(sql_url: str, open_sql_store: OpenStore):
    store = open_sql_store(sql_url)
    conversation = store.create("web")

    class Unregistered(Event):
        kind = "unregistered_in_test"

    with pytest.raises(ValueError, match="register"):
        store.append(Unregistered(conversation_id=conversation.id))
    assert [r.seq for r in store.events(conversation.id)] == [1]


# ---- searching every conversation -----------------------------------------------------------


def test_search_finds_conversations_by_customer_text_status_channel_and_date(
    store: ConversationStore,
):
    from bot.conversation.events import AgentReplied
    from bot.conversation.store import ConversationQuery

    returns = store.create("web", customer_id="c-1", language="zh-TW")
    store.append(said(returns.id, "我想退貨，RETURN 訂單 A100"))
    store.transition(returns.id, S.WAITING, reason="customer_request", actor="customer")
    store.transition(
        returns.id, S.WITH_AGENT, actor="agent:alice", assignee="alice", assignee_name="Alice"
    )
    store.append(
        AgentReplied(
            conversation_id=returns.id,
            text="已為您登記 100% 退款",
            agent="alice",
            agent_name="Alice",
        )
    )
    store.transition(returns.id, S.RESOLVED, actor="agent:alice")
    line = store.create("line", customer_id="c-2", language="en")
    store.append(said(line.id, "where is my parcel?"))
    other = store.create("web", customer_id="c-2")

    def ids(**fields: Any) -> list[str]:
        page = store.search(ConversationQuery(**fields))
        assert page.total >= len(page.conversations)
        return [c.id for c in page.conversations]

    # the most recently active first
    assert ids() == [other.id, line.id, returns.id]
    assert ids(customer_id="c-2") == [other.id, line.id]
    assert ids(text="退貨") == [returns.id]
    assert ids(text="return") == [returns.id]  # any case
    assert ids(text="100%") == [returns.id]  # an agent's words; % is a character, not a wildcard
    assert ids(text="1%") == []
    assert ids(text="PARCEL") == [line.id]
    assert ids(status=S.RESOLVED) == [returns.id]
    assert ids(channel="line") == [line.id]
    assert ids(channel="web", customer_id="c-2") == [other.id]
    assert ids(start=returns.created_at, end=line.created_at) == [returns.id]
    assert ids(start=other.created_at) == [other.id]
    assert ids(text="退貨", status=S.BOT) == []

    first = store.search(ConversationQuery(limit=2))
    second = store.search(ConversationQuery(limit=2, offset=2))
    assert first.total == second.total == 3
    assert [c.id for c in first.conversations + second.conversations] == [
        other.id,
        line.id,
        returns.id,
    ]
    assert store.get(returns.id).assignee is None  # resolved: nobody has it


def test_a_move_to_an_agent_names_the_assignee_in_the_log(store: ConversationStore):
    c = store.create("web")
    store.transition(c.id, S.WAITING)
    store.transition(
        c.id,
        S.WITH_AGENT,
        actor="agent:carol",
        agent_name="Carol",
        assignee="bob",
        assignee_name="Bob",
    )
    assert store.get(c.id).assignee == "bob"
    moved = store.events(c.id)[-1].event
    assert isinstance(moved, StatusChanged)
    assert (moved.actor, moved.agent_name, moved.assignee, moved.assignee_name) == (
        "agent:carol",
        "Carol",
        "bob",
        "Bob",
    )
    store.transition(c.id, S.WAITING, actor="agent:bob")
    back = store.events(c.id)[-1].event
    assert isinstance(back, StatusChanged) and back.assignee is None
    assert "assignee" not in back.payload()
    assert store.get(c.id).assignee is None


def test_a_conditional_append_writes_only_right_after_the_seq_it_names(store: ConversationStore):
    conversation = store.create("web")
    message = store.append(said(conversation.id, "退貨要幾天？"))
    assert store.append(said(conversation.id, "first"), after_seq=message.seq).seq == 3
    with pytest.raises(LogMoved):
        store.append(said(conversation.id, "second"), after_seq=message.seq)
    assert [r.seq for r in store.events(conversation.id)] == [1, 2, 3]
    with pytest.raises(ConversationNotFound):
        store.append(said("nobody", "x"), after_seq=1)


def test_messages_awaiting_a_reply_are_the_bots_latest_unanswered_ones(store: ConversationStore):
    since = datetime.now(UTC) - timedelta(minutes=60)
    waiting = store.create("web")
    store.append(said(waiting.id, "舊的問題", at=since - timedelta(minutes=5)))
    store.append(said(waiting.id, "還在嗎？"))
    answered = store.create("web")
    store.append(said(answered.id, "退貨要幾天？"))
    store.append(FeedbackGiven(conversation_id=answered.id, helpful=True, turn_seq=None))
    old = store.create("web")
    store.append(said(old.id, "昨天的問題", at=since - timedelta(minutes=1)))
    with_person = store.create("web")
    store.append(said(with_person.id, "找真人"))
    store.transition(with_person.id, S.WAITING, reason="customer_request")
    store.append(said(with_person.id, "有人嗎？"))
    found = store.awaiting_reply(since)
    assert [(r.event.conversation_id, r.seq) for r in found] == [(waiting.id, 3)]
    assert isinstance(found[0].event, CustomerMessaged) and found[0].event.text == "還在嗎？"
