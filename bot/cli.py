"""The `kefu` command: ingest, search, sources, serve, users. (Measurements: `kefu-eval`.)"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from bot.cli_orders import orders_app
from bot.cli_privacy import privacy_app
from bot.cli_users import users_app
from bot.settings import Settings

if TYPE_CHECKING:
    from knowledge.base import KnowledgeBase

app = typer.Typer(
    help="kefu: a self-hosted customer-service bot grounded in your FAQ files.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="user")
app.add_typer(privacy_app, name="privacy")
app.add_typer(orders_app, name="orders")
console = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Knowledge base folder (default: KEFU_DATA_DIR or ./data)."),
]


def _settings(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    data_dir: DataDir = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the diff, write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Re-read files even if unchanged.")
    ] = False,
) -> None:
    """Ingest PDF, Excel, CSV, Markdown and text files; only what changed is re-embedded."""
    from bot.services import build_services, ingest_options
    from knowledge.ingestion import FileOutcome, ingest_paths

    missing = [p for p in paths if not p.exists()]
    if missing:
        console.print(f"[red]No such file or folder: {', '.join(map(str, missing))}[/red]")
        raise typer.Exit(2)
    services = build_services(_settings(data_dir))
    options = ingest_options(services.settings, dry_run=dry_run, force=force)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        files_task = progress.add_task("files", total=None)
        embed_task = progress.add_task("embedding", total=None)

        def on_file(outcome: FileOutcome) -> None:
            progress.update(files_task, advance=1, description=f"files ({outcome.source})")

        report = ingest_paths(
            services.kb,
            paths,
            options,
            on_file=on_file,
            on_embedded=lambda n: progress.update(embed_task, advance=n),
        )
    table = Table(title="Ingest" + (" (dry run: nothing written)" if dry_run else ""))
    for col in ("file", "added", "changed", "removed", "moved", "unchanged", "embedded", "status"):
        table.add_column(
            col, justify="left" if col in ("file", "status") else "right", overflow="fold"
        )
    for f in report.files:
        d = f.diff
        status = "[red]failed[/red]" if f.failed else "unchanged file" if f.skipped else "ok"
        if f.problems and not f.failed:
            status += f" ({len(f.problems)} warnings)"
        table.add_row(
            f.source,
            *(
                str(x)
                for x in (
                    len(d.added) if d else "-",
                    len(d.changed) if d else "-",
                    len(d.removed) if d else "-",
                    d.moved if d else "-",
                    d.unchanged if d else "-",
                    d.embedded if d else "-",
                )
            ),
            status,
        )
    for source, n in report.removed_sources.items():
        table.add_row(source, "0", "0", str(n), "0", "0", "0", "file gone: removed")
    console.print(table)
    for f in report.files:
        for problem in f.problems:
            console.print(f"[yellow]warning[/yellow] {problem}")
        if f.error:
            console.print(f"[red]error[/red] {f.error} (its previous chunks keep serving)")
    if not dry_run:
        _refit_answer_classifier(services.kb, services.settings.data_dir)
    if not report.ok:
        raise typer.Exit(1)


def _refit_answer_classifier(kb: KnowledgeBase, data_dir: Path) -> None:
    """Fit the answer classifier again when the knowledge moved since it was fitted."""
    from bot.answering.classifier import refit_if_stale

    fitted = refit_if_stale(kb, data_dir)
    if fitted is not None:
        console.print(f"answer classifier: fitted on {len(fitted.keys)} answers")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question to look up.")],
    k: Annotated[int, typer.Option("-k", help="How many hits.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Search the knowledge base and print ranked hits with their scores and sources."""
    from bot.services import build_services

    services = build_services(_settings(data_dir))
    hits = services.retriever.search(query, k)
    if as_json:
        typer.echo(
            json.dumps(
                {"query": query, "hits": [h.as_dict() for h in hits]}, ensure_ascii=False, indent=2
            )
        )
        return
    if not hits:
        console.print("No matching knowledge. 找不到相關內容。")
        return
    for rank, h in enumerate(hits, start=1):
        signals = "  ".join(f"{s}={v:.3f}" for s, v in h.scores.items())
        console.print(
            f"[bold]{rank}.[/bold] {h.source} [{h.locator}]  fused={h.score:.4f}  {signals}"
        )
        console.print("   " + h.text.replace("\n", "\n   ")[:400], markup=False)


@app.command()
def sources(data_dir: DataDir = None) -> None:
    """List the ingested sources with their item counts and status."""
    from sqlalchemy.engine import make_url

    from bot.services import conversation_store
    from knowledge.catalog import open_catalog

    settings = _settings(data_dir)
    url = settings.sql_url()  # the catalog is in the SQL database when there is one
    catalog = open_catalog(settings.data_dir, conversation_store(settings).engine if url else None)
    where = make_url(url).render_as_string(hide_password=True) if url else settings.data_dir
    table = Table(title=f"Sources in {where}")
    for col in ("source", "items", "status", "last ingest", "last error"):
        table.add_column(col)
    for r in catalog.sources():
        table.add_row(r.name, str(r.items), r.status, r.last_ingest, r.last_error)
    console.print(table)


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes on the one port. More than one needs the shared services: "
            "KEFU_DATABASE_URL (PostgreSQL), KEFU_REDIS_URL and KEFU_CHROMA_URL.",
        ),
    ] = 1,
) -> None:
    """Serve kefu over HTTP (chat test page at /, search at /search, API docs at /docs)."""
    import uvicorn

    from bot.app import create_app, serve_options
    from bot.privacy.logs import install_log_masking
    from bot.services import build_services

    settings = _settings(data_dir)
    if workers > 1:
        missing = shared_services_missing(settings)
        if missing:
            console.print(
                f"[red]--workers {workers} needs {', '.join(missing)}: each worker is a process "
                "of its own, and what they share must live outside them.[/red]"
            )
            raise typer.Exit(2)
        if data_dir is not None:
            os.environ["KEFU_DATA_DIR"] = str(data_dir)  # the workers read their settings anew
        if not settings.embedding.threads:
            # each worker's encoders on its share of the cores: more threads than cores made
            # every encoder call wait for the others'
            threads = max(1, (os.cpu_count() or 1) // workers)
            os.environ["KEFU_EMBEDDING__THREADS"] = str(threads)
        uvicorn.run(
            "bot.app:worker_app",
            factory=True,
            workers=workers,
            # a worker loading its models may not answer the supervisor's ping for a while;
            # the default 5 s had it killed and started again on a busy 2-core machine
            timeout_worker_healthcheck=WORKER_START_S,
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            **serve_options(settings),
        )
        return
    install_log_masking()
    services = build_services(settings)
    services.warm_up()
    try:
        uvicorn.run(
            create_app(services),
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            **serve_options(settings),
        )
    finally:
        services.close()


WORKER_START_S = 60  # seconds a worker may leave the supervisor's ping unanswered (loading models)


def shared_services_missing(settings: Settings) -> list[str]:
    """What several workers need and `settings` lack: a database server (SQLite orders a
    conversation's turns within one process only), Redis (live events, presence) and a Chroma
    server (an embedded Chroma belongs to one process)."""
    url = settings.sql_url()
    missing = []
    if not url or url.startswith("sqlite"):
        missing.append("KEFU_DATABASE_URL")
    if not settings.redis_url:
        missing.append("KEFU_REDIS_URL")
    if not settings.chroma_url:
        missing.append("KEFU_CHROMA_URL")
    return missing


if __name__ == "__main__":
    app()
