"""One contract, every vector store: in-memory, embedded Chroma and a real Chroma server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from knowledge.vector_store import ChromaVectorStore, MemoryVectorStore, VectorStore
from tests.conftest import free_port, wait_until_up


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
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


@pytest.fixture(params=["memory", "chroma", "chroma-http"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VectorStore:
    if request.param == "memory":
        return MemoryVectorStore()
    if request.param == "chroma":
        return ChromaVectorStore.persistent(tmp_path / "chroma")
    url = request.getfixturevalue("chroma_server")
    # a fresh prefix per test keeps tests on the shared server apart
    return ChromaVectorStore.http(url, prefix=f"t{abs(hash(request.node.name)) % 10**8}")


def unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


META = {"source": "s", "locator": "row=1", "language": "en", "hash": "h"}


def test_query_ranks_by_cosine_similarity(store: VectorStore):
    vectors = np.vstack([unit([1, 0, 0]), unit([1, 1, 0]), unit([0, 0, 1])])
    store.upsert("e", ["x", "y", "z"], vectors, [META] * 3)
    hits = store.query("e", unit([1, 0.1, 0]), 2)
    assert [h[0] for h in hits] == ["x", "y"]
    assert hits[0][1] == pytest.approx(float(unit([1, 0.1, 0]) @ unit([1, 0, 0])), abs=1e-4)


def test_upsert_replaces_and_delete_removes(store: VectorStore):
    store.upsert("e", ["x"], np.vstack([unit([1, 0])]), [META])
    store.upsert("e", ["x"], np.vstack([unit([0, 1])]), [META])
    assert store.count("e") == 1
    np.testing.assert_allclose(store.vectors("e", ["x"])["x"], unit([0, 1]), atol=1e-6)
    store.delete("e", ["x", "not-there"])
    assert store.count("e") == 0
    assert store.query("e", unit([0, 1]), 3) == []


def test_present_and_vectors_ignore_unknown_ids(store: VectorStore):
    store.upsert("e", ["a", "b"], np.vstack([unit([1, 0]), unit([0, 1])]), [META] * 2)
    assert store.present("e", ["a", "zzz"]) == {"a"}
    assert set(store.vectors("e", ["b", "zzz"])) == {"b"}


def test_collections_are_separate(store: VectorStore):
    store.upsert("one", ["a"], np.vstack([unit([1, 0])]), [META])
    assert store.count("two") == 0
    assert store.query("two", unit([1, 0]), 1) == []
