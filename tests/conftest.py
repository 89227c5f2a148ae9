"""Shared fixtures: temporary data dirs and the fast in-memory knowledge base."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEMO_FILES = REPO / "knowledge" / "demo" / "files"
SHARED_DATASETS = Path(os.environ.get("KEFU_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture
def hashing_kb(tmp_path: Path):
    from knowledge.base import KnowledgeBase
    from knowledge.embedding import HashingEmbedder

    return KnowledgeBase.in_memory([HashingEmbedder()], tmp_path)


# The shared Redis of the tests; each test keeps to a key prefix of its own (pub/sub channels
# ignore the db number, so the prefix is what keeps tests apart).
REDIS_URL = os.environ.get("KEFU_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A prefix of the test's own for keys and channels on the tests' Redis, whose keys are
    deleted afterwards; fails the test, never skips it, when Redis does not answer."""
    import uuid

    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(
            f"Redis at {REDIS_URL} does not answer ({error}); start one or set KEFU_TEST_REDIS",
            pytrace=False,
        )
    prefix = f"kefu-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


class RedisServer:
    """A Redis server of a test's own (keeping nothing on disk), to stop and start again."""

    def __init__(self, folder: Path) -> None:
        import shutil

        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (Debian: apt-get install redis-server)"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self._command += ["--dir", str(folder)]
        self._procs: list[subprocess.Popen] = []

    def start(self) -> None:
        import time

        import redis

        self._procs.append(subprocess.Popen(self._command, stdout=subprocess.DEVNULL))
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        """Ends the server (its data gone, as after a restart without persistence)."""
        self._procs[-1].terminate()
        self._procs[-1].wait(10)

    def close(self) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait(10)


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.close()


# Handoffs queue whether or not an agent is online (tests that are not about the offline path)
QUEUE_ALWAYS = {"KEFU_DESK__WHEN_NOBODY_AVAILABLE": "queue"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc, timeout: float = 120) -> None:
    """Poll `url` until it answers 200, failing early if the server process died."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server behind {url} did not start")
        time.sleep(0.3)


KEFU = [sys.executable, "-m", "bot.cli"]


@contextmanager
def kefu_server(
    data_dir: Path, stop_within: float = 30, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """`kefu serve` on `data_dir` in a process of its own (`settings`: KEFU_ variables for it);
    yields its URL. Stopping it is part of the test: a server that does not exit within
    `stop_within` s of SIGTERM fails it."""
    port = free_port()
    proc = subprocess.Popen(
        [*KEFU, "serve", "--data-dir", str(data_dir), "--port", str(port)],
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(settings or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/health", proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_within)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            pytest.fail(f"kefu serve did not stop within {stop_within:g} s of SIGTERM")


READY = "ingested.ok"


def ingested_once(base: Path) -> Path:
    """The demo shop ingested by `kefu ingest` with the real models, once per test run: xdist
    workers share the run's base temp dir and take turns on a lock (pytest 9 with xdist 3.8
    ignores xdist_group, so every worker may get some of these tests)."""
    import shutil

    from filelock import FileLock

    built = base / "demo-real-models"
    with FileLock(str(base / "demo-real-models.lock")):
        if not (built / READY).is_file():
            shutil.rmtree(built, ignore_errors=True)
            done = subprocess.run(
                [*KEFU, "ingest", str(DEMO_FILES), "--data-dir", str(built)],
                capture_output=True,
                text=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
                timeout=900,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            (built / READY).touch()
    return built


def ingested_demo_copy(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A data dir of its own holding the ingested demo shop (a Chroma directory belongs to one
    process, so each server or test module gets a copy of the run's one build)."""
    import shutil

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's, shared by the workers
    data = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(ingested_once(base), data, ignore=shutil.ignore_patterns(READY))
    return data


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on a folder of its own, for the module; its URL."""
    import shutil

    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/v2/heartbeat", proc, timeout=60)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
