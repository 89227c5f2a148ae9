"""Hybrid retrieval: dense signals per embedder plus BM25, fused into one ranked list of hits."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ingest.language import detect_language
from knowledge.base import QUESTION_VIEW, KnowledgeBase
from knowledge.embedding import serves
from knowledge.fusion import minmax_fusion, reciprocal_rank_fusion, score_fusion
from knowledge.synonyms import mend_particles
from knowledge.text import normalize, tokenize

KEYWORD = "keyword"


def dense_signal(embedder_name: str) -> str:
    return f"dense:{embedder_name}"


def question_signal(embedder_name: str) -> str:
    """The ranking of FAQ rows by their question's vector alone (see `QUESTION_VIEW`)."""
    return f"question:{embedder_name}"


@dataclass(frozen=True)
class RetrievalConfig:
    # "dense" or "keyword" switch the other signals off (for measuring each one alone).
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"
    fusion: Literal["minmax", "rrf", "score"] = "minmax"
    # Weight of each signal in the fusion; signals not named weigh 1.
    weights: dict[str, float] = field(default_factory=dict)
    # Weights for queries in one language, over `weights`. One set for every knowledge base,
    # fitted across six data sets and checked leaving each out (eval/retrieval.py, `fit`):
    # BM25 at half of e5 in Chinese and a tenth in English, where MiniLM leads; heavier BM25
    # (x2 before) won on DRCD's reading questions but lost at R@5 to e5 alone on FAQ rows.
    language_weights: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "zh": {KEYWORD: 0.5},
            "en": {KEYWORD: 0.1, "dense:minilm": 2.0},
        }
    )
    # Weight of each FAQ-question signal (`question_signal`), unless `weights` names it: the
    # question's own match counts a quarter on top of the row's better vector (same fit).
    question_weight: float = 0.25
    # How minmax fusion scales BM25: "minmax" (its list's best 1, last 0) or "ceiling" (0 to
    # the most any chunk could score for the question's words: a partial match counts partly).
    # The fit preferred "ceiling" in some held-out folds but "minmax" over all data sets.
    keyword_scale: Literal["minmax", "ceiling"] = "minmax"
    rrf_k: int = 60
    candidates: int = 100  # how deep each signal looks before fusing
    cache_size: int = 1024


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    source: str
    locator: str
    metadata: dict[str, Any]
    score: float  # fused
    scores: dict[str, float]  # each signal's own score (cosine for dense, BM25 for keyword)
    ranks: dict[str, int]
    # `tokenize(text)` as the catalog keeps it (None: not at hand, tokenise the text if needed)
    tokens: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "source": self.source,
            "locator": self.locator,
            "score": round(self.score, 6),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "ranks": self.ranks,
            "metadata": self.metadata,
        }


