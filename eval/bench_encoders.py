"""Encoder backends side by side: per-query latency, batch throughput and agreement with the
package's own vectors, for e5 and MiniLM on every backend (package, onnx, onnx-int8).

python -m eval.bench_encoders [--queries 200] [--rounds 3] [--out eval/results/bench_encoders.json]

Texts are real: questions and passages of taipei_faq (zh) and stackfaq (en) from
$KEFU_DATASETS; MiniLM gets the English ones only, as in kefu. Backends are timed in turns,
query by query, so that load from other processes on a shared machine falls on all of them
alike. Latency is wall-clock per `embed_queries([text])`; "CPU" is the process's CPU time for
the same call (every thread), which other processes do not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from knowledge.embedding import BACKENDS, Backend, Embedder, e5_embedder, minilm_embedder


def real_texts(per_set: int, seed: int = 13) -> dict[str, dict[str, list[str]]]:
    """Questions and passages for each encoder: e5 sees both languages, MiniLM English only."""
    from eval.datasets import load

    rng = random.Random(seed)
    sets = {name: load(name) for name in ("taipei_faq", "stackfaq")}

    def sample(items: list[str]) -> list[str]:
        return rng.sample(items, min(per_set, len(items)))

    questions = {n: sample([q.text for q in s.queries]) for n, s in sets.items()}
    passages = {n: sample([c.text for c in s.chunks]) for n, s in sets.items()}
    return {
        "e5": {
            "queries": questions["taipei_faq"] + questions["stackfaq"],
            "passages": passages["taipei_faq"] + passages["stackfaq"],
        },
        "minilm": {"queries": questions["stackfaq"], "passages": passages["stackfaq"]},
    }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def bench(
    encoder: str,
    embedders: dict[Backend, Embedder],
    queries: list[str],
    passages: list[str],
    rounds: int,
) -> dict[str, Any]:
    for e in embedders.values():  # load (and build the ONNX cache) outside the timings
        e.embed_queries(queries[:2])
        e.embed_passages(passages[:2])
    wall: dict[str, list[float]] = {b: [] for b in embedders}
    cpu: dict[str, list[float]] = {b: [] for b in embedders}
    vectors: dict[str, list[np.ndarray]] = {b: [] for b in embedders}
    order = list(embedders)
    for i, text in enumerate(queries):
        # a different backend goes first on each query: none always follows a warm cache
        for b in order[i % len(order) :] + order[: i % len(order)]:
            w0, c0 = time.perf_counter(), time.process_time()
            v = embedders[b].embed_queries([text])
            wall[b].append(time.perf_counter() - w0)
            cpu[b].append(time.process_time() - c0)
            vectors[b].append(v[0])
    throughput: dict[str, list[float]] = {b: [] for b in embedders}
    passage_vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for b in order:
            w0 = time.perf_counter()
            passage_vectors[b] = embedders[b].embed_passages(passages)
            throughput[b].append(len(passages) / (time.perf_counter() - w0))
    reference = "package"
    rows = {}
    for b in order:
        q_cos = np.sum(np.vstack(vectors[b]) * np.vstack(vectors[reference]), axis=1)
        p_cos = np.sum(passage_vectors[b] * passage_vectors[reference], axis=1)
        rows[b] = {
            "query_ms_p50": round(percentile(wall[b], 50) * 1000, 2),
            "query_ms_p90": round(percentile(wall[b], 90) * 1000, 2),
            "query_cpu_ms_p50": round(percentile(cpu[b], 50) * 1000, 2),
            "passages_per_s": round(max(throughput[b]), 1),
            "cosine_mean": round(float(np.mean(np.concatenate([q_cos, p_cos]))), 5),
            "cosine_min": round(float(np.min(np.concatenate([q_cos, p_cos]))), 5),
        }
    return {"encoder": encoder, "queries": len(queries), "passages": len(passages), "rows": rows}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| encoder | backend | query p50 ms | p90 ms | CPU ms p50 | passages/s | "
        "cosine to package (mean / min) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for b, x in r["rows"].items():
            lines.append(
                f"| {r['encoder']} | {b} | {x['query_ms_p50']} | {x['query_ms_p90']} | "
                f"{x['query_cpu_ms_p50']} | {x['passages_per_s']} | "
                f"{x['cosine_mean']:.4f} / {x['cosine_min']:.4f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=100, help="questions per data set")
    parser.add_argument("--passages", type=int, default=128, help="passages per data set")
    parser.add_argument("--rounds", type=int, default=3, help="batch runs; the best counts")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX models' folder")
    parser.add_argument("--out", type=Path, default=Path("eval/results/bench_encoders.json"))
    args = parser.parse_args(argv)

    texts = real_texts(max(args.queries, args.passages))
    results = []
    for encoder, factory in (("e5", e5_embedder), ("minilm", minilm_embedder)):
        embedders = {b: factory(b, args.cache_dir) for b in BACKENDS}
        t = texts[encoder]
        q = t["queries"][: args.queries * (2 if encoder == "e5" else 1)]
        p = t["passages"][: args.passages * (2 if encoder == "e5" else 1)]
        results.append(bench(encoder, embedders, q, p, args.rounds))
    print(markdown(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
