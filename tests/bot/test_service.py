"""The conversation service over each store (in memory, SQLite file): the customer's message
is logged first, messages sent at once become turns one after the other, the bot is silent
while a person owns the conversation, and the follow-up and clarifying context is the log's."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import event

from bot.answering.answerer import Answerer, AnswerPolicy, Outcome
from bot.answering.followup import with_context
from bot.answering.refusal import LanguageModel, RefusalModel
from bot.answering.texts import say
from bot.conversation.events import (
    BotTurn,
    ConversationStarted,
    CustomerMessaged,
    FeedbackGiven,
    StatusChanged,
    TurnAnswered,
    TurnClarifying,
    TurnHandedOff,
    TurnRefused,
)
from bot.conversation.service import ConversationService, MessageRejected
from bot.conversation.sql import SqlConversationStore
from bot.conversation.status import ConversationStatus, InvalidTransition
from bot.conversation.store import (
    ConversationNotFound,
    ConversationStore,
    LogMoved,
    MemoryConversationStore,
)
from knowledge.base import KnowledgeBase
from knowledge.embedding import E5Embedder, HashingEmbedder
from knowledge.ingestion import ingest_paths
from knowledge.retriever import HybridRetriever
from tests.bot.conversation.conftest import (  # noqa: F401 (fixtures)
    postgres_admin,
    postgres_url,
    sql_url,
    sqlite_url,
)

S = ConversationStatus
ROWS = [
    ("網購怎麼退貨？", "請在收到商品後七天內，到「我的訂單」點選「申請退貨」。"),
    ("門市怎麼退貨？", "請攜帶發票與商品，回到原購買門市辦理。"),
    ("會員退貨要怎麼申請？", "會員請登入後到「我的訂單」申請，物流會到府取件。"),
    ("非會員退貨要怎麼申請？", "非會員請來信客服信箱並附上訂單編號。"),
    ("運費怎麼算？", "全館滿 NT$990 免運費，未滿收 NT$60。"),
    ("寄送離島要多少運費？", "澎湖、金門、馬祖運費 NT$220。"),
]
ANSWER = dict(ROWS)
# p = sigmoid((similarity - 0.5) / 0.1); the hashing embedder named e5 gives the similarity.
SIMILARITY = LanguageModel(["similarity"], [0.5], [0.1], [1.0], 0.0, 0.5)


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    folder = tmp_path_factory.mktemp("service")
    book = openpyxl.Workbook()
    book.active.title = "退換貨"
    book.active.append(("問題", "答案"))
    for row in ROWS:
        book.active.append(row)
    book.save(folder / "faq.xlsx")
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], folder / "kb")
    assert ingest_paths(kb, [folder / "faq.xlsx"]).ok
    return Answerer(HybridRetriever(kb), RefusalModel({"zh": SIMILARITY, "en": SIMILARITY}))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConversationStore]:
    if request.param == "memory":
        yield MemoryConversationStore()
        return
    sql = SqlConversationStore.sqlite(tmp_path)
    yield sql
    sql.close()


@pytest.fixture
def service(store: ConversationStore, answerer: Answerer) -> ConversationService:
    return ConversationService(store, answerer, max_message_chars=200)


def kinds(service: ConversationService, conversation_id: str) -> list[str]:
    return [r.event.kind for r in service.transcript(conversation_id)[1]]


def test_the_message_is_logged_before_the_bots_turn(service: ConversationService):
    conversation = service.start(language="zh")
    result = service.send(conversation.id, "  會員退貨要怎麼申請？ ")
    assert result.turn is not None
    assert (result.message.seq, result.turn.seq) == (2, 3)
    assert isinstance(result.message.event, CustomerMessaged)
    assert result.message.event.text == "會員退貨要怎麼申請？"  # stripped
    assert result.message.event.language == "zh"
    turn = result.turn.event
    assert isinstance(turn, TurnAnswered) and turn.reply == ANSWER["會員退貨要怎麼申請？"]
    assert kinds(service, conversation.id) == [
        "conversation_started",
        "customer_messaged",
        "turn_answered",
    ]
    assert result.conversation.status == S.BOT


class BrokenAnswerer(Answerer):
    def answer(self, *args: Any, **kwargs: Any) -> Outcome:
        raise RuntimeError("the model server went away")


def test_a_message_is_kept_when_answering_fails(store: ConversationStore, answerer: Answerer):
    service = ConversationService(store, BrokenAnswerer(answerer.retriever, answerer.refusal))
    conversation = service.start()
    with pytest.raises(RuntimeError):
        service.send(conversation.id, "會員退貨要怎麼申請？")
    (_, message) = service.transcript(conversation.id)[1]
    assert isinstance(message.event, CustomerMessaged)
    assert message.event.text == "會員退貨要怎麼申請？"


class SlowAnswerer(Answerer):
    """Answers like the real one, slowly, so that two messages sent at once overlap."""

    def answer(self, *args: Any, **kwargs: Any) -> Outcome:
        time.sleep(0.2)
        return super().answer(*args, **kwargs)


def test_two_messages_at_once_become_two_turns_in_order(
    store: ConversationStore, answerer: Answerer
):
    slow = SlowAnswerer(answerer.retriever, answerer.refusal, answerer.policy)
    service = ConversationService(store, slow)
    conversation = service.start()
    questions = ["會員退貨要怎麼申請？", "寄送離島要多少運費？"]  # full questions, no follow-up
    start = threading.Barrier(len(questions))
    results: dict[str, Any] = {}

    def send(text: str) -> None:
        start.wait()
        results[text] = service.send(conversation.id, text)

    threads = [threading.Thread(target=send, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert set(results) == set(questions)

    log = service.transcript(conversation.id)[1]
    assert [r.seq for r in log] == [1, 2, 3, 4, 5]  # no gaps
    messages = [r for r in log if isinstance(r.event, CustomerMessaged)]
    turns = [r for r in log if isinstance(r.event, BotTurn)]
    assert sorted(m.event.text for m in messages) == sorted(questions)  # type: ignore[attr-defined]
    for message, turn in zip(messages, turns, strict=True):
        assert turn.seq == message.seq + 1  # each message is followed by its own turn
        assert turn.event.question == message.event.text  # type: ignore[attr-defined]
        assert turn.event.reply == ANSWER[message.event.text]  # type: ignore[attr-defined]
        result = results[message.event.text]  # type: ignore[attr-defined]
        assert (result.message.seq, result.turn.seq) == (message.seq, turn.seq)


@pytest.mark.parametrize("owner", [S.WAITING, S.WITH_AGENT])
def test_the_bot_is_silent_while_a_person_owns_the_conversation(
    service: ConversationService, owner: ConversationStatus
):
    conversation = service.start()
    service.request_person(conversation.id)
    if owner == S.WITH_AGENT:
        service.store.transition(conversation.id, S.WITH_AGENT, actor="agent:mei", assignee="mei")
    before = len(service.transcript(conversation.id)[1])

    result = service.send(conversation.id, "會員退貨要怎麼申請？")
    assert result.turn is None
    assert isinstance(result.message.event, CustomerMessaged)
    assert result.message.seq == before + 1
    assert result.conversation.status == owner
    current, log = service.transcript(conversation.id)
    assert current.status == owner
    assert len(log) == before + 1 and not isinstance(log[-1].event, BotTurn)


def test_a_resolved_conversation_reopens_with_the_bot(service: ConversationService):
    conversation = service.start()
    service.send(conversation.id, "會員退貨要怎麼申請？")
    service.store.transition(conversation.id, S.RESOLVED, actor="agent:mei")

    result = service.send(conversation.id, "寄送離島要多少運費？")
    assert result.conversation.status == S.BOT
    assert isinstance(result.turn and result.turn.event, TurnAnswered)
    log = service.transcript(conversation.id)[1]
    message, reopened, turn = log[-3:]
    assert isinstance(message.event, CustomerMessaged)
    assert isinstance(reopened.event, StatusChanged)
    assert (reopened.event.from_status, reopened.event.to_status) == (S.RESOLVED, S.BOT)
    assert (reopened.event.reason, reopened.event.actor) == ("customer_wrote_again", "customer")
    assert turn.seq == result.turn.seq and turn.seq == message.seq + 2  # type: ignore[union-attr]


def test_asking_for_a_person_queues_the_conversation_once(service: ConversationService):
    conversation = service.start()
    recorded = service.request_person(conversation.id)
    assert isinstance(recorded.event, StatusChanged)
    assert (recorded.event.from_status, recorded.event.to_status) == (S.BOT, S.WAITING)
    assert (recorded.event.reason, recorded.event.actor) == ("customer_request", "customer")
    assert service.store.get(conversation.id).status == S.WAITING

    with pytest.raises(InvalidTransition):
        service.request_person(conversation.id)
    assert kinds(service, conversation.id) == ["conversation_started", "status_changed"]


def test_feedback_is_logged(service: ConversationService):
    conversation = service.start()
    answered = service.send(conversation.id, "會員退貨要怎麼申請？")
    assert answered.turn is not None
    recorded = service.feedback(conversation.id, True, answered.turn.seq)
    assert recorded.seq == answered.turn.seq + 1
    event = service.transcript(conversation.id)[1][-1].event
    assert isinstance(event, FeedbackGiven)
    assert (event.helpful, event.turn_seq) == (True, answered.turn.seq)
    with pytest.raises(ConversationNotFound):
        service.feedback("no-such-conversation", False, None)


def test_a_follow_up_uses_the_previous_question(service: ConversationService):
    conversation = service.start()
    service.send(conversation.id, "會員退貨要怎麼申請？")
    result = service.send(conversation.id, "那非會員呢？")
    turn = result.turn and result.turn.event
    assert isinstance(turn, TurnAnswered)
    assert turn.question == with_context("那非會員呢？", "會員退貨要怎麼申請？")
    assert turn.reply == ANSWER["非會員退貨要怎麼申請？"]
    assert turn.reason == "follow_up"
    seen = turn.details["follow_up"]
    assert seen["alone"] < seen["with_context"]
    # and it is in the log, as stored
    logged = service.transcript(conversation.id)[1][-1].event
    assert isinstance(logged, TurnAnswered) and logged.details["follow_up"] == seen


def test_after_a_refusal_a_message_is_not_a_follow_up(service: ConversationService):
    conversation = service.start()
    refused = service.send(conversation.id, "今天台北天氣如何？")
    assert isinstance(refused.turn and refused.turn.event, TurnRefused)
    result = service.send(conversation.id, "那非會員呢？")
    assert "follow_up" not in result.turn.event.details  # type: ignore[union-attr]


def test_a_clarifying_turn_then_1_answers_the_first_option(
    store: ConversationStore, answerer: Answerer
):
    # A 10% gap: "怎麼退貨？" is then a choice between 網購 and 門市 (7% apart).
    wide = Answerer(answerer.retriever, answerer.refusal, AnswerPolicy(clarify_gap=0.10))
    service = ConversationService(store, wide)
    conversation = service.start()
    asked = service.send(conversation.id, "怎麼退貨？")
    clarifying = asked.turn and asked.turn.event
    assert isinstance(clarifying, TurnClarifying)
    assert clarifying.options == ("網購怎麼退貨？", "門市怎麼退貨？")
    assert clarifying.reply == say("clarify", "zh")

    picked = service.send(conversation.id, "1")
    turn = picked.turn and picked.turn.event
    assert isinstance(turn, TurnAnswered)
    assert turn.reply == ANSWER["網購怎麼退貨？"]
    assert turn.details["picked_option"] == "網購怎麼退貨？"
    assert turn.language == "zh"  # "1" has no language: the conversation's is kept


def test_an_empty_or_too_long_message_is_rejected_and_not_logged(service: ConversationService):
    conversation = service.start()
    for text in ("", "   \n\t "):
        with pytest.raises(MessageRejected) as empty:
            service.send(conversation.id, text)
        assert empty.value.code == "empty_message"
    with pytest.raises(MessageRejected) as long:
        service.send(conversation.id, "退" * 201)
    assert long.value.code == "message_too_long" and long.value.values == {"limit": 200}
    assert "200" in str(long.value)
    assert kinds(service, conversation.id) == ["conversation_started"]
    # the limit itself is allowed (after stripping)
    assert service.send(conversation.id, " " + "退" * 200 + " ").message.seq == 2


def test_an_unknown_conversation_is_not_found_and_nothing_is_created(
    service: ConversationService,
):
    with pytest.raises(ConversationNotFound):
        service.send("no-such-conversation", "會員退貨要怎麼申請？")
    with pytest.raises(ConversationNotFound):
        service.request_person("no-such-conversation")
    with pytest.raises(ConversationNotFound):
        service.transcript("no-such-conversation")
    assert service.store.conversations() == []


def test_the_conversations_language_answers_a_message_without_one(service: ConversationService):
    conversation = service.start(language="en")
    result = service.send(conversation.id, "12345")
    assert result.message.event.language == "en"  # type: ignore[attr-defined]
    turn = result.turn and result.turn.event
    assert isinstance(turn, BotTurn) and turn.language == "en"
    assert turn.reply == say("refusal", "en")


def test_a_customer_may_switch_to_english(service: ConversationService):
    conversation = service.start()
    service.send(conversation.id, "會員退貨要怎麼申請？")
    result = service.send(conversation.id, "Can you book me a flight to Tokyo?")
    assert result.message.event.language == "en"  # type: ignore[attr-defined]
    assert result.turn is not None and result.turn.event.reply == say("refusal", "en")  # type: ignore[attr-defined]


def test_starting_and_sending_wake_the_conversations_listeners(service: ConversationService):
    conversation = service.start()
    other = service.start()

    async def watch() -> tuple[float, float]:
        with (
            service.feed.listen(conversation.id) as mine,
            service.feed.listen(other.id) as theirs,
        ):
            started = time.monotonic()
            await asyncio.to_thread(service.send, conversation.id, "會員退貨要怎麼申請？")
            await mine.wait(5)
            woke = time.monotonic() - started
            started = time.monotonic()
            await theirs.wait(0.3)
            return woke, time.monotonic() - started

    woke, idle = asyncio.run(watch())
    assert woke < 2  # the send woke it, not the 5 s timeout
    assert idle >= 0.29  # nothing happened to the other conversation: it timed out


def test_a_listener_is_forgotten_when_it_leaves(service: ConversationService):
    async def listen_and_leave() -> None:
        with service.feed.listen("c1"):
            assert "c1" in service.feed._listeners
        assert "c1" not in service.feed._listeners

    asyncio.run(listen_and_leave())
    service.feed.notify("c1")  # nobody listens: nothing happens


def test_started_conversations_log_their_start(service: ConversationService):
    conversation = service.start(channel="line", customer_id="U123", language="zh")
    (first,) = service.transcript(conversation.id)[1]
    assert isinstance(first.event, ConversationStarted)
    assert (first.event.channel, first.event.customer_id, first.event.language) == (
        "line",
        "U123",
        "zh",
    )


@pytest.fixture
def gated(store: ConversationStore, answerer: Answerer) -> ConversationService:
    """The service with the handoff gate (no sentiment model: the hashing embedder's vectors
    mean nothing to it; explicit requests, topics and refusal streaks still count)."""
    from handoff.gate import Gate
    from handoff.settings import GateSettings

    return ConversationService(store, answerer, gate=Gate(GateSettings(), None))


def test_the_gate_hands_off_an_explicit_request_with_its_reason(gated: ConversationService):
    conversation = gated.start(language="zh")
    result = gated.send(conversation.id, "網購怎麼退貨？我要找真人客服")
    turn = result.turn
    assert turn is not None and isinstance(turn.event, TurnHandedOff)
    assert turn.event.trigger == "explicit_request"
    assert turn.event.reply == say("handed_off", "zh")
    assert not turn.event.citations  # the customer is told about the handoff, not answered
    # the answer the bot would have given is kept for the agent's suggested reply
    assert turn.event.details["answer"]["reply"] == ANSWER["網購怎麼退貨？"]
    assert turn.event.details["gate"]["signals"]
    assert result.conversation.status == S.WAITING
    changed = gated.transcript(conversation.id)[1][-1].event
    assert isinstance(changed, StatusChanged) and changed.reason == "explicit_request"
    # the bot is silent from now on
    assert gated.send(conversation.id, "運費怎麼算？").turn is None


def test_the_gate_lets_plain_questions_through_and_records_its_signals(
    gated: ConversationService,
):
    conversation = gated.start(language="zh")
    turn = gated.send(conversation.id, "運費怎麼算？").turn
    assert turn is not None and isinstance(turn.event, TurnAnswered)
    assert "gate" in turn.event.details and turn.event.details["gate"]["trigger"] is None


def test_refusals_in_a_row_hand_off(gated: ConversationService):
    conversation = gated.start(language="zh")
    first = gated.send(conversation.id, "今天台北天氣如何？").turn
    assert first is not None and isinstance(first.event, TurnRefused)
    second = gated.send(conversation.id, "請問明天高雄會下雨嗎").turn
    assert second is not None and isinstance(second.event, TurnHandedOff)
    assert second.event.trigger in ("repeated_refusals", "rephrased_question")
    assert gated.store.get(conversation.id).status == S.WAITING


def test_the_survey_opens_once_the_conversation_is_resolved(gated: ConversationService):
    from bot.conversation.service import SurveyRefused

    conversation = gated.start(language="zh")
    gated.send(conversation.id, "運費怎麼算？")
    with pytest.raises(SurveyRefused):
        gated.survey(conversation.id, 5, 7)
    gated.store.transition(conversation.id, S.RESOLVED, reason="resolved", actor="agent:mei")
    with pytest.raises(ValueError):
        gated.survey(conversation.id, 0, 7)
    recorded = gated.survey(conversation.id, 5, 7, " 很快 ")
    assert (recorded.event.csat, recorded.event.ces, recorded.event.comment) == (5, 7, "很快")
    with pytest.raises(SurveyRefused) as again:
        gated.survey(conversation.id, 1, 1)
    assert again.value.code == "survey_already_answered"


def test_in_shadow_mode_the_gate_records_but_never_hands_off(
    store: ConversationStore, answerer: Answerer
):
    from handoff.gate import Gate
    from handoff.settings import GateSettings

    shadow = ConversationService(store, answerer, gate=Gate(GateSettings(shadow=True), None))
    conversation = shadow.start(language="zh")
    turn = shadow.send(conversation.id, "網購怎麼退貨？我要找真人客服").turn
    assert turn is not None and isinstance(turn.event, TurnAnswered)
    assert turn.event.details["gate"]["signals"]["shadow_trigger"] == "explicit_request"
    assert shadow.store.get(conversation.id).status == S.BOT


def test_a_message_logged_before_a_crash_is_answered_once_on_restart(
    store: ConversationStore, answerer: Answerer
):
    broken = ConversationService(store, BrokenAnswerer(answerer.retriever, answerer.refusal))
    conversation = broken.start(language="zh")
    with pytest.raises(RuntimeError):  # the message is logged, its answer never written
        broken.send(conversation.id, "會員退貨要怎麼申請？")
    answered_already = broken.start(language="zh")
    restarted = ConversationService(store, answerer)
    restarted.send(answered_already.id, "運費怎麼算？")

    since = datetime.now(UTC) - timedelta(hours=1)
    assert restarted.answer_unanswered(since) == 1
    assert kinds(restarted, conversation.id) == [
        "conversation_started",
        "customer_messaged",
        "turn_answered",
    ]
    turn = restarted.transcript(conversation.id)[1][-1].event
    assert isinstance(turn, TurnAnswered) and turn.reply == ANSWER["會員退貨要怎麼申請？"]
    assert len(kinds(restarted, answered_already.id)) == 3  # untouched
    assert restarted.answer_unanswered(since) == 0  # a second start answers nothing again
    assert restarted.answer_logged(conversation.id) is None
    assert len(kinds(restarted, conversation.id)) == 3


def test_an_old_unanswered_message_or_one_a_person_owns_is_left_alone(
    store: ConversationStore, answerer: Answerer
):
    broken = ConversationService(store, BrokenAnswerer(answerer.retriever, answerer.refusal))
    conversation = broken.start(language="zh")
    with pytest.raises(RuntimeError):
        broken.send(conversation.id, "會員退貨要怎麼申請？")
    restarted = ConversationService(store, answerer)
    assert restarted.answer_unanswered(datetime.now(UTC) + timedelta(seconds=1)) == 0
    restarted.request_person(conversation.id)
    restarted.send(conversation.id, "有人在嗎？")  # logged, the bot stays silent
    assert restarted.answer_unanswered(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert "turn_answered" not in kinds(restarted, conversation.id)


def test_two_workers_recovering_at_once_answer_a_message_once(
    store: ConversationStore, answerer: Answerer
):
    """Two processes starting together: each its own service (own locks) over one store."""
    broken = ConversationService(store, BrokenAnswerer(answerer.retriever, answerer.refusal))
    conversations = [broken.start(language="zh") for _ in range(4)]
    for c in conversations:
        with pytest.raises(RuntimeError):
            broken.send(c.id, "運費怎麼算？")
    slow = SlowAnswerer(answerer.retriever, answerer.refusal, answerer.policy)
    workers = [ConversationService(store, slow) for _ in range(2)]
    since = datetime.now(UTC) - timedelta(hours=1)
    start = threading.Barrier(2)
    counts: list[int] = []

    def recover(service: ConversationService) -> None:
        start.wait()
        counts.append(service.answer_unanswered(since))

    threads = [threading.Thread(target=recover, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 4
    for c in conversations:
        assert kinds(workers[0], c.id).count("turn_answered") == 1


class StatusWriteFails(Exception):
    """Raised by the database in place of the status move (a crash between turn and move)."""


@pytest.fixture
def sql_store(sql_url: str) -> Iterator[SqlConversationStore]:  # noqa: F811
    opened = SqlConversationStore(sql_url)
    yield opened
    opened.close()


def fail_status_writes(store: SqlConversationStore) -> Callable[..., None]:
    """From now on, every UPDATE that sets a conversation's status fails in the database
    driver's place, after whatever the transaction wrote before it."""

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE CONVERSATIONS SET STATUS"):
            raise StatusWriteFails(statement)

    event.listen(store.engine, "before_cursor_execute", before)
    return before


