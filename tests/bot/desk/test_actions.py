"""The agents' desk on real databases: claims race, only the owner replies, and what each
action leaves in the log."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bot.access.accounts import Role, User
from bot.conversation.events import AgentNoted, AgentReplied, KnowledgeDraftSaved, StatusChanged
from bot.conversation.service import ConversationService
from bot.conversation.sql import SqlConversationStore
from bot.conversation.status import ConversationStatus, InvalidTransition
from bot.desk.actions import AgentDesk, AlreadyClaimed, NotAssignee, NotWaiting
from bot.desk.queue import HumanQueue
from knowledge.drafts import DraftRejected, KnowledgeDrafts

S = ConversationStatus
MEI = User("mei", "美玲", Role.AGENT)
TOM = User("tom", "Tom", Role.AGENT)
BOSS = User("boss", "店長", Role.ADMIN)


class NoAnswers:
    """The desk never asks the bot; a conversation here only needs to be waiting."""

    def answer(self, *_: object, **__: object) -> None:
        raise AssertionError("the bot was asked")


@pytest.fixture
def desk(sql_url: str) -> Iterator[AgentDesk]:
    store = SqlConversationStore(sql_url)
    service = ConversationService(store, NoAnswers())  # type: ignore[arg-type]
    yield AgentDesk(service, KnowledgeDrafts(store.engine))
    store.close()


def waiting(desk: AgentDesk) -> str:
    conversation = desk.conversations.start(customer_id="c1", language="zh")
    desk.conversations.request_person(conversation.id)
    return conversation.id


def race_to_claim(desk: AgentDesk, conversation: str, agents: list[User]) -> list[str]:
    """Every agent claims at the same moment: "won:<username>" or "lost:<the winner>"."""
    barrier = threading.Barrier(len(agents))
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim(agent: User) -> None:
        barrier.wait()
        try:
            desk.claim(conversation, agent)
            result = f"won:{agent.username}"
        except AlreadyClaimed as lost:
            result = f"lost:{lost.agent}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_of_many_agents_claiming_at_once_exactly_one_wins(desk: AgentDesk) -> None:
    agents = [User(f"agent{i}", f"Agent {i}", Role.AGENT) for i in range(6)]
    for _ in range(3):
        conversation = waiting(desk)
        outcomes = race_to_claim(desk, conversation, agents)
        winners = [o for o in outcomes if o.startswith("won:")]
        assert len(winners) == 1, outcomes
        owner = winners[0].removeprefix("won:")
        assert outcomes.count(f"lost:{owner}") == len(agents) - 1
        assert desk.store.get(conversation).assignee == owner
        claims = [
            r.event
            for r in desk.store.events(conversation)
            if isinstance(r.event, StatusChanged) and r.event.to_status == S.WITH_AGENT
        ]
        assert len(claims) == 1


def test_only_the_owner_replies_and_anyone_may_note(desk: AgentDesk) -> None:
    conversation = waiting(desk)
    with pytest.raises(NotAssignee):
        desk.reply(conversation, MEI, "hello")  # nobody owns it yet
    desk.claim(conversation, MEI)
    with pytest.raises(NotAssignee):
        desk.reply(conversation, TOM, "hello")
    with pytest.raises(ValueError):
        desk.reply(conversation, MEI, "   ")
    replied = desk.reply(conversation, MEI, " 您好 ").event
    assert isinstance(replied, AgentReplied) and (replied.text, replied.agent_name) == (
        "您好",
        "美玲",
    )
    noted = desk.note(conversation, TOM, "VIP").event
    assert isinstance(noted, AgentNoted) and noted.private


def test_resolving_returning_and_claiming_what_is_not_waiting(desk: AgentDesk) -> None:
    conversation = waiting(desk)
    desk.claim(conversation, MEI)
    with pytest.raises(NotAssignee):
        desk.resolve(conversation, TOM)
    assert desk.resolve(conversation, BOSS).status == S.RESOLVED  # an admin may
    with pytest.raises(NotWaiting):
        desk.claim(conversation, TOM)
    with pytest.raises(InvalidTransition):
        desk.return_to_bot(conversation, MEI)

    other = waiting(desk)
    desk.claim(other, TOM)
    assert desk.return_to_bot(other, TOM).status == S.BOT
    assert desk.store.get(other).assignee is None


def test_a_draft_is_kept_and_logged(desk: AgentDesk) -> None:
    conversation = waiting(desk)
    draft = desk.save_draft(MEI, "可以寄到金門嗎？", "可以，運費 NT$220。", conversation)
    assert draft.language == "zh" and draft.created_by == "mei"
    assert [d.id for d in desk.drafts.list()] == [draft.id]
    logged = desk.store.events(conversation)[-1].event
    assert isinstance(logged, KnowledgeDraftSaved) and logged.draft_id == draft.id
    with pytest.raises(DraftRejected):
        desk.save_draft(MEI, "可以寄到金門嗎？", "  ")


def test_the_queue_orders_by_priority_then_wait(desk: AgentDesk) -> None:
    first, second = waiting(desk), waiting(desk)
    queue = HumanQueue(desk.store)
    entries = queue.entries()
    assert [e.conversation.id for e in entries] == [first, second]
    assert [e.position for e in entries] == [1, 2]
    assert queue.position(second) == 2
    desk.claim(first, MEI)
    assert queue.position(second) == 1
    assert [(e.conversation.id, e.position, e.agent) for e in queue.entries()] == [
        (second, 1, None),
        (first, None, "mei"),
    ]


def test_an_upset_customer_goes_ahead_of_a_calm_one(desk: AgentDesk) -> None:
    from bot.conversation.events import CustomerMessaged, TurnHandedOff

    calm = waiting(desk)
    upset = desk.conversations.start(language="zh").id
    desk.store.append(CustomerMessaged(conversation_id=upset, text="氣死我了", language="zh"))
    desk.store.append(
        TurnHandedOff(
            conversation_id=upset,
            question="氣死我了",
            language="zh",
            reply="…",
            reason="negative_sentiment",
            confidence=0.0,
            details={"gate": {"sentiment": 0.9}},
            trigger="negative_sentiment",
            trigger_value=0.9,
        )
    )
    desk.store.transition(upset, S.WAITING, reason="negative_sentiment")
    entries = HumanQueue(desk.store).entries()
    assert [e.conversation.id for e in entries] == [upset, calm]
    assert entries[0].trigger == "negative_sentiment" and entries[0].trigger_value == 0.9
    # 3 for the trigger + 2 × 0.9 negativity (+ a moment's wait) against 2 for asking
    assert entries[0].priority == pytest.approx(4.8, abs=0.05)
    assert entries[1].priority == pytest.approx(2.0, abs=0.05)
