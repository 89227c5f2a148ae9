"""Knowledge shared by workers that keep nothing of it: three real uvicorn workers, each with an
empty data directory, on one PostgreSQL, Redis and Chroma server. A file an admin uploads
through one worker is ingested once, its progress read through another, and a third answers
from it; a replacement uploaded through yet another worker is what all of them answer next."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import httpx
import pytest

from bot.access.accounts import Accounts, Role
from bot.answering.refusal import CATALOG_KEY, RefusalModel
from knowledge.catalog import Catalog
from tests.bot.api.conftest import SIMILARITY
from tests.conftest import QUEUE_ALWAYS, RedisServer
from tests.customer_tokens import as_customer
from tests.integration.test_workers import (  # noqa: F401 (fixtures)
    PASSWORD,
    agent,
    redis,
    shared,
    wait_ready,
    worker,
)

pytestmark = pytest.mark.integration

QUESTION = "月球可以寄嗎？"
FIRST = "可以，月球運費另計。"
SECOND = "可以，月球運費一律 999 元。"


def faq(answer: str) -> bytes:
    return f"問題,答案\n{QUESTION},{answer}\n營業時間是幾點？,每天早上九點到晚上九點。\n".encode()


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory,
    shared: tuple[str, str],  # noqa: F811
    redis: RedisServer,  # noqa: F811
    chroma_server: str,
) -> Iterator[list[str]]:
    """Three workers with empty data directories; the admin boss exists, and the refusal model
    fitted for the hashing embedder is kept in the shared catalog (as `kefu-eval refusal
    --save` leaves it once a worker has read it)."""
    from bot.conversation.sql import SqlConversationStore

    database_url, prefix = shared
    store = SqlConversationStore(database_url)  # the schema, before the workers race for it
    Accounts(store.engine).add("boss", PASSWORD, Role.ADMIN, "Boss")
    Catalog(store.engine).set_meta(
        CATALOG_KEY, RefusalModel({"zh": SIMILARITY, "en": SIMILARITY}).to_json()
    )
    store.close()
    env = {
        "KEFU_DATABASE_URL": database_url,
        "KEFU_REDIS_URL": redis.url,
        "KEFU_REDIS_PREFIX": prefix,
        "KEFU_CHROMA_URL": chroma_server,
        "KEFU_ACCESS__CONVERSATION_RATE_LIMIT": "1000/minute",
        **QUEUE_ALWAYS,
    }
    folder = tmp_path_factory.mktemp("empty-workers")
    with ExitStack() as stack:
        started = []
        for n in range(3):
            data = folder / f"worker{n}"  # empty: nothing of the knowledge is local
            log = folder / f"worker{n}.log"
            started.append((*stack.enter_context(worker(data, env, log)), log))
        for url, proc, log in started:
            wait_ready(url, proc, log)
        yield [url for url, _, _ in started]


def ingested(admin: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while (job := admin.get(f"/api/admin/ingest/{job_id}").json())["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    return job


def ask(url: str, question: str) -> dict:
    with as_customer(httpx.Client(base_url=url, timeout=30)) as customer:
        conversation_id = customer.post("/api/conversations").json()["id"]
        turn = customer.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": question}
        )
        assert turn.status_code == 200, turn.text
        return turn.json()


def answered_everywhere(urls: list[str], answer: str, within: float) -> None:
    """Every worker answers QUESTION with `answer` within `within` seconds."""
    for url in urls:
        deadline = time.monotonic() + within
        while True:
            turn = ask(url, QUESTION)
            if turn["status"] == "answered" and turn["reply"] == answer:
                break
            assert time.monotonic() < deadline, (url, turn)
            time.sleep(0.2)


def test_an_upload_through_one_worker_is_answered_by_the_others(
    workers: list[str], tmp_path: Path
) -> None:
    a, b, c = workers
    assert ask(b, QUESTION)["status"] != "answered"  # nothing is known yet
    with closing(agent(a, "boss")) as on_a, closing(agent(c, "boss")) as on_c:
        uploaded = on_a.post(
            "/api/admin/sources", files={"file": ("moon.csv", faq(FIRST), "text/csv")}
        )
        assert uploaded.status_code == 202, uploaded.text
        job = ingested(on_c, uploaded.json()["job"]["id"])  # its progress, read through c
        assert job["state"] == "done", job
        assert [(f["source"], f["added"]) for f in job["files"]] == [("moon.csv", 2)]
        answered_everywhere([b, c, a], FIRST, within=5)
        turn = ask(b, QUESTION)
        assert turn["citations"][0]["label"] == QUESTION

        # the file replaced through c: every worker answers from the new version
        replaced = on_c.post(
            "/api/admin/sources",
            params={"replace": "true"},
            files={"file": ("moon.csv", faq(SECOND), "text/csv")},
        )
        assert replaced.status_code == 202, replaced.text
        job = ingested(on_a, replaced.json()["job"]["id"])
        assert job["state"] == "done", job
        answered_everywhere([a, b, c], SECOND, within=5)
        sources = on_a.get("/api/admin/sources").json()["sources"]
        assert [(s["name"], s["items"]) for s in sources] == [("moon.csv", 2)]