def test_a_handoff_turn_and_its_move_are_one_transaction(
    sql_store: SqlConversationStore, answerer: Answerer
):
    """On SQLite and PostgreSQL: the status write fails after the handed-off turn was written
    in its transaction. Neither is visible; the customer's message is still there, unanswered,
    and answered with the handoff once the store works again (the restart's recovery)."""
    from handoff.gate import Gate
    from handoff.settings import GateSettings

    gate = Gate(GateSettings(), None)
    service = ConversationService(sql_store, answerer, gate=gate)
    conversation = service.start(language="zh")
    failing = fail_status_writes(sql_store)
    with pytest.raises(StatusWriteFails):
        service.send(conversation.id, "網購怎麼退貨？我要找真人客服")
    assert kinds(service, conversation.id) == ["conversation_started", "customer_messaged"]
    assert sql_store.get(conversation.id).status == S.BOT
    seq = sql_store.events(conversation.id)[-1].seq

    # the process comes back with a store that works
    event.remove(sql_store.engine, "before_cursor_execute", failing)
    restarted = ConversationService(sql_store, answerer, gate=Gate(GateSettings(), None))
    assert restarted.answer_unanswered(datetime.now(UTC) - timedelta(hours=1)) == 1
    logged = sql_store.events(conversation.id)
    assert [r.event.kind for r in logged[seq:]] == ["turn_handed_off", "status_changed"]
    assert [r.seq for r in logged] == list(range(1, len(logged) + 1))
    assert sql_store.get(conversation.id).status == S.WAITING


