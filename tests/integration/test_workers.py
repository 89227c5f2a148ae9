"""Several kefu workers, as behind a load balancer: three real uvicorn processes with empty
data directories, sharing PostgreSQL, Redis and a Chroma server. A customer's message posted to
one worker reaches an agent's console stream on another at once (not on the 15 s poll), the
queue moves on every console, of agents claiming one conversation on different workers at once
exactly one gets it, and the streams recover after Redis restarts, with what was written
meanwhile; a picture sent through one worker is served by the other; a knowledge file uploaded
through one worker is ingested once, followed through another, answered from and downloaded
through all of them, and so is its replacement; a worker stopped by SIGTERM finishes the turn under
way and ends its streams at once (a turn longer than the grace does not hold it); a worker
killed mid-conversation loses nothing it acknowledged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bot.access.accounts import Accounts, Role
from bot.answering.refusal import CATALOG_KEY, RefusalModel
from knowledge.base import KnowledgeBase
from knowledge.embedding import HashingEmbedder
from knowledge.ingestion import ingest_paths
from tests.bot.api.conftest import SIMILARITY
from tests.bot.attachments.pictures import picture
from tests.conftest import DEMO_FILES, QUEUE_ALWAYS, RedisServer, free_port, redis_server
from tests.customer_tokens import as_customer, token_of

pytestmark = pytest.mark.integration

PASSWORD = "a long enough password"
LIVE_S = 3.0  # "at once": far below the streams' 15 s poll


@pytest.fixture(scope="module")
def knowledge(
    tmp_path_factory: pytest.TempPathFactory, shared: tuple[str, str], chroma_server: str
) -> dict[str, str]:
    """The demo knowledge, ingested into the shared database's catalog and the Chroma server,
    with the refusal model fitted for the hashing embedder kept in the catalog: the settings a
    worker with an empty data directory needs to serve it."""
    from bot.conversation.sql import SqlConversationStore

    database_url, _ = shared
    store = SqlConversationStore(database_url)  # the schema, before the workers race for it
    kb = KnowledgeBase.open(
        tmp_path_factory.mktemp("ingesting"),
        [HashingEmbedder("e5")],
        chroma_url=chroma_server,
        engine=store.engine,
    )
    assert ingest_paths(kb, [DEMO_FILES]).ok
    kb.catalog.set_meta(CATALOG_KEY, RefusalModel({"zh": SIMILARITY, "en": SIMILARITY}).to_json())
    store.close()
    return {"KEFU_DATABASE_URL": database_url, "KEFU_CHROMA_URL": chroma_server}


@contextmanager
def worker(
    data_dir: Path, env: dict[str, str], log: Path
) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.hashing_worker", "--port", str(port)],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "KEFU_DATA_DIR": str(data_dir), **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"worker {url} not ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def shared(postgres_admin: str) -> Iterator[tuple[str, str]]:
    """A PostgreSQL database for this module's workers (removed after) and a Redis prefix."""
    import uuid

    import psycopg
    from psycopg import sql

    name = f"kefu_test_{uuid.uuid4().hex[:16]}"
    prefix = f"kefu-test-{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(postgres_admin)
    url = (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@"
        f"{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{name}"
    )
    try:
        yield url, prefix
    finally:
        with psycopg.connect(postgres_admin, dbname="postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


class Workers(list[str]):
    """The workers' URLs; `procs` their processes, in the same order."""

    def __init__(self, started: list[tuple[str, subprocess.Popen, Path]]) -> None:
        super().__init__(url for url, _, _ in started)
        self.procs = [proc for _, proc, _ in started]


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The workers' Redis: a server of this module's own, to restart."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def workers(
    knowledge: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    shared: tuple[str, str],
    redis: RedisServer,
) -> Iterator[Workers]:
    """Three workers with empty data directories on one PostgreSQL database, one Redis and one
    Chroma server; agents mei, jun and lan exist."""
    from bot.conversation.sql import SqlConversationStore

    database_url, prefix = shared
    store = SqlConversationStore(database_url)
    accounts = Accounts(store.engine)
    for name in ("mei", "jun", "lan"):
        accounts.add(name, PASSWORD, Role.AGENT, name.title())
    store.close()
    env = {
        **knowledge,
        "KEFU_REDIS_URL": redis.url,
        "KEFU_REDIS_PREFIX": prefix,
        "KEFU_ACCESS__CONVERSATION_RATE_LIMIT": "1000/minute",
        **QUEUE_ALWAYS,
    }
    folder = tmp_path_factory.mktemp("workers")
    with ExitStack() as stack:
        started = []
        for n in range(3):
            data = folder / f"worker{n}"  # empty: nothing a worker keeps on disk matters
            log = folder / f"worker{n}.log"
            started.append((*stack.enter_context(worker(data, env, log)), log))
        for url, proc, log in started:
            wait_ready(url, proc, log)
        yield Workers(started)


