"""`kefu privacy …`: the retention job on demand."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.settings import Settings

privacy_app = typer.Typer(help="Personal data: retention.", no_args_is_help=True)
console = Console()


def cli_actor() -> str:
    """Who acts on the command line, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@privacy_app.command("purge")
def purge(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data folder (default: KEFU_DATA_DIR or ./data)."),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, help="Retention period (default: KEFU_PRIVACY__RETENTION_DAYS)."
        ),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Purge as if it were this time (UTC when no zone given)."),
    ] = None,
) -> None:
    """Anonymise the conversations quiet for longer than the retention period."""
    from bot.access.audit import AuditLog
    from bot.privacy.retention import Retention
    from bot.services import conversation_store

    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    period = days or settings.privacy.retention_days
    at = None if as_of is None else as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    store = conversation_store(settings)
    try:
        report = Retention(store, period).purge(at)
        AuditLog(store.engine).record(
            cli_actor(),
            "privacy_purge",
            detail={
                "retention_days": period,
                "cutoff": report.cutoff.isoformat(),
                "conversations": report.conversations,
                "files": report.files,
            },
        )
    finally:
        store.close()
    console.print(
        f"anonymised {report.conversations} conversations ({report.events} events, "
        f"{report.files} pictures deleted) last active before {report.cutoff:%Y-%m-%d %H:%M} UTC"
    )
