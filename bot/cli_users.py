"""`kefu user …`: the agents' and admins' accounts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.access.accounts import AccountError, Accounts, Role
from bot.settings import Settings

users_app = typer.Typer(help="Agents' and admins' accounts.", no_args_is_help=True)
console = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder (default: KEFU_DATA_DIR or ./data)."),
]


def _accounts(data_dir: Path | None) -> Accounts:
    from bot.services import conversation_store

    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return Accounts(conversation_store(settings).engine)


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
    accounts = _accounts(data_dir)
    try:
        user = accounts.add(username, _password(password_stdin), role, display_name)
    except AccountError as failed:
        console.print(f"[red]{failed}[/red]")
        raise typer.Exit(1) from None
    console.print(f"added {user.role} {user.username} ({user.display_name})")


@users_app.command("password")
def password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    data_dir: DataDir = None,
) -> None:
    """Set a new password; the user's open sessions end."""
    try:
        _accounts(data_dir).set_password(username, _password(password_stdin))
    except AccountError as failed:
        console.print(f"[red]{failed}[/red]")
        raise typer.Exit(1) from None
    console.print(f"password of {username} changed")


@users_app.command("remove")
def remove(username: str, data_dir: DataDir = None) -> None:
    """Remove a user and end their sessions."""
    try:
        _accounts(data_dir).remove(username)
    except AccountError as failed:
        console.print(f"[red]{failed}[/red]")
        raise typer.Exit(1) from None
    console.print(f"removed {username}")


@users_app.command("list")
def list_users(data_dir: DataDir = None) -> None:
    """The users and their roles."""
    table = Table("username", "display name", "role")
    for user in _accounts(data_dir).list():
        table.add_row(user.username, user.display_name, user.role.value)
    console.print(table)
