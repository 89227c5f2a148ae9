"""Packaged encoder weights as ONNX models (fp32, or int8 by dynamic quantisation), built once
into a cache and checked on every load.

The graph is written directly from the weights (no torch, nothing downloaded): embeddings,
BERT layers on ONNX Runtime's fused CPU operators (Attention, SkipLayerNormalization,
BiasGelu) and mean pooling over the attention mask. Its output `pooled` is not normalised:
callers average a long text's windows first, as the packaged engines do.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from knowledge.packaged_weights import BertWeights, PackagedEncoder, Q4Table

if TYPE_CHECKING:
    from onnx import ModelProto

log = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]
# Bump when the graph or the quantisation changes: caches of the old form are then rebuilt.
GRAPH_FORMAT = 1


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kefu" / "encoders"


def bert_graph(w: BertWeights, name: str) -> ModelProto:
    """The ONNX model: inputs input_ids, attention_mask [batch, tokens] (int64); output pooled
    [batch, hidden], the mean of the last layer's states over the tokens the mask keeps."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], out: str, domain: str = "", **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    h = w.hidden
    if isinstance(w.word, Q4Table):
        # 4-bit rows stay packed in the model (54 MB instead of 384 MB for e5's 250k pieces)
        # and only the looked-up rows are unpacked: (nibble - 8) * block scale.
        packed = node("Gather", [const("word.nibbles", w.word.nibbles), "input_ids"], "w.packed")
        low = node("BitwiseAnd", [packed, const("c.15", np.array(15, np.uint8))], "w.low")
        high = node(
            "BitShift", [packed, const("c.4", np.array(4, np.uint8))], "w.high", direction="RIGHT"
        )
        nibbles = node("Concat", [low, high], "w.nibbles", axis=-1)
        as_float = node("Cast", [nibbles], "w.float", to=TensorProto.FLOAT)
        centred = node("Sub", [as_float, const("c.8", np.array(8, np.float32))], "w.centred")
        scales = node("Gather", [const("word.scales", w.word.scales), "input_ids"], "w.scales")
        blocks = node("Mul", [centred, scales], "w.blocks")
        word = node("Reshape", [blocks, const("c.shape", np.array([0, 0, h]))], "w.rows")
    else:
        word = node("Gather", [const("word", w.word), "input_ids"], "w.rows")
    length = node("Shape", ["input_ids"], "length", start=1, end=2)
    first = const("c.0", np.array([0]))
    position = node("Slice", [const("position", w.position), first, length, first], "pos.rows")
    summed = node("Add", [node("Add", [word, position], "e.sum"), const("type", w.token_type)], "e")
    x = node(
        "LayerNormalization",
        [summed, const("emb.ln.w", w.embedding_norm[0]), const("emb.ln.b", w.embedding_norm[1])],
        "x.emb",
        epsilon=w.eps,
        axis=-1,
    )
    mask = node("Cast", ["attention_mask"], "mask.i32", to=TensorProto.INT32)
    ms = "com.microsoft"
    for i, ly in enumerate(w.layers):
        p = f"l{i}."
        qkv = const(p + "qkv", np.concatenate([ly.q, ly.k, ly.v], axis=1))
        qkv_bias = const(p + "qkv.b", np.concatenate([ly.q_bias, ly.k_bias, ly.v_bias]))
        context = node("Attention", [x, qkv, qkv_bias, mask], p + "ctx", ms, num_heads=w.heads)
        attended = node("MatMul", [context, const(p + "ao", ly.attention_out)], p + "ao.mm")
        x = node(
            "SkipLayerNormalization",
            [attended, x, const(p + "aln.w", ly.attention_norm[0]),
             const(p + "aln.b", ly.attention_norm[1]), const(p + "ao.b", ly.attention_out_bias)],
            p + "x.att", ms, epsilon=w.eps,
        )  # fmt: skip
        mid = node("MatMul", [x, const(p + "fi", ly.ffn_in)], p + "fi.mm")
        mid = node("BiasGelu", [mid, const(p + "fi.b", ly.ffn_in_bias)], p + "gelu", ms)
        out = node("MatMul", [mid, const(p + "fo", ly.ffn_out)], p + "fo.mm")
        x = node(
            "SkipLayerNormalization",
            [out, x, const(p + "oln.w", ly.output_norm[0]), const(p + "oln.b", ly.output_norm[1]),
             const(p + "fo.b", ly.ffn_out_bias)],
            p + "x.out", ms, epsilon=w.eps,
        )  # fmt: skip
    weight = node("Cast", [node("Unsqueeze", ["attention_mask", const("c.ax2", np.array([2]))],
                                "mask.3d")], "mask.f", to=TensorProto.FLOAT)  # fmt: skip
    axis1 = const("c.ax1", np.array([1]))
    total = node("ReduceSum", [node("Mul", [x, weight], "kept"), axis1], "total", keepdims=0)
    count = node("ReduceSum", [weight, axis1], "count", keepdims=0)
    count = node("Max", [count, const("c.eps", np.array(1e-9, np.float32))], "count.min")
    node("Div", [total, count], "pooled")

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"])
    keep = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])
    pooled = helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", h])
    graph = helper.make_graph(nodes, name, [ids, keep], [pooled], inits)
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid(ms, 1)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="kefu")


