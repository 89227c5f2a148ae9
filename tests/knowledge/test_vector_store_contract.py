"""One contract, every vector store: in-memory, embedded Chroma (searched by Chroma and in this
process's memory) and a real Chroma server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import knowledge.vector_store as vector_store
from knowledge.vector_store import (
    ChromaVectorStore,
    MemoryVectorStore,
    MirroredVectorStore,
    VectorStore,
)


@pytest.fixture(params=["memory", "chroma", "chroma-mirrored", "chroma-http"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VectorStore:
    if request.param == "memory":
        return MemoryVectorStore()
    if request.param == "chroma":
        return ChromaVectorStore.persistent(tmp_path / "chroma")
    if request.param == "chroma-mirrored":
        return MirroredVectorStore(ChromaVectorStore.persistent(tmp_path / "chroma"))
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


# ---- the copy in memory ------------------------------------------------------------------------


def random_unit(rng: np.random.Generator, n: int, dims: int = 16) -> np.ndarray:
    v = rng.normal(size=(n, dims)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_the_copy_in_memory_finds_what_chroma_finds_through_writes_and_a_restart(tmp_path: Path):
    rng = np.random.default_rng(7)
    chroma = ChromaVectorStore.persistent(tmp_path / "chroma")
    mirrored = MirroredVectorStore(chroma)
    ids = [f"i{n}" for n in range(300)]
    mirrored.upsert("e", ids, random_unit(rng, 300), [META] * 300)
    queries = random_unit(rng, 20)

    def same(store: VectorStore) -> None:
        for q in queries:
            mine = store.query("e", q, 10)
            theirs = chroma.query("e", q, 10)
            assert [i for i, _ in mine] == [i for i, _ in theirs]
            np.testing.assert_allclose([s for _, s in mine], [s for _, s in theirs], atol=1e-4)

    same(mirrored)  # the first search reads the collection from Chroma
    # writes after it: replaced, new and deleted vectors
    mirrored.upsert("e", ids[:50], random_unit(rng, 50), [META] * 50)
    mirrored.upsert("e", [f"new{n}" for n in range(40)], random_unit(rng, 40), [META] * 40)
    mirrored.delete("e", ids[100:160])
    assert mirrored.count("e") == 280
    same(mirrored)
    found = {i for q in queries for i, _ in mirrored.query("e", q, 300)}
    assert found == (set(ids) - set(ids[100:160])) | {f"new{n}" for n in range(40)}
    # the stored vectors and which ids are there, from the copy as from Chroma
    asked = [*ids[:5], ids[120], "new3", "never"]
    mine, theirs = mirrored.vectors("e", asked), chroma.vectors("e", asked)
    assert set(mine) == set(theirs) == {*ids[:5], "new3"}
    for i in mine:
        np.testing.assert_allclose(mine[i], theirs[i], atol=1e-6)
    assert mirrored.present("e", asked) == chroma.present("e", asked)
    # another process over the same directory reads the same
    same(MirroredVectorStore(ChromaVectorStore.persistent(tmp_path / "chroma")))


def test_a_collection_beyond_the_limit_is_searched_by_chroma(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_store, "MIRROR_MAX_VECTORS", 10)
    rng = np.random.default_rng(3)
    mirrored = MirroredVectorStore(ChromaVectorStore.persistent(tmp_path / "chroma"))
    mirrored.upsert("small", ["a", "b"], random_unit(rng, 2), [META] * 2)
    mirrored.upsert("large", [f"i{n}" for n in range(20)], random_unit(rng, 20), [META] * 20)
    q = random_unit(rng, 1)[0]
    assert len(mirrored.query("small", q, 5)) == 2
    assert len(mirrored.query("large", q, 5)) == 5
    assert mirrored._mirrors["large"] is None and mirrored._mirrors["small"] is not None
    # a copy that grows past the limit is given up
    mirrored.upsert("small", [f"s{n}" for n in range(20)], random_unit(rng, 20), [META] * 20)
    assert mirrored._mirrors["small"] is None
    assert len(mirrored.query("small", q, 30)) == 22
