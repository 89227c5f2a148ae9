"""Two workers on one PostgreSQL database (two stores, two sets of flows, as two processes
have): what one does to a conversation waits for what the other is doing to it, and of
agents claiming one conversation on both at once exactly one gets it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.conversation.feed import EventFeed
from bot.conversation.flows import BOT, Actor, AgentAssigned, ConversationFlows, HandoffRequested
from bot.conversation.status import ConversationStatus
from bot.conversation.store import StatusConflict


def test_a_conversation_is_worked_on_by_one_worker_at_a_time(postgres_url, open_sql_store) -> None:
    a, b = open_sql_store(postgres_url), open_sql_store(postgres_url)
    flows_a, flows_b = ConversationFlows(a, EventFeed()), ConversationFlows(b, EventFeed())
    conversation = a.create("web")
    other = a.create("web")
    order: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def on_a() -> None:
        # taken twice: re-entrant, as by a flow inside a turn
        with flows_a.lock_for(conversation.id), flows_a.lock_for(conversation.id):
            order.append("a in")
            inside.set()
            release.wait(10)
            order.append("a out")

    def on_b() -> None:
        inside.wait(10)
        with flows_b.lock_for(conversation.id):
            order.append("b in")

    threads = [threading.Thread(target=on_a), threading.Thread(target=on_b)]
    for thread in threads:
        thread.start()
    inside.wait(10)
    with flows_b.lock_for(other.id):  # another conversation is not held up
        order.append("other")
    time.sleep(0.5)
    assert order == ["a in", "other"]  # b waits for a
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["a in", "other", "a out", "b in"]


def test_a_claim_race_across_workers_has_one_winner(postgres_url, open_sql_store) -> None:
    stores = [open_sql_store(postgres_url) for _ in range(2)]
    flows = [ConversationFlows(store, EventFeed()) for store in stores]
    for _ in range(5):
        conversation = stores[0].create("web")
        flows[0].apply(conversation.id, HandoffRequested(BOT, "explicit_request"))
        start = threading.Barrier(8)

        def claim(
            n: int, conversation_id: str = conversation.id, start: threading.Barrier = start
        ) -> str:
            start.wait(10)
            try:
                flows[n % 2].apply(conversation_id, AgentAssigned(Actor.agent(f"agent{n}")))
            except StatusConflict:
                return "lost"
            return f"agent{n}"

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(claim, range(8)))
        winners = [o for o in outcomes if o != "lost"]
        assert len(winners) == 1, outcomes
        claimed = stores[1].get(conversation.id)
        assert claimed.status == ConversationStatus.WITH_AGENT
        assert claimed.assignee == winners[0]


def test_on_sqlite_the_conversation_lock_is_this_processes_alone(sqlite_url, open_sql_store):
    store = open_sql_store(sqlite_url)
    flows = ConversationFlows(store, EventFeed())
    conversation = store.create("web")
    with flows.lock_for(conversation.id), flows.lock_for(conversation.id):
        flows.apply(conversation.id, HandoffRequested(BOT, "explicit_request"))
    assert store.get(conversation.id).status == ConversationStatus.WAITING