def test_a_handoff_turn_written_after_a_moved_log_writes_nothing(
    store: ConversationStore, answerer: Answerer
):
    """The turn of a recovered message with its move: when the log moved on in between
    (another worker answered first), neither the turn nor the move is written."""
    conversation = ConversationService(store, answerer).start(language="zh")
    store.append(CustomerMessaged(conversation_id=conversation.id, text="在嗎", language="zh"))
    turn = TurnHandedOff(
        conversation_id=conversation.id,
        question="在嗎",
        reply="稍等",
        language="zh",
        reason="handed_off",
        confidence=0.0,
        trigger="explicit_request",
    )
    with pytest.raises(LogMoved):
        store.transition(conversation.id, S.WAITING, preceded_by=[turn], after_seq=1)
    assert [r.event.kind for r in store.events(conversation.id)] == [
        "conversation_started",
        "customer_messaged",
    ]
    assert store.get(conversation.id).status == S.BOT
    moved = store.transition(conversation.id, S.WAITING, preceded_by=[turn], after_seq=2)
    logged = store.events(conversation.id)
    assert moved.seq == 4 and [r.event.kind for r in logged[2:]] == [
        "turn_handed_off",
        "status_changed",
    ]


def test_a_customer_asking_for_a_person_never_takes_the_conversation_from_its_agent(
    store: ConversationStore, answerer: Answerer
):
    """Found by the stateful API fuzzer: the customer's button moved a conversation an agent
    had back into the queue, unassigned."""
    from bot.conversation.flows import Actor, AgentAssigned

    service = ConversationService(store, answerer)
    conversation = service.start(language="zh")
    service.request_person(conversation.id)
    service.flows.apply(conversation.id, AgentAssigned(Actor.agent("mei", "美玲")))
    with pytest.raises(InvalidTransition):
        service.request_person(conversation.id)
    after = store.get(conversation.id)
    assert (after.status, after.assignee) == (S.WITH_AGENT, "mei")