def _best_view_per_chunk(ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Collapse a chunk's vectors (its text, its question) to the best-scoring one."""
    best: dict[str, float] = {}
    for vector_id, score in ranking:
        chunk = vector_id.removesuffix(QUESTION_VIEW)
        if chunk not in best:
            best[chunk] = score
    return list(best.items())


def _question_views(ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The chunks whose question vector is in the ranking, in its order."""
    return [(v.removesuffix(QUESTION_VIEW), s) for v, s in ranking if v.endswith(QUESTION_VIEW)]


class HybridRetriever:
    def __init__(self, kb: KnowledgeBase, config: RetrievalConfig | None = None) -> None:
        self.kb = kb
        self.config = config or RetrievalConfig()
        self._cache: OrderedDict[tuple[str, int, int], list[Hit]] = OrderedDict()
        # (embedder, normalised query) → (the text encoded, its vector)
        self._query_vectors: OrderedDict[tuple[str, str], tuple[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self._languages: tuple[int, dict[str, str]] = (-1, {})  # revision, id → language

    def signals(self, query: str) -> dict[str, list[tuple[str, float]]]:
        """Each signal's ranked (id, score) list for the query, before fusion."""
        query = mend_particles(query)
        language = detect_language(query)
        depth = self.config.candidates
        rankings: dict[str, list[tuple[str, float]]] = {}
        for embedder in self.kb.embedders:
            if self.config.mode == "keyword" or not serves(embedder, language):
                continue
            vector = self.query_vector(embedder.name, query)
            views = self.kb.vectors.query(embedder.name, vector, depth * 2)
            rankings[dense_signal(embedder.name)] = _best_view_per_chunk(views)[:depth]
            # The same search, read a second way: how close the question is to a FAQ row's
            # own question. Weighed on its own in the fusion (no extra model call).
            questions = _question_views(views)[:depth]
            if questions:
                rankings[question_signal(embedder.name)] = questions
        if self.config.mode != "dense":
            rankings[KEYWORD] = self.kb.keyword_index().search(tokenize(query), depth)
        return rankings

    def search(self, query: str, k: int = 5) -> list[Hit]:
        query = mend_particles(query.strip())
        if not query:
            return []
        revision = self.kb.catalog.revision()
        # the keyword index's own revision too: one rebuilt in the background lags the catalog
        indexed = self.kb.keyword_index().revision if self.config.mode != "dense" else None
        key = (normalize(query), k, revision, indexed)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        hits = self._search(query, k)
        # the cache keeps the hits without their tokens: a thousand queries' hits would hold
        # a gigabyte of them (bench_chat, Taipei FAQ); a hit from the cache is tokenised anew
        kept = [dataclasses.replace(h, tokens=None) for h in hits]
        with self._lock:
            self._cache[key] = kept
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return hits

    def keyword_ranges(self, query: str) -> dict[str, tuple[float, float]]:
        """The range BM25's scores are scaled by in the fusion, if not its list's own."""
        if self.config.keyword_scale != "ceiling" or self.config.mode == "dense":
            return {}
        words = tokenize(mend_particles(query))
        return {KEYWORD: (0.0, self.kb.keyword_index().ceiling(words))}

    def weights(self, rankings: dict[str, list[tuple[str, float]]], language: str) -> dict:
        return {
            **{s: self.config.question_weight for s in rankings if s.startswith("question:")},
            **self.config.weights,
            **self.config.language_weights.get(language, {}),
        }

    def fuse(
        self,
        rankings: dict[str, list[tuple[str, float]]],
        language: str = "und",
        ranges: dict[str, tuple[float, float]] | None = None,
    ) -> list[tuple[str, float]]:
        """One ranking from the signals' rankings, weighted for the query's language."""
        weights = self.weights(rankings, language)
        if self.config.fusion == "rrf":
            return reciprocal_rank_fusion(rankings, weights, self.config.rrf_k)
        if self.config.fusion == "score":
            return score_fusion(rankings, weights)
        return minmax_fusion(rankings, weights, ranges)

    def _search(self, query: str, k: int) -> list[Hit]:
        rankings = self.signals(query)
        language = detect_language(query)
        ranges = self.keyword_ranges(query)
        fused = self.fuse(rankings, language, ranges)
        fused = self._across_languages(fused, rankings, language, ranges)
        # Vectors of a chunk that was removed a moment ago may still answer; the catalog decides.
        top = [doc for doc, _ in fused[: k * 2]]
        stored = self.kb.catalog.get(top)
        per_signal = {s: dict(r) for s, r in rankings.items()}
        rank_of = {
            s: {doc: i for i, (doc, _) in enumerate(r, start=1)} for s, r in rankings.items()
        }
        hits: list[Hit] = []
        for doc, score in fused:
            if doc not in stored:
                continue
            chunk = stored[doc]
            hits.append(
                Hit(
                    id=doc,
                    text=chunk.text,
                    source=chunk.source,
                    locator=chunk.locator,
                    metadata={
                        **chunk.metadata,
                        "hash": chunk.hash,
                        "ingested_at": chunk.ingested_at,
                    },
                    score=score,
                    scores={s: v[doc] for s, v in per_signal.items() if doc in v},
                    ranks={s: r[doc] for s, r in rank_of.items() if doc in r},
                    tokens=chunk.tokens(),
                )
            )
            if len(hits) == k:
                break
        return hits

    def _across_languages(
        self,
        fused: list[tuple[str, float]],
        rankings: dict[str, list[tuple[str, float]]],
        language: str,
        ranges: dict[str, tuple[float, float]] | None = None,
    ) -> list[tuple[str, float]]:
        """Chunks in the other language than the question's, ranked as chunks of their own
        language are: with that language's weights, over the signals that can read them.

        A model serving some languages only (MiniLM: English) could never rank a Chinese
        chunk; its weight is left out and the rest scaled up to the whole. Without this an
        English question could never be answered from a Chinese-only row of a knowledge base
        that also has English rows: their MiniLM share (twice e5's) always wins. And BM25,
        which reaches a Chinese row from an English question through the words folded to one
        form (knowledge/synonyms.py: cancel = 取消), weighs for it what it weighs in Chinese,
        not the tenth it weighs among English rows, where MiniLM leads. Knowledge in the
        question's language is ranked exactly as before."""
        if self.config.fusion != "minmax":
            return fused
        narrow = {
            signal: e.languages
            for e in self.kb.embedders
            if e.languages is not None
            for signal in (dense_signal(e.name), question_signal(e.name))
            if signal in rankings
        }
        languages = self._chunk_languages()
        # language → its weights, the fused scores with them, and the whole of those weights
        own: dict[str, tuple[dict[str, float], dict[str, float], float]] = {}

        def ranked_as(item: str) -> tuple[dict[str, float], dict[str, float], float]:
            if item not in own:
                weights = self.weights(rankings, item)
                scores = dict(minmax_fusion(rankings, weights, ranges))
                own[item] = (
                    weights,
                    scores,
                    sum(weights.get(s, 1.0) for s in rankings if rankings[s]),
                )
            return own[item]

        asked = self.weights(rankings, language)
        whole = sum(asked.get(s, 1.0) for s in rankings if rankings[s])
        out = []
        for doc, score in fused:
            item = languages.get(doc, "und")
            weights, total = asked, whole
            if item in ("zh", "en") and language in ("zh", "en") and item != language:
                weights, scores, total = ranked_as(item)
                score = scores.get(doc, score)
            missing = sum(
                weights.get(s, 1.0)
                for s, served in narrow.items()
                if rankings[s] and item not in served
            )
            # the share of what the signals that can read it could give, on the question's scale
            reach = total - missing
            out.append((doc, score * whole / reach if reach > 0 and reach != whole else score))
        return sorted(out, key=lambda kv: (-kv[1], kv[0]))

    def _chunk_languages(self) -> dict[str, str]:
        revision = self.kb.catalog.revision()
        with self._lock:
            if self._languages[0] == revision:
                return self._languages[1]
        found = self.kb.catalog.languages()
        with self._lock:
            self._languages = (revision, found)
        return found

    def cached_query_vector(self, embedder_name: str, query: str) -> np.ndarray | None:
        """The vector of exactly this text (as searched: `mend_particles`) if a search encoded
        it lately, else None (nothing encoded)."""
        with self._lock:
            query = mend_particles(query)
            found = self._query_vectors.get((embedder_name, normalize(query)))
        return found[1] if found is not None and found[0] == query else None

    def query_vector(self, embedder_name: str, query: str) -> np.ndarray:
        """The query's vector from one embedder (cached: retrieval computed it already), of
        the question as searched (`mend_particles`)."""
        query = mend_particles(query)
        key = (embedder_name, normalize(query))
        with self._lock:
            if key in self._query_vectors:
                self._query_vectors.move_to_end(key)
                return self._query_vectors[key][1]
        embedder = next(e for e in self.kb.embedders if e.name == embedder_name)
        vector = embedder.embed_queries([query])[0]
        with self._lock:
            self._query_vectors[key] = (query, vector)
            while len(self._query_vectors) > self.config.cache_size:
                self._query_vectors.popitem(last=False)
        return vector
