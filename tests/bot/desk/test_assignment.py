"""Who has a conversation, on real databases: an admin assigns, an agent transfers with a
note, unassigns; auto-assignment gives each new handoff to the least busy online agent, also
when handoffs come at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.access.accounts import Role, User
from bot.conversation.events import AgentNoted, StatusChanged
from bot.conversation.service import ConversationService
from bot.conversation.sql import SqlConversationStore
from bot.conversation.status import ConversationStatus, InvalidTransition
from bot.desk.actions import AgentDesk, AssignRefused, NotAssignee
from bot.desk.assignment import AutoAssignment
from bot.desk.presence import LocalPresence
from bot.desk.queue import HumanQueue
from knowledge.drafts import KnowledgeDrafts
from tests.bot.desk.test_actions import NoAnswers

S = ConversationStatus
TEAM = {
    u.username: u
    for u in (
        User("mei", "美玲", Role.AGENT),
        User("tom", "Tom", Role.AGENT),
        User("boss", "店長", Role.ADMIN),
    )
}
MEI, TOM, BOSS = TEAM["mei"], TEAM["tom"], TEAM["boss"]


@pytest.fixture
def store(sql_url: str) -> Iterator[SqlConversationStore]:
    opened = SqlConversationStore(sql_url)
    yield opened
    opened.close()


@pytest.fixture
def service(store: SqlConversationStore) -> ConversationService:
    return ConversationService(store, NoAnswers())  # type: ignore[arg-type]


@pytest.fixture
def desk(service: ConversationService, store: SqlConversationStore) -> AgentDesk:
    return AgentDesk(service, KnowledgeDrafts(store.engine), TEAM.get)


@pytest.fixture
def consoles() -> LocalPresence:
    return LocalPresence(timedelta(minutes=10))


@pytest.fixture
def auto(service: ConversationService, consoles: LocalPresence) -> AutoAssignment:
    assignment = AutoAssignment(service.store, service.flows, consoles, TEAM.get, enabled=True)
    service.flows.after_move(assignment.after_move)
    return assignment


def handed_off(service: ConversationService) -> str:
    conversation = service.start(customer_id="c1", language="zh")
    service.request_person(conversation.id)
    return conversation.id


def test_assign_transfer_with_a_note_and_unassign(
    desk: AgentDesk, service: ConversationService
) -> None:
    conversation = handed_off(service)
    with pytest.raises(NotAssignee):
        desk.assign(conversation, MEI, "tom")  # admins only
    with pytest.raises(AssignRefused) as unknown:
        desk.assign(conversation, BOSS, "nobody")
    assert unknown.value.code == "agent_not_found"
    assert desk.assign(conversation, BOSS, "mei").assignee == "mei"
    with pytest.raises(NotAssignee):
        desk.transfer(conversation, TOM, "tom")
    with pytest.raises(AssignRefused) as theirs:
        desk.transfer(conversation, MEI, "mei")
    assert theirs.value.code == "already_theirs"

    moved = desk.transfer(conversation, MEI, "tom", "  客戶要退 A100  ")
    assert (moved.status, moved.assignee) == (S.WITH_AGENT, "tom")
    log = [r.event for r in desk.store.events(conversation)]
    transferred, note = log[-2], log[-1]
    assert isinstance(transferred, StatusChanged) and isinstance(note, AgentNoted)
    assert (transferred.from_status, transferred.to_status, transferred.reason) == (
        S.WITH_AGENT,
        S.WITH_AGENT,
        "transferred",
    )
    assert (transferred.actor, transferred.assignee, transferred.assignee_name) == (
        "agent:mei",
        "tom",
        "Tom",
    )
    assert (note.text, note.agent) == ("客戶要退 A100", "mei")
    entry = next(e for e in HumanQueue(desk.store).entries() if e.conversation.id == conversation)
    assert (entry.agent, entry.agent_name) == ("tom", "Tom")

    with pytest.raises(NotAssignee):
        desk.unassign(conversation, MEI)
    back = desk.unassign(conversation, TOM)
    assert (back.status, back.assignee) == (S.WAITING, None)
    with pytest.raises(InvalidTransition):
        desk.unassign(conversation, TOM)
    assert HumanQueue(desk.store).position(conversation) == 1
    # an admin moves one an agent has
    desk.claim(conversation, MEI)
    assert desk.assign(conversation, BOSS, "tom").assignee == "tom"


def test_auto_assignment_gives_the_least_busy_online_agent_each_handoff(
    service: ConversationService, consoles: LocalPresence, auto: AutoAssignment
) -> None:
    nobody_there = handed_off(service)
    assert service.store.get(nobody_there).status == S.WAITING
    with consoles.console_open("mei") as first:
        assert first
        auto.agent_arrived("mei")
        assert service.store.get(nobody_there).assignee == "mei"
        with consoles.console_open("tom"), consoles.console_open("tom") as again:
            assert not again  # a second console of the same agent
            assert consoles.online() == ["mei", "tom"]
            assert service.store.get(handed_off(service)).assignee == "tom"
            given = [service.store.get(handed_off(service)).assignee for _ in range(4)]
            assert sorted(given) == ["mei", "mei", "tom", "tom"]
        assert consoles.online() == ["mei"]
        assert service.store.get(handed_off(service)).assignee == "mei"
    assert consoles.online() == []
    assert service.store.get(handed_off(service)).status == S.WAITING

    auto.enabled = False  # the setting off: a handoff waits for a claim
    with consoles.console_open("tom"):
        assert service.store.get(handed_off(service)).status == S.WAITING


def test_handoffs_at_once_are_spread_over_the_agents(
    service: ConversationService, consoles: LocalPresence, auto: AutoAssignment
) -> None:
    conversations = [service.start(customer_id=f"c{i}").id for i in range(6)]
    barrier = threading.Barrier(len(conversations))

    def hand_off(conversation: str) -> None:
        barrier.wait()
        service.request_person(conversation)

    with consoles.console_open("mei"), consoles.console_open("tom"):
        threads = [threading.Thread(target=hand_off, args=(c,)) for c in conversations]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    owners = [service.store.get(c).assignee for c in conversations]
    assert all(owners)
    assert sorted(owners).count("mei") == 3 and owners.count("tom") == 3
