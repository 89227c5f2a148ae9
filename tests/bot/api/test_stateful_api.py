"""A stateful fuzzer over the real API: customers write, ask for a person and go back to the bot;
two agents claim, reply, note, save drafts, resolve and return conversations; customers answer
the survey and give feedback. Hypothesis picks the steps (a rule-based state machine) and a
model of each conversation says what must happen. After every step:

- no response is a server error, and every response matches the OpenAPI spec (its status code
  is documented and its body has the documented schema);
- each call succeeds exactly when the model says the move is allowed, and a refused one
  changes nothing;
- every conversation's status is the model's, its log's status changes chain legally
  (`bot.conversation.status.TRANSITIONS`), its seqs have no gaps, and no customer message or
  agent reply that was acknowledged is missing or out of order;
- the agents' queue lists exactly the waiting conversations.

The app is the real one (SQLite store, the demo knowledge base with the hashing embedder,
handoffs queue with nobody online). Deterministic (derandomized, no example database) and
bounded: `RUNS` sequences of at most `STEPS` steps, under a minute.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from bot.access.accounts import Role
from bot.app import create_app
from bot.conversation.status import TRANSITIONS, ConversationStatus
from bot.services import Services
from bot.settings import AccessSettings
from tests.bot.api.conftest import ANSWERED, REFUSED, services_over
from tests.customer_tokens import as_customer

pytestmark = pytest.mark.fuzz

RUNS = 8
STEPS = 30
PASSWORD = "fuzzing horse battery"
UNLIMITED = "1000000/minute"
AGENTS = ("mei", "lee")
S = ConversationStatus

# What customers write: questions the bot answers or refuses, a request for a person (the gate
# hands off), text with characters the edges refuse or strip, and blanks.
CUSTOMER_TEXTS = st.sampled_from(
    [
        ANSWERED,
        REFUSED,
        "運費怎麼算？",
        "我要找真人客服",
        "how do I return an order?",
        "量子糾纏\x1b[31m 的包裹？",
        "鈴聲\u0007問題？",
        "\u200b\u200b",
        "   ",
        "x" * 5000,
    ]
)
AGENT_TEXTS = st.sampled_from(["您好，我來幫您處理。", "Let me check that for you.", "\u200b", ""])


@pytest.fixture
def app(demo_data_dir: Path, tmp_path: Path) -> Iterator[FastAPI]:
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    access = AccessSettings(
        customer_rate_limit=UNLIMITED,
        conversation_rate_limit=UNLIMITED,
        login_rate_limit=UNLIMITED,
        search_rate_limit=UNLIMITED,
    )
    services = services_over(data, tmp_path, access)
    built: Services = next(services)
    built.accounts.add("mei", PASSWORD, Role.AGENT, "美玲")
    built.accounts.add("lee", PASSWORD, Role.AGENT, "小李")
    yield create_app(built)
    next(services, None)


@dataclass
class Model:
    """What one conversation must look like."""

    id: str
    status: ConversationStatus = S.BOT
    owner: str | None = None
    said: list[str] = field(default_factory=list)  # the customer's acknowledged messages
    replies: list[str] = field(default_factory=list)  # the agents' acknowledged replies
    surveyed: bool = False  # since the last resolution


def fits(*statuses: ConversationStatus) -> Callable[[Model], bool]:
    return lambda model: model.status in statuses


class ApiMachine(RuleBasedStateMachine):
    def __init__(self, app: FastAPI, spec: Any, counts: dict[str, int]) -> None:
        super().__init__()
        self.app = app
        self.spec = spec
        self.counts = counts
        self.customer = as_customer(TestClient(app))
        self.agents = {name: self._logged_in(name) for name in AGENTS}
        self.models: dict[str, Model] = {}
        self.touched: set[str] = set()  # the conversations the last step moved
        self.forced: Model | None = None  # the conversation a whole path walks
        self.order: dict[str, int] = {}  # the conversations as they were started

    def _logged_in(self, username: str) -> TestClient:
        client = TestClient(self.app)
        response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return client

    def call(
        self, client: TestClient, method: str, template: str, cid: str = "", **kwargs: Any
    ) -> httpx.Response:
        """One request, checked against the spec: no server error, a documented status, a
        body of the documented schema."""
        response = client.request(method, template.replace("{conversation_id}", cid), **kwargs)
        key = f"{method} {template} {response.status_code}"
        self.counts[key] = self.counts.get(key, 0) + 1
        assert response.status_code < 500, f"{method} {template}: {response.text}"
        operation = self.spec[template][method]
        documented = operation.definition.raw["responses"]
        assert str(response.status_code) in documented, (
            f"{method} {template} answered an undocumented {response.status_code}"
        )
        operation.validate_response(response)
        return response

    # ---- the customers --------------------------------------------------------------------

    def pick(self, data: st.DataObject, fit: Callable[[Model], bool]) -> Model:
        """A conversation for the next move: three times in four one the move suits (when
        there is one), else any, so that the moves happen as well as their refusals."""
        if self.forced is not None:
            self.touched.add(self.forced.id)
            return self.forced
        suited = sorted(c for c, m in self.models.items() if fit(m))
        if suited and data.draw(st.integers(0, 3)):
            cid = data.draw(st.sampled_from(suited))
        else:
            cid = data.draw(st.sampled_from(sorted(self.models)))
        self.touched.add(cid)
        return self.models[cid]

    @initialize()
    def first_conversation(self) -> None:
        self.start()

    @rule()
    def start(self) -> None:
        response = self.call(self.customer, "POST", "/api/conversations", json={})
        assert response.status_code == 201
        cid = response.json()["id"]
        self.models[cid] = Model(cid)
        self.order[cid] = len(self.order)
        self.touched.add(cid)

    @rule(data=st.data(), agent=st.sampled_from(AGENTS))
    def a_whole_handoff(self, data: st.DataObject, agent: str) -> None:
        """A new conversation walked through every move, each checked as on its own: the
        customer writes and asks for a person, an agent claims, replies and resolves, the
        customer answers the survey, writes again and goes back to the bot from the queue."""
        self.start()
        self.forced = self.models[max(self.models, key=lambda c: self.order[c])]
        try:
            self.customer_writes(data, ANSWERED)
            self.customer_asks_for_a_person(data)
            self.agent_claims(data, agent)
            self.agent_replies(data, agent, "您好，我來幫您處理。")
            self.agent_resolves_or_returns(data, agent, True)
            self._survey(self.forced.id, 5, 2)
            self.customer_writes(data, "運費怎麼算？")
            self.customer_asks_for_a_person(data)
            self.customer_goes_back_to_the_bot(data)
        finally:
            self.forced = None

    @rule(data=st.data(), text=CUSTOMER_TEXTS)
    def customer_writes(self, data: st.DataObject, text: str) -> None:
        model = self.pick(data, fits(S.BOT, S.RESOLVED))
        cid = model.id
        template = "/api/conversations/{conversation_id}/messages"
        response = self.call(self.customer, "POST", template, cid, json={"text": text})
        clean = text.replace("\x1b", "").replace("\u0007", "").strip()
        if not clean.replace("\u200b", "") or len(clean) > 4000:
            assert response.status_code in (400, 413, 422), response.text
            return
        assert response.status_code == 200, response.text
        model.said.append(clean)
        now = S(response.json()["conversation_status"])
        if model.status == S.RESOLVED:
            assert now in (S.BOT, S.WAITING)  # the customer came back (and maybe asked for us)
            model.surveyed = False
        elif model.status == S.BOT:
            assert now in (S.BOT, S.WAITING)
        else:
            assert now == model.status, "a customer's message moved a conversation a person has"
        model.status = now
        if now == S.BOT:
            model.owner = None

    @rule(data=st.data())
    def customer_asks_for_a_person(self, data: st.DataObject) -> None:
        model = self.pick(data, fits(S.BOT))
        cid = model.id
        response = self.call(
            self.customer, "POST", "/api/conversations/{conversation_id}/handoff", cid
        )
        if model.status == S.BOT:
            assert response.status_code == 200, response.text
            model.status = S.WAITING
        else:
            assert response.status_code == 409, response.text

    @rule(data=st.data())
    def customer_goes_back_to_the_bot(self, data: st.DataObject) -> None:
        model = self.pick(data, fits(S.WAITING))
        cid = model.id
        response = self.call(self.customer, "POST", "/api/conversations/{conversation_id}/bot", cid)
        if model.status == S.WAITING:
            assert response.status_code == 200, response.text
            model.status = S.BOT
        else:
            assert response.status_code == 409, response.text

    @rule(data=st.data(), csat=st.integers(0, 6), ces=st.integers(0, 8))
    def customer_answers_the_survey(self, data: st.DataObject, csat: int, ces: int) -> None:
        self._survey(self.pick(data, fits(S.RESOLVED)).id, csat, ces)

    def _survey(self, cid: str, csat: int, ces: int) -> None:
        model = self.models[cid]
        template = "/api/conversations/{conversation_id}/survey"
        response = self.call(self.customer, "POST", template, cid, json={"csat": csat, "ces": ces})
        if not (1 <= csat <= 5 and 1 <= ces <= 7):
            assert response.status_code in (400, 422), response.text
        elif model.status == S.RESOLVED and not model.surveyed:
            assert response.status_code == 201, response.text
            model.surveyed = True
        else:
            assert response.status_code == 409, response.text

    @rule(
        data=st.data(),
        turn=st.one_of(st.none(), st.integers(-1, 12), st.just(9223372036854775809)),
    )
    def customer_gives_feedback(self, data: st.DataObject, turn: int | None) -> None:
        cid = self.pick(data, fits(*S)).id
        template = "/api/conversations/{conversation_id}/feedback"
        body = {"helpful": True, "turn_seq": turn}
        response = self.call(self.customer, "POST", template, cid, json=body)
        assert response.status_code in (201, 400, 422), response.text

    # ---- the agents -----------------------------------------------------------------------

    @rule(data=st.data(), agent=st.sampled_from(AGENTS))
    def agent_claims(self, data: st.DataObject, agent: str) -> None:
        model = self.pick(data, fits(S.WAITING))
        cid = model.id
        template = "/api/agent/conversations/{conversation_id}/claim"
        response = self.call(self.agents[agent], "POST", template, cid)
        if model.status == S.WAITING:
            assert response.status_code == 200, response.text
            model.status, model.owner = S.WITH_AGENT, agent
        else:
            assert response.status_code == 409, response.text

    @rule(data=st.data(), agent=st.sampled_from(AGENTS), text=AGENT_TEXTS)
    def agent_replies(self, data: st.DataObject, agent: str, text: str) -> None:
        model = self.pick(data, fits(S.WITH_AGENT))
        cid = model.id
        template = "/api/agent/conversations/{conversation_id}/messages"
        response = self.call(self.agents[agent], "POST", template, cid, json={"text": text})
        if not text.replace("\u200b", "").strip():
            assert response.status_code in (400, 422), response.text
        elif model.status == S.WITH_AGENT and model.owner == agent:
            assert response.status_code == 201, response.text
            model.replies.append(text)
        else:
            assert response.status_code in (403, 409), response.text

    @rule(data=st.data(), agent=st.sampled_from(AGENTS), text=AGENT_TEXTS)
    def agent_notes(self, data: st.DataObject, agent: str, text: str) -> None:
        cid = self.pick(data, fits(*S)).id
        template = "/api/agent/conversations/{conversation_id}/notes"
        response = self.call(self.agents[agent], "POST", template, cid, json={"text": text})
        blank = not text.replace("\u200b", "").strip()
        assert response.status_code == (422 if blank else 201) or (
            blank and response.status_code == 400
        ), response.text

    @rule(data=st.data(), agent=st.sampled_from(AGENTS))
    def agent_saves_a_draft(self, data: st.DataObject, agent: str) -> None:
        cid = self.pick(data, fits(*S)).id
        body = {"conversation_id": cid, "question": "鯨魚罐頭有賣嗎？", "answer": "目前沒有。"}
        response = self.call(self.agents[agent], "POST", "/api/agent/drafts", json=body)
        assert response.status_code == 201, response.text

    @rule(data=st.data(), agent=st.sampled_from(AGENTS), resolve=st.booleans())
    def agent_resolves_or_returns(self, data: st.DataObject, agent: str, resolve: bool) -> None:
        model = self.pick(data, fits(S.WAITING, S.WITH_AGENT))
        cid = model.id
        action = "resolve" if resolve else "return-to-bot"
        template = f"/api/agent/conversations/{{conversation_id}}/{action}"
        response = self.call(self.agents[agent], "POST", template, cid)
        allowed = model.status == S.WAITING or (
            model.status == S.WITH_AGENT and model.owner == agent
        )
        if allowed:
            assert response.status_code == 200, response.text
            model.status, model.owner = (S.RESOLVED if resolve else S.BOT), None
            model.surveyed = False
        else:
            assert response.status_code in (403, 409), response.text

    # ---- what must hold after every step --------------------------------------------------

    @invariant()
    def the_conversations_moved_are_as_the_model_says(self) -> None:
        self.check(sorted(self.touched))
        self.touched.clear()

    def teardown(self) -> None:
        self.check(sorted(self.models))  # and at the end, every one of them

    def check(self, ids: list[str]) -> None:
        agent = self.agents[AGENTS[0]]
        for cid in ids:
            model = self.models[cid]
            view = self.call(agent, "GET", "/api/agent/conversations/{conversation_id}", cid)
            assert view.status_code == 200, view.text
            conversation, events = view.json()["conversation"], view.json()["events"]
            assert conversation["status"] == model.status.value
            if model.status == S.WITH_AGENT:
                names = {"mei": "美玲", "lee": "小李"}
                assert conversation["agent_name"] == names[model.owner or ""]
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            said = [e["data"]["text"] for e in events if e["kind"] == "customer_messaged"]
            assert said == model.said, "a customer's message is lost or changed"
            replies = [e["data"]["text"] for e in events if e["kind"] == "agent_replied"]
            assert replies == model.replies, "an agent's reply is lost or changed"
            status = S.BOT
            for e in events:
                if e["kind"] == "status_changed":
                    before, after = S(e["data"]["from_status"]), S(e["data"]["to_status"])
                    assert before == status, f"a move from {before} while it was {status}"
                    assert after in TRANSITIONS[before], f"an illegal move {before} → {after}"
                    status = after
            assert status == model.status
            # a handed-off turn is always followed by the move it made
            kinds = [e["kind"] for e in events]
            for i, kind in enumerate(kinds):
                if kind == "turn_handed_off":
                    assert kinds[i + 1 : i + 2] == ["status_changed"], kinds

    @invariant()
    def the_queue_lists_the_waiting(self) -> None:
        response = self.call(self.agents[AGENTS[1]], "GET", "/api/agent/queue")
        assert response.status_code == 200
        entries = response.json()["conversations"]
        listed = {e["id"] for e in entries if e["status"] == "waiting"}
        waiting = {cid for cid, m in self.models.items() if m.status == S.WAITING}
        assert listed & set(self.models) == waiting
        self.counts["steps"] = self.counts.get("steps", 0) + 1


def test_the_api_keeps_its_invariants_over_sequences_of_moves(app: FastAPI) -> None:
    spec = schemathesis.openapi.from_asgi("/openapi.json", app)
    counts: dict[str, int] = {}
    run_state_machine_as_test(
        lambda: ApiMachine(app, spec, counts),
        settings=settings(
            max_examples=RUNS,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    steps = counts.pop("steps")
    print(f"stateful API fuzzing: {steps} steps, {sum(counts.values())} requests")
    for key, n in sorted(counts.items()):
        print(f"  {n:5d}  {key}")
    # the machine really went through the moves, not only through refusals
    for done in (
        "POST /api/conversations/{conversation_id}/messages 200",
        "POST /api/conversations/{conversation_id}/handoff 200",
        "POST /api/conversations/{conversation_id}/bot 200",
        "POST /api/conversations/{conversation_id}/survey 201",
        "POST /api/agent/conversations/{conversation_id}/claim 200",
        "POST /api/agent/conversations/{conversation_id}/messages 201",
        "POST /api/agent/conversations/{conversation_id}/resolve 200",
        "POST /api/agent/conversations/{conversation_id}/return-to-bot 200",
    ):
        assert counts.get(done), f"never: {done}"