def _quantize(fp32: Path, out: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        fp32,
        out,
        weight_type=QuantType.QInt8,
        # one scale per output column: per-tensor scales cost MiniLM 0.03-0.26 of cosine
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
        # shape inference cannot see through the com.microsoft operators' outputs
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class EncoderCache:
    """ONNX exports of packaged encoders in one folder, named by encoder, package version, a
    hash of the packaged weight files, graph format and precision.

    Each model has a manifest written after it, with its size and sha256; a model without a
    manifest, or one that does not match it (a build cut short, a damaged file), is rebuilt.
    Builders of one model take turns on a lock file, and every file is written to a temporary
    name and renamed, so a reader never sees half a file.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_cache_dir()
        self.builds = 0  # models exported or quantised by this cache object

    def key(self, encoder: PackagedEncoder, precision: Precision) -> str:
        digest = encoder.digest()[:16]
        return f"{encoder.name}-{encoder.version}-{digest}-g{GRAPH_FORMAT}-{precision}"

    def model(self, encoder: PackagedEncoder, precision: Precision) -> Path:
        """The path of a checked ONNX model, built now if the cache lacks a sound one."""
        key = self.key(encoder, precision)
        path = self.folder / f"{key}.onnx"
        if self._sound(path):
            return path
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock(key):
            if self._sound(path):  # another process built it while we waited
                return path
            log.info("encoders.onnx.build", extra={"model": key})
            if precision == "fp32":
                with self._writing(path) as tmp:
                    import onnx

                    onnx.save_model(bert_graph(encoder.weights(), encoder.name), tmp)
            else:
                source = self.model(encoder, "fp32")
                with self._writing(path) as tmp:
                    _quantize(source, tmp)
            self.builds += 1
        return path

    @staticmethod
    def _manifest(path: Path) -> Path:
        return path.with_suffix(".json")

    def _sound(self, path: Path) -> bool:
        try:
            manifest = json.loads(self._manifest(path).read_text())
            return bool(
                path.stat().st_size == manifest["bytes"] and _sha256(path) == manifest["sha256"]
            )
        except (OSError, ValueError, KeyError, TypeError):
            return False

    @contextlib.contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        with (self.folder / f"{key}.lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _writing(self, path: Path) -> Iterator[Path]:
        """Yields a temporary path to write the model to; on success it becomes `path`, and
        its manifest is written next to it."""
        self._manifest(path).unlink(missing_ok=True)
        fd, name = tempfile.mkstemp(prefix=path.stem, suffix=".tmp.onnx", dir=self.folder)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            manifest = {"bytes": tmp.stat().st_size, "sha256": _sha256(tmp)}
            os.replace(tmp, path)
            fd, name = tempfile.mkstemp(prefix=path.stem, suffix=".tmp.json", dir=self.folder)
            with os.fdopen(fd, "w") as f:
                json.dump(manifest, f)
            os.replace(name, self._manifest(path))
        finally:
            tmp.unlink(missing_ok=True)
