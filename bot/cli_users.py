"""`kefu user …`: the agents' and admins' accounts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from bot.access.accounts import AccountError, Accounts, Role
from bot.access.audit import AuditLog
from bot.cli_privacy import cli_actor
from bot.settings import Settings

users_app = typer.Typer(help="Agents' and admins' accounts.", no_args_is_help=True)
console = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder (default: KEFU_DATA_DIR or ./data)."),
]


def _engine(data_dir: Path | None) -> Engine:
    from bot.services import conversation_store

    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return conversation_store(settings).engine


def _accounts(data_dir: Path | None) -> Accounts:
    return Accounts(_engine(data_dir))


def _record(engine: Engine, action: str, username: str, **detail: str) -> None:
    """A user change on the audit log, by whoever runs the command."""
    AuditLog(engine).record(cli_actor(), action, target=username, detail=detail)


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Lowercase letters, digits, . _ -")],
    role: Annotated[Role, typer.Option(help="agent or admin.")] = Role.AGENT,
    display_name: Annotated[
        str, typer.Option("--display-name", help="The name customers see.")
    ] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Add an agent or an admin (the password is asked for, or read from stdin)."""
    engine = _engine(data_dir)
    accounts = Accounts(engine)
    try:
        user = accounts.add(username, _password(password_stdin), role, display_name)
    except AccountError as failed:
        console.print(f"[red]{failed}[/red]")
        raise typer.Exit(1) from None
    _record(engine, "user_added", user.username, role=user.role.value)
    console.print(f"added {user.role} {user.username} ({user.display_name})")


@users_app.command("password")
def password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    data_dir: DataDir = None,
) -> None:
    """Set a new password; the user's open sessions end."""
    engine = _engine(data_dir)
    try:
        Accounts(engine).set_password(username, _password(password_stdin))
    except AccountError as failed:
        console.print(f"[red]{failed}[/red]")
        raise typer.Exit(1) from None
    _record(engine, "user_password_set", username)
    console.print(f"password of {username} changed")


@users_app.command("remove")
def remove(username: str, data_dir: DataDir = None) -> None:
    """Remove a user and end their sessions."""
    engine = _engine(data_dir)
    try:
        Accounts(engine).remove(username)
    except AccountError as failed:
        console.print(f"[red]{failed}[/red]")
        raise typer.Exit(1) from None
    _record(engine, "user_removed", username)
    console.print(f"removed {username}")


@users_app.command("list")
def list_users(data_dir: DataDir = None) -> None:
    """The users and their roles."""
    table = Table("username", "display name", "role", "active")
    for user in _accounts(data_dir).list():
        table.add_row(
            user.username, user.display_name, user.role.value, "yes" if user.active else "no"
        )
    console.print(table)