class CountingE5(E5Embedder):
    """multilingual-e5-small, recording every query text it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        self.queries += list(texts)
        return super().embed_queries(texts)


@pytest.mark.integration
def test_a_turn_with_the_gate_encodes_the_message_once(tmp_path: Path) -> None:
    from bot.services import handoff_gate
    from bot.settings import Settings

    book = openpyxl.Workbook()
    book.active.append(("問題", "答案"))
    for row in ROWS:
        book.active.append(row)
    book.save(tmp_path / "faq.xlsx")
    e5 = CountingE5()
    kb = KnowledgeBase.in_memory([e5], tmp_path / "kb")
    assert ingest_paths(kb, [tmp_path / "faq.xlsx"]).ok
    retriever = HybridRetriever(kb)
    answerer = Answerer(retriever, RefusalModel({"zh": SIMILARITY, "en": SIMILARITY}))
    gate = handoff_gate(Settings(), [e5], retriever)
    assert gate.sentiment is not None  # the gate reads the message's e5 vector
    service = ConversationService(MemoryConversationStore(), answerer, gate=gate)
    conversation = service.start(language="zh")
    e5.queries.clear()
    first = service.send(conversation.id, "運費怎麼算？")
    assert first.turn is not None and "gate" in first.turn.event.details
    assert e5.queries == ["運費怎麼算？"]  # retrieval's vector, read by the gate too
    # the next message is compared with this one (a rephrasing?) without encoding it again
    second = service.send(conversation.id, "寄送離島要多少運費？")
    assert "rephrase_similarity" in second.turn.event.details["gate"]["signals"]
    assert e5.queries == ["運費怎麼算？", "寄送離島要多少運費？"]


def test_services_encode_questions_through_the_batcher(tmp_path: Path) -> None:
    from bot.services import build_services, handoff_gate
    from bot.settings import EmbeddingSettings, Settings
    from knowledge.embedding import E5Embedder, HashingEmbedder
    from knowledge.query_batching import BatchedEmbedder

    services = build_services(Settings(data_dir=tmp_path / "on"), embedders=[HashingEmbedder()])
    try:
        assert all(isinstance(e, BatchedEmbedder) for e in services.kb.embedders)
        assert services.conversations.gate is not None
    finally:
        services.close()
    off = Settings(data_dir=tmp_path / "off", embedding=EmbeddingSettings(batch_queries=False))
    services = build_services(off, embedders=[HashingEmbedder()])
    try:
        assert isinstance(services.kb.embedders[0], HashingEmbedder)
    finally:
        services.close()
    # the gate still knows a batched e5 for the e5 its sentiment weights were fitted on
    assert handoff_gate(Settings(), [BatchedEmbedder(E5Embedder())]).sentiment is not None
    assert handoff_gate(Settings(), [BatchedEmbedder(HashingEmbedder())]).sentiment is None
