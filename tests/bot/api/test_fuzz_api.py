"""schemathesis over the whole OpenAPI spec, in-process: as a customer (anonymous), an agent and
an admin, every operation gets the spec's examples, its boundary cases (coverage phase) and a
few generated valid and invalid requests. No response may be a server error, and every response
must match what the spec documents: its status code, its content type and its body's schema.

The app is the real one over a copy of the demo knowledge base (the admin's fuzzing uploads,
deletes and re-ingests), with the hashing embedder: what is under test is the HTTP surface, not
the answers. Rate limits are lifted so that the fuzzer reaches the routes instead of 429.

Not fuzzed: the WebSocket event streams (`/api/conversations/{id}/events`, the agents' and the
queue's streams) are not in the OpenAPI spec, which has no way to describe them; they are
covered by their own tests. The HTML pages and static files are left out of the spec too.

Deterministic: a fixed seed, derandomized generation and no example database, so CI does not
flake; the budget (`MAX_EXAMPLES` per operation and role) keeps the file near a minute.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from bot.access.accounts import Role
from bot.app import create_app
from bot.services import Services
from bot.settings import AccessSettings
from tests.bot.api.conftest import ANSWERED, services_over
from tests.customer_tokens import as_customer, token_of

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 40
SEED = 20261112
PASSWORD = "fuzzing horse battery"
UNLIMITED = "1000000/minute"

CONFIG = {
    "seed": SEED,
    "generation": {
        "mode": "all",  # valid requests and invalid ones (wrong types, missing fields, …)
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
        "no-shrink": True,  # a failure is reported as found: shrinking has no time budget
    },
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},  # the spec declares no links between operations
    },
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
    },
}


@pytest.fixture
def fuzzed(demo_data_dir: Path, tmp_path: Path) -> Iterator[Services]:
    """The services over a copy of the demo knowledge base, rate limits lifted."""
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    access = AccessSettings(
        customer_rate_limit=UNLIMITED,
        conversation_rate_limit=UNLIMITED,
        login_rate_limit=UNLIMITED,
        search_rate_limit=UNLIMITED,
    )
    services = services_over(data, tmp_path, access)
    built = next(services)
    built.accounts.add("mei", PASSWORD, Role.AGENT, "美玲")
    built.accounts.add("boss", PASSWORD, Role.ADMIN, "店長")
    yield built
    next(services, None)


@pytest.fixture
def app(fuzzed: Services) -> FastAPI:
    return create_app(fuzzed)


def session_cookies(app: FastAPI, username: str) -> dict[str, str]:
    client = TestClient(app)
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return dict(client.cookies)


@dataclass(frozen=True)
class Seeded:
    ids: dict[str, list[str]]  # real ids for the path parameters
    tokens: dict[str, str]  # the customer token of each seeded conversation


def seed(app: FastAPI) -> Seeded:
    """Real ids for the path parameters: a conversation the bot answered, one waiting for a
    person, one an agent took over, a pending draft and a knowledge file."""
    customer = as_customer(TestClient(app))
    mei = TestClient(app, cookies=session_cookies(app, "mei"))
    boss = TestClient(app, cookies=session_cookies(app, "boss"))
    conversations = []
    for _ in range(3):
        started = customer.post("/api/conversations", json={"customer_id": "cust-1"})
        conversation = started.json()["id"]
        customer.post(f"/api/conversations/{conversation}/messages", json={"text": ANSWERED})
        conversations.append(conversation)
    answered, waiting, taken = conversations
    for handed_off in (waiting, taken):
        assert customer.post(f"/api/conversations/{handed_off}/handoff").status_code == 200
    assert mei.post(f"/api/agent/conversations/{taken}/claim").status_code == 200
    draft = boss.post("/api/admin/drafts", json={"question": "鯨魚罐頭有賣嗎？", "answer": "沒有"})
    assert draft.status_code == 201, draft.text
    ids = {
        "conversation_id": [answered, waiting, taken],
        "draft_id": [draft.json()["id"]],
        "name": ["shop_faq.xlsx"],
    }
    return Seeded(ids, {c: token_of(customer, c) for c in conversations})


def spec(app: FastAPI, known: dict[str, list[str]]) -> schemathesis.schemas.BaseSchema:
    config = SchemathesisConfig.from_dict(CONFIG)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)

    @schema.hook
    def flatmap_path_parameters(
        context: schemathesis.HookContext, path_parameters: dict[str, Any]
    ) -> st.SearchStrategy[dict[str, Any]]:
        # Random ids only ever reach "not found": some cases get a real one instead, so the
        # fuzzer gets past the lookup into the route's work.
        choices = [path_parameters]
        for name, ids in known.items():
            if name in (path_parameters or {}):
                choices += [{**path_parameters, name: real} for real in ids]
        return st.sampled_from(choices)

    return schema


@pytest.fixture
def seeded(app: FastAPI) -> Seeded:
    return seed(app)


@pytest.fixture
def api(app: FastAPI, seeded: Seeded) -> schemathesis.schemas.BaseSchema:
    return spec(app, seeded.ids)


@pytest.fixture
def tokens(seeded: Seeded) -> dict[str, str]:
    return seeded.tokens


@pytest.fixture
def agent(app: FastAPI) -> dict[str, str]:
    return session_cookies(app, "mei")


@pytest.fixture
def admin(app: FastAPI) -> dict[str, str]:
    return session_cookies(app, "boss")


def call_and_validate(
    case: schemathesis.Case, cookies: dict[str, str], tokens: dict[str, str]
) -> None:
    if case.operation.label == "POST /api/auth/logout":
        cookies = {}  # ending the session would leave the rest of the run anonymous
    headers = {}
    token = tokens.get((case.path_parameters or {}).get("conversation_id", ""))
    if token is not None and case.operation.path.startswith("/api/conversations/"):
        # a real conversation's customer routes get past the token, into the route's work
        headers["Authorization"] = f"Bearer {token}"
    case.call_and_validate(cookies=cookies, headers=headers)


@pytest.fixture(autouse=True)
def node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy loader reads and renames `Node._nodeid`, which pytest 9.2 replaced
    # with a read-only `nodeid` property backed by `_id`: give it the attribute it expects.
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
def test_as_a_customer(case: schemathesis.Case, tokens: dict[str, str]) -> None:
    call_and_validate(case, {}, tokens)


@schema.parametrize()
def test_as_an_agent(
    case: schemathesis.Case, agent: dict[str, str], tokens: dict[str, str]
) -> None:
    call_and_validate(case, agent, tokens)


@schema.parametrize()
def test_as_an_admin(
    case: schemathesis.Case, admin: dict[str, str], tokens: dict[str, str]
) -> None:
    call_and_validate(case, admin, tokens)
