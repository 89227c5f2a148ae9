"""The `kefu-eval` command: measurements anyone can rerun (retrieval, refusal, answers, the
handoff gate). The product never imports its measurements; this command imports the product."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer

app = typer.Typer(help="kefu's measurements anyone can rerun.", no_args_is_help=True)


@app.command("retrieval")
def eval_retrieval(
    dataset: Annotated[
        list[str],
        typer.Option(
            "--dataset", help="clinc150, clinc150_small, stackfaq, drcd, taipei_faq, shop"
        ),
    ],
    limit: Annotated[
        int | None, typer.Option(help="Evaluate a seeded sample of N queries.")
    ] = None,
    fit_only: Annotated[
        bool,
        typer.Option(
            "--fit-only",
            help="Skip the per-data-set weight grid: signals alone, defaults and the LODO fit.",
        ),
    ] = False,
    data_root: Annotated[
        Path | None, typer.Option(help="The shared datasets folder (else KEFU_DATASETS).")
    ] = None,
    latency_sample: Annotated[
        int | None, typer.Option(help="Queries timed end to end (0 skips timing).")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(help="How the encoders run: package, onnx or onnx-int8 (else the default)."),
    ] = None,
) -> None:
    """Recall@1/@5, MRR@10 and latency of dense, keyword and hybrid retrieval."""
    from eval.retrieval import main as retrieval_main

    args: list[str] = []
    for d in dataset:
        args += ["--dataset", d]
    if limit:
        args += ["--limit", str(limit)]
    if fit_only:
        args.append("--fit-only")
    if data_root:
        args += ["--data-root", str(data_root)]
    if latency_sample is not None:
        args += ["--latency-sample", str(latency_sample)]
    if backend:
        args += ["--backend", backend]
    raise typer.Exit(retrieval_main(args))


@app.command("refusal")
def eval_refusal(
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset", help="clinc150, taipei_faq, drcd, stackfaq (near-domain: all four)"
        ),
    ] = None,
    near_domain: Annotated[
        bool,
        typer.Option(
            help="Near-domain refusal: a quarter of each set's items taken out of its "
            "knowledge, each set judged by a model fitted on the others."
        ),
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(help="A seeded sample of N questions per half (near-domain: per kind)."),
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="Store the fitted model in this data directory.")
    ] = None,
    save_default: Annotated[
        bool, typer.Option(help="Store it as kefu's shipped default model.")
    ] = False,
) -> None:
    """Fit the refusal model and its operating point; report accuracy, recall and the curve."""
    from eval.refusal import main as refusal_main

    args: list[str] = ["--near-domain"] if near_domain else []
    for d in dataset or []:
        args += ["--dataset", d]
    if limit:
        args += ["--limit", str(limit)]
    if save:
        args += ["--save", str(save)]
    if save_default:
        args.append("--save-default")
    raise typer.Exit(refusal_main(args))


@app.command("gate")
def eval_gate(
    fit: Annotated[
        bool, typer.Option("--fit", help="Refit the negativity model and store it as shipped.")
    ] = False,
    weights: Annotated[
        Path | None, typer.Option(help="Measure these negativity weights instead.")
    ] = None,
) -> None:
    """Handoff gate, each data set held out: calm and angry messages handed off, requests."""
    from eval.gate import main as gate_main

    args: list[str] = []
    if fit:
        args.append("--fit")
    if weights:
        args += ["--weights", str(weights)]
    raise typer.Exit(gate_main(args))


@app.command("answers")
def eval_answers(
    limit: Annotated[int, typer.Option(help="How many DRCD questions (seeded sample).")] = 30,
    llm: Annotated[
        bool, typer.Option("--llm", help="Also draft with the configured LLM (KEFU_LLM__*).")
    ] = False,
) -> None:
    """Extractive answers against LLM drafts on DRCD: right answers, grounding, seconds."""
    from eval.answers import main as answers_main

    raise typer.Exit(answers_main(["--limit", str(limit), *(["--llm"] if llm else [])]))


if __name__ == "__main__":
    app()
