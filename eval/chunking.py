"""Which passage chunk size finds the right paragraph: DRCD paragraphs through the real chunker.

    python -m eval.chunking [--paragraphs 250] [--sizes 150,300,500,800,0]

Each DRCD paragraph is ingested as a document item (like a PDF page), split by
`ingest.chunking.chunk_items` at each size (0 = never split), and its questions are asked;
a hit counts when a chunk of the right paragraph ranks first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from eval.datasets import Query, default_root
from eval.metrics import evaluate
from ingest.chunking import chunk_items
from ingest.model import Item, LoadResult
from knowledge.base import KnowledgeBase
from knowledge.embedding import E5Embedder
from knowledge.retriever import HybridRetriever, RetrievalConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paragraphs", type=int, default=250)
    parser.add_argument("--sizes", default="150,300,500,800,0")
    parser.add_argument("--out", type=Path, default=Path("eval/results/chunking.json"))
    args = parser.parse_args(argv)

    raw = json.loads((default_root() / "drcd" / "DRCD_dev.json").read_text(encoding="utf-8"))
    paragraphs = [
        (str(p["id"]), p["context"], [qa["question"].strip() for qa in p["qas"]])
        for article in raw["data"]
        for p in article["paragraphs"]
    ][: args.paragraphs]
    queries = [Query(q, frozenset({pid})) for pid, _, qs in paragraphs for q in qs]
    embedder = E5Embedder()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        items = [Item(text, f"paragraph={pid}", {"label": pid}) for pid, text, _ in paragraphs]
        loaded = LoadResult("drcd", items)
        if size:
            chunks = chunk_items(loaded, chunk_size=size, chunk_overlap=size // 10)
        else:
            chunks = chunk_items(loaded, chunk_size=10**9, chunk_overlap=0)
        label_of = {c.id: str(c.metadata["label"]) for c in chunks}
        with tempfile.TemporaryDirectory() as tmp:
            kb = KnowledgeBase.in_memory([embedder], Path(tmp))
            t = time.perf_counter()
            kb.sync_source("drcd", chunks)
            ingest_s = time.perf_counter() - t
            row: dict[str, object] = {
                "chunk_size": size or "whole paragraph",
                "chunks": len(chunks),
                "ingest_s": round(ingest_s, 1),
            }
            for mode in ("dense", "keyword", "hybrid"):
                retriever = HybridRetriever(kb, RetrievalConfig(mode=mode, candidates=30))
                ranked = [[h.id for h in retriever.search(q.text, 30)] for q in queries]
                scores = evaluate(ranked, [q.gold for q in queries], label_of).as_dict()
                row[mode] = {"r@1": scores["r@1"], "mrr@10": scores["mrr@10"]}
        results.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"paragraphs": len(paragraphs), "queries": len(queries), "results": results},
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
