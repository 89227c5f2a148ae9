"""`kefu orders …`: the shop's orders, imported from a spreadsheet export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.settings import Settings

orders_app = typer.Typer(help="The shop's orders.", no_args_is_help=True)
console = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder (default: KEFU_DATA_DIR or ./data)."),
]


@orders_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="An order export: .csv or .xlsx.")],
    data_dir: DataDir = None,
) -> None:
    """Import orders from CSV or XLSX (headers in zh-TW or English, e.g. 訂單編號, 電話, Email,
    狀態, 物流, 追蹤碼); the good rows are saved and the bad ones listed by row number."""
    from bot.orders.sheet import SheetInvalid, import_orders
    from bot.orders.store import OrderStore
    from bot.services import conversation_store

    if not file.is_file():
        console.print(f"[red]No such file: {file}[/red]")
        raise typer.Exit(2)
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    store = conversation_store(settings)
    try:
        report = import_orders(OrderStore(store.engine), file.name, file.read_bytes())
    except SheetInvalid as exc:
        console.print(f"[red]{file.name}: {exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        store.close()
    columns = ", ".join(f"{header} → {key}" for header, key in report.columns.items())
    console.print(f"columns: {columns}")
    table = Table(title=f"Orders from {file.name}")
    for name in ("created", "updated", "unchanged", "stale", "bad rows"):
        table.add_column(name, justify="right")
    table.add_row(
        *(str(report.saved.get(k, 0)) for k in ("created", "updated", "unchanged", "stale")),
        str(len(report.problems)),
    )
    console.print(table)
    for row, problem in report.problems:
        console.print(f"[yellow]row {row}[/yellow]: {problem}")
    if report.problems and not report.imported:
        raise typer.Exit(1)
