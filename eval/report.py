"""Markdown and JSON reports of retrieval evaluations: one per data set and a combined one."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

# What we are after: Recall@1 per data set (and hybrid above each single retriever).
TARGETS_R1 = {"drcd": 0.95, "stackfaq": 0.93, "clinc150": 0.92}


def changes(spec: Mapping[str, Any]) -> int:
    """How far a variant is from the shipped default (RRF k=60, 50 candidates, weights 1)."""
    n = int(spec.get("fusion") != "rrf" or spec.get("rrf_k") != 60)
    n += int(spec.get("candidates") != 50)
    return n + sum(1 for w in spec.get("weights", {}).values() if w != 1)


def best_variant(variants: Mapping[str, Mapping[str, Any]], prefix: str) -> str | None:
    """The best variant whose name starts with `prefix`: R@1, then MRR@10, then R@5; a tie
    goes to the variant closest to the default (weights of unused signals change nothing)."""
    pool = [n for n in variants if n.startswith(prefix)]
    if not pool:
        return None
    return max(
        pool,
        key=lambda n: (
            variants[n]["r@1"],
            variants[n]["mrr@10"],
            variants[n]["r@5"],
            -changes(variants[n]["spec"]),
            n,
        ),
    )


def _latency(result: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return result.get("latency", {}).get(key, {})


def rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The headline rows: each signal alone, dense-only, keyword-only, hybrid default and best."""
    variants, picks = result["variants"], result["picks"]
    out: list[dict[str, Any]] = []

    def add(label: str, name: str | None, timing: str) -> None:
        if not name or name not in variants:
            return
        v = variants[name]
        lat = _latency(result, timing)
        out.append(
            {
                "row": label,
                "variant": name,
                "r@1": v["r@1"],
                "r@5": v["r@5"],
                "mrr@10": v["mrr@10"],
                "p50_ms": lat.get("p50_ms"),
                "p95_ms": lat.get("p95_ms"),
                "n": v["n"],
            }
        )

    for signal in result["signals"]:
        add(f"{signal} alone", f"signal {signal}", f"signal {signal}")
    add("dense-only, kefu default fusion", picks.get("shipped_dense"), "dense-only")
    add("dense-only, RRF k=60", picks.get("dense_default"), "")
    if picks.get("best_dense") != picks.get("dense_default"):
        add("dense-only, best of grid", picks.get("best_dense"), "")
    add("keyword-only", "keyword-only", "keyword-only")
    add("**hybrid, kefu default**", picks.get("shipped"), "hybrid default")
    add("hybrid, RRF k=60, weights 1", picks.get("default"), "")
    if picks.get("best_hybrid") != picks.get("default"):
        add("hybrid, best of grid", picks.get("best_hybrid"), "hybrid best")
    return out


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def table(row_list: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "| config | R@1 | R@5 | MRR@10 | p50 ms | p95 ms | n |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in row_list:
        label = r["row"] if r["row"] == r["variant"] else f"{r['row']} — `{r['variant']}`"
        lines.append(
            f"| {label} | {_num(r['r@1'])} | {_num(r['r@5'])} | {_num(r['mrr@10'])} | "
            f"{_num(r['p50_ms'], 1)} | {_num(r['p95_ms'], 1)} | {r['n']} |"
        )
    return "\n".join(lines)


def top_variants(result: Mapping[str, Any], prefix: str = "hybrid ", n: int = 10) -> str:
    pool = sorted(
        ((name, v) for name, v in result["variants"].items() if name.startswith(prefix)),
        key=lambda kv: (-kv[1]["r@1"], -kv[1]["mrr@10"]),
    )[:n]
    lines = ["| variant | R@1 | R@5 | MRR@10 |", "|---|---:|---:|---:|"]
    lines += [f"| `{k}` | {v['r@1']:.3f} | {v['r@5']:.3f} | {v['mrr@10']:.3f} |" for k, v in pool]
    return "\n".join(lines)


def dataset_markdown(result: Mapping[str, Any]) -> str:
    notes = ", ".join(
        f"{k}={v}" for k, v in result.get("notes", {}).items() if not isinstance(v, list | dict)
    )
    build = result["build"]
    parts = [
        f"## {result['dataset']} ({result['language']})",
        "",
        f"{result['chunks']} chunks, {result['labels']} labels, {result['queries']} queries; "
        f"embedders {', '.join(result['embedders'])}; index sync {build['seconds']} s "
        f"({build['embedded']} texts embedded). Latency: end-to-end `search(k=5)` on "
        f"{_latency(result, 'hybrid default').get('n', 0)} sampled queries, caches empty."
        + (f" Notes: {notes}." if notes else ""),
        "",
        table(rows(result)),
        "",
        "Best hybrid variants:",
        "",
        top_variants(result),
        "",
    ]
    return "\n".join(parts)


def write_dataset(result: Mapping[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = result["dataset"]
    (out_dir / f"retrieval-{name}.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (out_dir / f"retrieval-{name}.md").write_text(dataset_markdown(result), encoding="utf-8")


# ---- combined -----------------------------------------------------------------------------------


def load_results(out_dir: Path) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted(out_dir.glob("retrieval-*.json"))
    ]


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def global_choice(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The hybrid variant with the best mean R@1 over every data set (one config for all).

    Also the best language-split choice: fusion, k and depth shared, weights chosen for the
    English data sets and the Chinese ones separately (weights that apply by query language).
    """
    shared = (
        set.intersection(*({n for n in r["variants"] if n.startswith("hybrid ")} for r in results))
        if results
        else set()
    )
    if not shared:
        return {}

    def mean_of(name: str, subset: Sequence[Mapping[str, Any]], key: str = "r@1") -> float:
        return _mean([r["variants"][name][key] for r in subset])

    def key(n: str, subset: Sequence[Mapping[str, Any]]) -> tuple[float, float, int, str]:
        spec = subset[0]["variants"][n]["spec"]
        return (mean_of(n, subset), mean_of(n, subset, "mrr@10"), -changes(spec), n)

    best = max(shared, key=lambda n: key(n, results))
    out: dict[str, Any] = {
        "single": best,
        "single_mean_r@1": round(mean_of(best, results), 4),
        "single_per_dataset": {r["dataset"]: r["variants"][best]["r@1"] for r in results},
    }
    by_lang: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        by_lang.setdefault(r["language"], []).append(r)
    if len(by_lang) > 1:
        groups: dict[str, list[str]] = {}
        for n in shared:
            groups.setdefault(" ".join(n.split()[1:3]), []).append(n)  # fusion + depth
        split_best: tuple[float, dict[str, str]] | None = None
        for names in groups.values():
            pick: dict[str, str] = {}
            for lang, subset in by_lang.items():
                pick[lang] = max(names, key=partial(key, subset=subset))
            total = _mean([r["variants"][pick[r["language"]]]["r@1"] for r in results])
            if split_best is None or total > split_best[0]:
                split_best = (total, pick)
        assert split_best is not None
        out["by_language"] = split_best[1]
        out["by_language_mean_r@1"] = round(split_best[0], 4)
        out["by_language_per_dataset"] = {
            r["dataset"]: r["variants"][split_best[1][r["language"]]]["r@1"] for r in results
        }
    return out


def best_single(result: Mapping[str, Any]) -> tuple[str, float]:
    """The signal that is best alone on this data set, and its R@1."""
    scored = [
        (s, result["variants"][f"signal {s}"]["r@1"])
        for s in result["signals"]
        if f"signal {s}" in result["variants"]
    ]
    return max(scored, key=lambda kv: kv[1]) if scored else ("", 0.0)


# ---- one fusion fitted across data sets, leave one data set out ---------------------------------


def best_single_r5(result: Mapping[str, Any]) -> tuple[str, float]:
    """The signal with the best R@5 alone on this data set, and that R@5."""
    scored = [
        (s, result["variants"][f"signal {s}"]["r@5"])
        for s in result["signals"]
        if f"signal {s}" in result["variants"]
    ]
    return max(scored, key=lambda kv: kv[1]) if scored else ("", 0.0)


def fit_key(name: str, subset: Sequence[Mapping[str, Any]]) -> tuple[float, ...]:
    """How good the fit variant `name` is over `subset`, best highest.

    First that it never loses to the data set's best single signal at R@5 (the largest loss
    over the data sets, to 3 decimals), then the mean R@1, R@5 and MRR@10.
    """
    scores = [r["fit"][name] for r in subset]
    worst_loss = max(
        max(0.0, best_single_r5(r)[1] - v["r@5"]) for r, v in zip(subset, scores, strict=True)
    )
    return (
        -round(worst_loss, 3),
        _mean([v["r@1"] for v in scores]),
        _mean([v["r@5"] for v in scores]),
        _mean([v["mrr@10"] for v in scores]),
    )


def choose_fit(subset: Sequence[Mapping[str, Any]]) -> str | None:
    """The fit variant that `fit_key` ranks first over `subset` (ties: the name, for repeats)."""
    names = set.intersection(*(set(r.get("fit", {})) for r in subset)) if subset else set()
    if not names:
        return None
    return max(sorted(names), key=lambda n: fit_key(n, subset))


def lodo(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Leave one data set out: for each data set, the fit variant chosen on all the others
    and its scores on the held-out one; and the variant chosen on all of them (the default)."""
    fitted = [r for r in results if r.get("fit")]
    if len(fitted) < 2:
        return {}
    held_out: dict[str, dict[str, Any]] = {}
    for r in fitted:
        others = [o for o in fitted if o is not r]
        pick = choose_fit(others)
        if pick is None:
            continue
        name, top_r5 = best_single_r5(r)
        v = r["fit"][pick]
        held_out[r["dataset"]] = {
            "chosen_on_others": pick,
            "r@1": v["r@1"],
            "r@5": v["r@5"],
            "mrr@10": v["mrr@10"],
            "best_signal_r@5": {"signal": name, "r@5": top_r5},
            "r@5_minus_best_signal": round(v["r@5"] - top_r5, 4),
        }
    everything = choose_fit(fitted)
    per = list(held_out.values())
    return {
        "held_out": held_out,
        "mean": {k: round(_mean([h[k] for h in per]), 4) for k in ("r@1", "r@5", "mrr@10")},
        "worst": {k: min(h[k] for h in per) for k in ("r@1", "r@5", "r@5_minus_best_signal")},
        "chosen_on_all": everything,
        "chosen_on_all_spec": fitted[0]["fit"][everything]["spec"] if everything else None,
    }


# kefu's fusion before the cross-data-set fit (BM25 x2 in Chinese, x0.25 in English, MiniLM x2;
# a FAQ row's question only through its chunk's better vector): a variant of the fit grid.
PREVIOUS_DEFAULT = "fit minmax c100 kw_zh=2 kw_en=0.25 minilm=2 question=0"


def lodo_markdown(results: Sequence[Mapping[str, Any]]) -> str:
    """The LODO table: each signal alone, the shipped fusion and the held-out fit, per data set."""
    fitted = [r for r in results if r.get("fit")]
    out = lodo(fitted)
    if not out:
        return ""
    signals = ["dense:e5", "dense:minilm", "keyword"]
    head = ["data set", "queries"]
    head += [f"{s.removeprefix('dense:')} R@1 / R@5" for s in signals]
    head += ["previous default", "**LODO hybrid R@1 / R@5**", "R@5 − best signal"]
    head += ["shipped R@1 / R@5"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]

    def pair(v: Mapping[str, Any] | None) -> str:
        return f"{v['r@1']:.3f} / {v['r@5']:.3f}" if v else "–"

    for r in fitted:
        h = out["held_out"].get(r["dataset"])
        if h is None:
            continue
        cells = [r["dataset"], str(r["queries"])]
        for s in signals:
            v = r["variants"].get(f"signal {s}") if s in r["signals"] else None
            cells.append(pair(v))
        cells.append(pair(r["fit"].get(PREVIOUS_DEFAULT)))
        cells.append(f"**{pair(h)}**")
        cells.append(f"{h['r@5_minus_best_signal']:+.3f} ({h['best_signal_r@5']['signal']})")
        cells.append(pair(r["variants"].get("kefu default (hybrid)")))
        lines.append("| " + " | ".join(cells) + " |")
    m, w = out["mean"], out["worst"]
    blank = ["", ""] + ["" for _ in signals] + [""]
    lines.append("| mean | " + " | ".join(blank[1:]) + f" | {m['r@1']:.3f} / {m['r@5']:.3f} | | |")
    lines.append(
        "| worst | "
        + " | ".join(blank[1:])
        + f" | {w['r@1']:.3f} / {w['r@5']:.3f} | {w['r@5_minus_best_signal']:+.3f} | |"
    )
    chosen = "\n".join(
        f"- held out {d}: `{h['chosen_on_others']}`" for d, h in out["held_out"].items()
    )
    return "\n".join(
        [
            "## One fusion for every data set, leave one data set out",
            "",
            "Each row's hybrid is the weight set chosen on the *other* data sets: first never "
            "below the best single signal's R@5 on any of them, then the best mean R@1 "
            "(`eval.report.fit_key`). Previous default: "
            f"`{PREVIOUS_DEFAULT}`. Shipped: `RetrievalConfig()` of this checkout (in-sample).",
            "",
            *lines,
            "",
            chosen,
            "",
            f"Chosen on every data set (the shipped default): `{out['chosen_on_all']}`",
            "",
        ]
    )


def combined_markdown(results: Sequence[Mapping[str, Any]]) -> str:
    parts = [
        "# Retrieval evaluation",
        "",
        "R@k and MRR@10 are over distinct labels (an intent, a thread, a paragraph, an FAQ item):",
        "chunks that share a label count once, at their best rank. Variant names: fusion (rrfK;",
        "score = each list divided by its max, as knowledge.fusion; minmax = each list scaled by",
        "its min and max, an experiment of eval/ only), cN = candidates per signal, kw / minilm =",
        "weight of that signal (e5 weighs 1). Latency: p50/p95 of the real `search(k=5)`, caches",
        "empty, with the shipped tokeniser even where quality rows use another one.",
        "",
    ]
    for r in results:
        parts.append(dataset_markdown(r))
    choice = global_choice(results)
    if choice:
        parts += ["## One configuration for every data set", ""]
        names = [r["dataset"] for r in results]
        header = "| config | " + " | ".join(names) + " | mean |"
        lines = [header, "|---|" + "---:|" * (len(names) + 1)]

        def line(label: str, per: Mapping[str, float]) -> str:
            vals = [per.get(n) for n in names]
            mean = _mean([v for v in vals if v is not None])
            return f"| {label} | " + " | ".join(_num(v) for v in vals) + f" | {mean:.3f} |"

        default = {r["dataset"]: r["variants"][r["picks"]["default"]]["r@1"] for r in results}
        single = {r["dataset"]: best_single(r) for r in results}
        best_each = {r["dataset"]: r["variants"][r["picks"]["best_hybrid"]]["r@1"] for r in results}
        lines.append(line("hybrid default (R@1)", default))
        lines.append(line(f"single best `{choice['single']}` (R@1)", choice["single_per_dataset"]))
        if "by_language" in choice:
            label = ", ".join(f"{k}: `{v}`" for k, v in sorted(choice["by_language"].items()))
            lines.append(
                line(
                    f"weights by query language ({label}) (R@1)", choice["by_language_per_dataset"]
                )
            )
        lines.append(line("best per data set (R@1, upper bound)", best_each))
        lines.append(line("best single signal (R@1)", {k: v[1] for k, v in single.items()}))
        lines.append(line("target R@1", TARGETS_R1))
        parts += [*lines, ""]
        parts += [
            f"Single best `{choice['single']}` in full (✓ = above every single signal):",
            "",
            "| data set | R@1 | R@5 | MRR@10 | best single signal |",
            "|---|---:|---:|---:|---|",
        ]
        for r in results:
            v = r["variants"][choice["single"]]
            name, top = single[r["dataset"]]
            mark = "✓" if v["r@1"] > top else "✗"
            parts.append(
                f"| {r['dataset']} | {v['r@1']:.3f} {mark} | {v['r@5']:.3f} | "
                f"{v['mrr@10']:.3f} | {name} {top:.3f} |"
            )
        parts.append("")
    parts.append(lodo_markdown(results))
    return "\n".join(parts)


def write_combined(out_dir: Path) -> Path | None:
    results = load_results(out_dir)
    if not results:
        return None
    path = out_dir / "retrieval.md"
    path.write_text(combined_markdown(results), encoding="utf-8")
    return path


def refresh(out_dir: Path) -> Path | None:
    """Rewrite every Markdown report (and the picks) from the JSON results in `out_dir`."""
    for path in sorted(out_dir.glob("retrieval-*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        result["picks"]["best_hybrid"] = best_variant(result["variants"], "hybrid ")
        if len(result.get("embedders", [])) > 1:
            result["picks"]["best_dense"] = best_variant(result["variants"], "dense")
        result["rows"] = rows(result)
        write_dataset(result, out_dir)
    return write_combined(out_dir)


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:] or ["eval/results"]:
        print(refresh(Path(arg)))