def agent(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def ws(url: str, path: str, session: httpx.Client | None = None) -> ClientConnection:
    headers = {}
    if session is not None:
        headers["Cookie"] = f"kefu_session={session.cookies['kefu_session']}"
    return connect(
        url.replace("http://", "ws://") + path, additional_headers=headers, open_timeout=10
    )


def receive_until(conn: ClientConnection, wanted, timeout: float) -> dict[str, Any]:
    """The first message for which `wanted(message)` holds, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "nothing of the kind arrived in time"
        message = json.loads(conn.recv(timeout=left))
        if wanted(message):
            return message


def test_a_message_on_one_worker_is_seen_live_on_another(workers: list[str]) -> None:
    a, b = workers[:2]
    with (
        as_customer(httpx.Client(base_url=a, timeout=30)) as customer,
        closing(agent(b, "mei")) as mei,
    ):
        conversation_id = customer.post("/api/conversations").json()["id"]
        token = token_of(customer, conversation_id)
        path = f"/api/agent/conversations/{conversation_id}/events"
        with (
            ws(b, path, mei) as console,
            ws(b, f"/api/conversations/{conversation_id}/events?token={token}") as widget_on_b,
        ):
            receive_until(console, lambda m: m.get("kind") == "conversation_started", 10)
            receive_until(widget_on_b, lambda m: m.get("kind") == "conversation_started", 10)
            sent = time.monotonic()
            posted = customer.post(
                f"/api/conversations/{conversation_id}/messages", json={"text": "退貨要怎麼申請？"}
            )
            assert posted.status_code == 200, posted.text
            seen = receive_until(console, lambda m: m.get("kind") == "customer_messaged", LIVE_S)
            assert seen["data"]["text"] == "退貨要怎麼申請？"
            receive_until(console, lambda m: m.get("kind", "").startswith("turn_"), LIVE_S)
            # the customer's widget, connected to the other worker, gets the answer too
            receive_until(widget_on_b, lambda m: m.get("kind", "").startswith("turn_"), LIVE_S)
            assert time.monotonic() - sent < LIVE_S

            # a person asked for on a, claimed on b: the queue and the widget on b move at once
            with ws(b, "/api/agent/queue/events", mei) as queue:
                receive_until(queue, lambda m: m.get("kind") == "queue", 10)
                assert customer.post(f"/api/conversations/{conversation_id}/handoff").is_success
                waiting = receive_until(
                    queue,
                    lambda m: (
                        m.get("kind") == "queue"
                        and any(e["id"] == conversation_id for e in m["data"]["conversations"])
                    ),
                    LIVE_S,
                )
                assert waiting
            claimed = mei.post(f"/api/agent/conversations/{conversation_id}/claim")
            assert claimed.status_code == 200, claimed.text
            receive_until(
                widget_on_b,
                lambda m: (
                    m.get("kind") == "status_changed" and m["data"]["to_status"] == "with_agent"
                ),
                LIVE_S,
            )


def test_an_agent_online_on_one_worker_is_online_for_the_others(workers: list[str]) -> None:
    a, b = workers[:2]
    with closing(agent(a, "lan")) as lan, closing(agent(b, "jun")) as jun:
        agents = jun.get("/api/agent/agents").json()["agents"]
        assert not any(x["username"] == "lan" and x["online"] for x in agents)
        with ws(a, "/api/agent/queue/events", lan):
            deadline = time.monotonic() + LIVE_S
            while True:
                agents = jun.get("/api/agent/agents").json()["agents"]
                if any(x["username"] == "lan" and x["online"] for x in agents):
                    break
                assert time.monotonic() < deadline, agents
                time.sleep(0.1)


def test_a_claim_race_across_workers_has_one_winner(workers: list[str]) -> None:
    places = (workers[0], workers[1], workers[2])  # three agents, on three workers
    sessions = [agent(url, name) for url, name in zip(places, ("mei", "jun", "lan"), strict=True)]
    try:
        with as_customer(httpx.Client(base_url=workers[0], timeout=30)) as customer:
            for _ in range(5):
                conversation_id = customer.post("/api/conversations").json()["id"]
                assert customer.post(f"/api/conversations/{conversation_id}/handoff").is_success
                start = threading.Barrier(len(sessions))
                codes: dict[str, int] = {}

                def claim(
                    session: httpx.Client,
                    name: str,
                    cid: str = conversation_id,
                    start: threading.Barrier = start,
                    codes: dict[str, int] = codes,
                ) -> None:
                    start.wait(10)
                    codes[name] = session.post(f"/api/agent/conversations/{cid}/claim").status_code

                threads = [
                    threading.Thread(target=claim, args=(s, n))
                    for s, n in zip(sessions, ("mei", "jun", "lan"), strict=True)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(30)
                assert sorted(codes.values()) == [200, 409, 409], codes
                winner = next(n for n, code in codes.items() if code == 200)
                view = sessions[1].get(f"/api/agent/conversations/{conversation_id}").json()
                assert view["conversation"]["agent_name"] == winner.title(), view
    finally:
        for session in sessions:
            session.close()


def test_streams_recover_after_redis_restarts_and_miss_nothing(
    workers: list[str], redis: RedisServer
) -> None:
    a, b = workers[:2]
    with (
        as_customer(httpx.Client(base_url=a, timeout=30)) as customer,
        closing(agent(b, "jun")) as jun,
    ):
        conversation_id = customer.post("/api/conversations").json()["id"]
        path = f"/api/agent/conversations/{conversation_id}/events"
        with ws(b, path, jun) as console:
            receive_until(console, lambda m: m.get("kind") == "conversation_started", 10)
            redis.stop()
            # customers are served while Redis is away; the console on b cannot hear of it
            during = customer.post(
                f"/api/conversations/{conversation_id}/messages", json={"text": "運費多少？"}
            )
            assert during.status_code == 200, during.text
            redis.start()
            seen = receive_until(console, lambda m: m.get("kind") == "customer_messaged", 15)
            assert seen["data"]["text"] == "運費多少？"
            receive_until(console, lambda m: m.get("kind", "").startswith("turn_"), 10)
            # and live again as before
            after = customer.post(
                f"/api/conversations/{conversation_id}/messages", json={"text": "退貨要怎麼申請？"}
            )
            assert after.status_code == 200, after.text
            seen = receive_until(console, lambda m: m.get("kind") == "customer_messaged", LIVE_S)
            assert seen["data"]["text"] == "退貨要怎麼申請？"
        for url in workers:
            deadline = time.monotonic() + 15
            while httpx.get(f"{url}/readyz", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, f"{url} not ready again after Redis restarted"
                time.sleep(0.2)


def test_a_picture_sent_through_one_worker_is_served_by_another(workers: list[str]) -> None:
    a, b = workers[:2]
    photo, reply = picture("jpeg", (32, 24)), picture("png", (12, 8))
    with (
        as_customer(httpx.Client(base_url=a, timeout=30)) as customer,
        closing(agent(b, "jun")) as jun,
    ):
        conversation_id = customer.post("/api/conversations").json()["id"]
        sent = customer.post(f"/api/conversations/{conversation_id}/images", content=photo)
        assert sent.status_code == 201, sent.text
        attachment = sent.json()["data"]["attachment_id"]
        served = jun.get(f"/api/agent/conversations/{conversation_id}/attachments/{attachment}")
        assert served.status_code == 200, served.text
        assert served.content == photo and served.headers["content-type"] == "image/jpeg"
        # and back: the agent's picture, sent through b, reaches the customer through a
        assert customer.post(f"/api/conversations/{conversation_id}/handoff").is_success
        assert jun.post(f"/api/agent/conversations/{conversation_id}/claim").status_code == 200
        answered = jun.post(f"/api/agent/conversations/{conversation_id}/images", content=reply)
        assert answered.status_code == 201, answered.text
        reply_id = answered.json()["data"]["attachment_id"]
        back = customer.get(f"/api/conversations/{conversation_id}/attachments/{reply_id}")
        assert back.status_code == 200 and back.content == reply
        assert back.headers["content-type"] == "image/png"


TURN_S = 3.0  # how long the stopped worker's turns take (KEFU_TEST_TURN_DELAY_S)


def closed_within(conn: ClientConnection, seconds: float) -> int:
    """The close code of a stream that ends within `seconds` (what else arrives is skipped)."""
    deadline = time.monotonic() + seconds
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "the stream stayed open"
            conn.recv(timeout=left)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


@contextmanager
def slow_worker(
    knowledge: dict[str, str],
    tmp_path: Path,
    shared: tuple[str, str],
    redis: RedisServer,
    turn_s: float,
    **env: str,
) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """One more worker on the shared database and Redis, whose turns take `turn_s`."""
    _, prefix = shared
    env = {
        **knowledge,
        "KEFU_REDIS_URL": redis.url,
        "KEFU_REDIS_PREFIX": prefix,
        "KEFU_TEST_TURN_DELAY_S": str(turn_s),
        **QUEUE_ALWAYS,
        **env,
    }
    data, log = tmp_path / "data", tmp_path / "worker.log"
    with worker(data, env, log) as (url, proc):
        wait_ready(url, proc, log)
        yield url, proc, log


def test_a_worker_stopped_by_sigterm_finishes_its_turn_and_lets_its_streams_go(
    workers: list[str],
    knowledge: dict[str, str],
    tmp_path: Path,
    shared: tuple[str, str],
    redis: RedisServer,
) -> None:
    """As on a deploy: the turn under way gets its reply, the widget's and the console's
    streams end at once (to reconnect to another worker), and the process is gone soon after
    the turn."""
    with (
        slow_worker(knowledge, tmp_path, shared, redis, TURN_S) as (url, proc, log),
        as_customer(httpx.Client(base_url=url, timeout=30)) as customer,
        closing(agent(url, "lan")) as lan,
    ):
        conversation_id = customer.post("/api/conversations").json()["id"]
        token = token_of(customer, conversation_id)
        with (
            ws(url, f"/api/conversations/{conversation_id}/events?token={token}") as widget,
            ws(url, "/api/agent/queue/events", lan) as queue,
        ):
            receive_until(widget, lambda m: m.get("kind") == "conversation_started", 10)
            receive_until(queue, lambda m: m.get("kind") == "queue", 10)
            replies: list[httpx.Response] = []
            path = f"/api/conversations/{conversation_id}/messages"
            asking = threading.Thread(
                target=lambda: replies.append(customer.post(path, json={"text": "運費多少？"}))
            )
            asking.start()
            # the message is logged: the turn is under way for TURN_S
            receive_until(widget, lambda m: m.get("kind") == "customer_messaged", 10)
            stopping = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            # 1012 "service restart": the widget and the console reconnect elsewhere
            assert closed_within(widget, 2.0) == 1012
            assert closed_within(queue, 2.0) == 1012
            assert time.monotonic() - stopping < 2.0
            asking.join(TURN_S + 10)
        [reply] = replies
        assert reply.status_code == 200, reply.text
        turn = reply.json()
        assert turn["status"] in ("answered", "clarifying", "refused") and turn["reply"]
        proc.wait(TURN_S + 5)
        assert time.monotonic() - stopping < TURN_S + 5
        # uvicorn ends by raising the signal it caught again: SIGTERM, after a clean stop
        assert proc.returncode in (0, -signal.SIGTERM), log.read_text()[-3000:]
        assert "Application shutdown complete" in log.read_text()
    # the reply the stopped worker gave is in the log every worker reads
    with httpx.Client(base_url=workers[1], timeout=30) as other:
        other.headers["Authorization"] = f"Bearer {token}"
        logged = other.get(f"/api/conversations/{conversation_id}").json()["events"]
        assert logged[-1]["seq"] == turn["turn_seq"] and logged[-1]["kind"].startswith("turn_")


def test_a_turn_longer_than_the_grace_does_not_hold_the_worker(
    workers: list[str],
    knowledge: dict[str, str],
    tmp_path: Path,
    shared: tuple[str, str],
    redis: RedisServer,
) -> None:
    """A turn that outlasts KEFU_SHUTDOWN_GRACE_S is given up: the worker stops at the end of
    the grace, and the customer's message stays logged (a worker answers it when it next
    starts: conversation.answer_unanswered_minutes)."""
    stuck_s = 30.0
    with (
        slow_worker(knowledge, tmp_path, shared, redis, stuck_s, KEFU_SHUTDOWN_GRACE_S="1") as (
            url,
            proc,
            log,
        ),
        as_customer(httpx.Client(base_url=url, timeout=60)) as customer,
    ):
        conversation_id = customer.post("/api/conversations").json()["id"]
        token = token_of(customer, conversation_id)
        path = f"/api/conversations/{conversation_id}/messages"
        outcome: list[object] = []

        def ask() -> None:
            try:
                outcome.append(customer.post(path, json={"text": "運費多少？"}))
            except httpx.HTTPError as error:
                outcome.append(error)

        asking = threading.Thread(target=ask)
        asking.start()
        with ws(url, f"/api/conversations/{conversation_id}/events?token={token}") as widget:
            receive_until(widget, lambda m: m.get("kind") == "customer_messaged", 10)
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        assert time.monotonic() - stopping < 6, log.read_text()[-3000:]
        asking.join(10)
        # the request under way is ended (a server error, or the connection dropped)
        [ended] = outcome
        assert not isinstance(ended, httpx.Response) or ended.status_code >= 500
    with httpx.Client(base_url=workers[1], timeout=30) as other:
        other.headers["Authorization"] = f"Bearer {token}"
        logged = other.get(f"/api/conversations/{conversation_id}").json()["events"]
        assert logged[-1]["kind"] == "customer_messaged"


QUESTION = "月球可以寄嗎？"
FIRST = "可以，月球運費另計。"
SECOND = "可以，月球運費一律 999 元。"


def moon_faq(answer: str) -> bytes:
    return f"問題,答案\n{QUESTION},{answer}\n月球站營業時間？,每天早上九點到晚上九點。\n".encode()


def ingested(admin: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (job := admin.get(f"/api/admin/ingest/{job_id}").json())["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    return job


def ask(url: str, question: str) -> dict[str, Any]:
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
    workers: Workers, shared: tuple[str, str]
) -> None:
    from bot.conversation.sql import SqlConversationStore

    store = SqlConversationStore(shared[0])
    Accounts(store.engine).add("boss", PASSWORD, Role.ADMIN, "Boss")
    store.close()
    a, b, c = workers
    assert ask(b, QUESTION)["status"] != "answered"  # nothing is known of it yet
    with closing(agent(a, "boss")) as on_a, closing(agent(c, "boss")) as on_c:
        data = moon_faq(FIRST)
        uploaded = on_a.post("/api/admin/sources", files={"file": ("moon.csv", data, "text/csv")})
        assert uploaded.status_code == 202, uploaded.text
        job_id = uploaded.json()["job"]["id"]
        job = ingested(on_c, job_id)  # its progress, followed through c
        assert job["state"] == "done", job
        assert [(f["source"], f["outcome"], f["added"]) for f in job["files"]] == [
            ("moon.csv", "added", 2)
        ]
        assert on_a.get("/api/admin/ingest").json()["jobs"][0]["id"] == job_id
        answered_everywhere([b, c, a], FIRST, within=5)
        assert ask(b, QUESTION)["citations"][0]["label"] == QUESTION
        for admin in (on_a, on_c):
            downloaded = admin.get("/api/admin/sources/moon.csv/file")
            assert downloaded.status_code == 200 and downloaded.content == data
            assert downloaded.headers["content-type"].startswith("text/csv")

        # the file replaced through c: every worker answers from the new version
        replaced = on_c.post(
            "/api/admin/sources",
            params={"replace": "true"},
            files={"file": ("moon.csv", moon_faq(SECOND), "text/csv")},
        )
        assert replaced.status_code == 202, replaced.text
        job = ingested(on_a, replaced.json()["job"]["id"])
        assert job["state"] == "done", job
        answered_everywhere([a, b, c], SECOND, within=5)
        moon = [
            s for s in on_a.get("/api/admin/sources").json()["sources"] if s["name"] == "moon.csv"
        ]
        assert [(s["items"], s["status"]) for s in moon] == [(2, "ok")]


def test_a_worker_killed_mid_conversation_loses_nothing_it_acknowledged(workers: Workers) -> None:
    """Runs last: it kills the first worker."""
    a, b = workers[:2]
    with as_customer(httpx.Client(base_url=a, timeout=30)) as on_a:
        conversation_id = on_a.post("/api/conversations").json()["id"]
        token = token_of(on_a, conversation_id)
        acknowledged = on_a.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": "退貨要怎麼申請？"}
        )
        assert acknowledged.status_code == 200, acknowledged.text
        workers.procs[0].send_signal(signal.SIGKILL)
        workers.procs[0].wait(10)
    with httpx.Client(base_url=b, timeout=30, headers={"Authorization": f"Bearer {token}"}) as on_b:
        path = f"/api/conversations/{conversation_id}"
        kinds = [e["kind"] for e in on_b.get(path).json()["events"]]
        assert kinds[:2] == ["conversation_started", "customer_messaged"]
        assert kinds[2].startswith("turn_")  # the answer a gave is kept too
        again = on_b.post(f"{path}/messages", json={"text": "運費多少？"})
        assert again.status_code == 200, again.text
        texts = [e["data"].get("text") for e in on_b.get(path).json()["events"]]
        assert texts.count("運費多少？") == 1 and texts.count("退貨要怎麼申請？") == 1
