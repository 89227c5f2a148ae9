"""One contract, every vector store: in-memory, embedded Chroma and a real Chroma server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.vector_store import ChromaVectorStore, MemoryVectorStore, VectorStore


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
