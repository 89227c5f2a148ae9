"""Ingest benchmark: a generated 10,000-row FAQ workbook, against the raw encoders in the same run.

python -m eval.bench [--rows 10000] [--out eval/results/bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TOPICS_ZH = [
    ("退貨", "到貨後七天內可在會員中心申請退貨，我們會安排到府取件"),
    ("運費", "單筆滿 990 元免運，未滿則超商取貨 60 元、宅配 100 元"),
    ("發票", "電子發票會寄到您的信箱，也可以存入手機條碼載具"),
    ("保固", "家電與 3C 商品自發票日起保固一年，請保留外盒與發票"),
    ("付款", "支援信用卡、LINE Pay、街口支付與超商代碼繳費"),
    ("會員", "消費累積滿 5000 元自動升級為金卡會員，享九五折"),
    ("取消訂單", "出貨前可在訂單頁面取消，款項於五個工作天內退回"),
    ("修改地址", "訂單成立後兩小時內可以在訂單頁面修改收件地址"),
]
TOPICS_EN = [
    ("delivery", "home delivery usually arrives within one to two business days"),
    ("returns", "items can be returned within seven days of delivery for a full refund"),
    ("warranty", "appliances carry a one-year warranty from the invoice date"),
    ("payment", "we accept credit cards, LINE Pay and convenience-store payment codes"),
]
PRODUCTS = [
    "保溫杯",
    "電熱水壺",
    "收納箱",
    "不沾鍋",
    "檯燈",
    "吸塵器",
    "毛巾組",
    "咖啡機",
    "空氣清淨機",
]


def write_workbook(path: Path, rows: int) -> int:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "FAQ"
    ws.append(["問題", "答案", "分類", "編號"])
    for i in range(rows):
        product = PRODUCTS[i % len(PRODUCTS)]
        if i % 5 == 4:
            topic, answer = TOPICS_EN[i % len(TOPICS_EN)]
            q = f"Question {i}: how does {topic} work for the {product} (model {i % 97})?"
            a = f"For order type {i}, {answer}. Reference KB-{i:05d}."
        else:
            topic, answer = TOPICS_ZH[i % len(TOPICS_ZH)]
            q = f"第 {i} 號問題：購買{product}（型號 {i % 97}）後，{topic}要怎麼處理？"
            a = f"{answer}。此說明適用於編號 {i} 的訂單類型，參考文件 KB-{i:05d}。"
        ws.append([q, a, topic, f"KB-{i:05d}"])
    wb.save(path)
    return rows


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("eval/results/bench.json"))
    args = parser.parse_args(argv)

    from ingest.chunking import chunk_items
    from ingest.loaders import load_file
    from knowledge.base import KnowledgeBase
    from knowledge.embedding import E5Embedder, Embedder, minilm_embedder, serves
    from knowledge.ingestion import IngestOptions, ingest_paths

    embedders: list[Embedder] = [E5Embedder(), minilm_embedder()]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "kb"
        folder.mkdir()
        xlsx = folder / "faq.xlsx"
        write_workbook(xlsx, args.rows)

        kb = KnowledgeBase.open(Path(tmp) / "data", embedders)
        # Raw encoder throughput on exactly the texts ingest will embed (each row's text and
        # its question alone), in the same batches, models warmed up first.
        chunks = chunk_items(load_file(xlsx, source=xlsx.name))
        for e in embedders:
            e.embed_passages(["warm up 暖身"])
        t = time.perf_counter()
        texts_embedded = 0
        for e in embedders:
            texts = [
                text
                for c in chunks
                if serves(e, c.metadata.get("language", "und"))
                for _, text in kb.vector_views(c)
            ]
            texts_embedded += len(texts)
            for start in range(0, len(texts), 256):
                e.embed_passages(texts[start : start + 256])
        raw_seconds = time.perf_counter() - t

        t = time.perf_counter()
        first = ingest_paths(kb, [folder], IngestOptions())
        ingest_seconds = time.perf_counter() - t
        assert first.ok, [f.error for f in first.failed]

        t = time.perf_counter()
        again = ingest_paths(kb, [folder], IngestOptions())
        unchanged_seconds = time.perf_counter() - t

        t = time.perf_counter()
        forced = ingest_paths(kb, [folder], IngestOptions(force=True))
        forced_seconds = time.perf_counter() - t
        assert forced.files[0].diff is not None and forced.files[0].diff.embedded == 0

        t = time.perf_counter()
        kb.keyword_index()
        keyword_seconds = time.perf_counter() - t

    rows = len(chunks)
    result = {
        "rows": rows,
        "texts_embedded": texts_embedded,
        "raw_encoder_seconds": round(raw_seconds, 2),
        "raw_encoder_rows_per_s": round(rows / raw_seconds, 1),
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_rows_per_s": round(rows / ingest_seconds, 1),
        "ingest_to_raw_encoder_ratio": round(raw_seconds / ingest_seconds, 3),
        "no_change_reingest_seconds": round(unchanged_seconds, 3),
        "forced_reread_no_change_seconds": round(forced_seconds, 2),
        "keyword_index_build_seconds": round(keyword_seconds, 2),
        "unchanged_reported": again.files[0].diff.unchanged if again.files[0].diff else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
