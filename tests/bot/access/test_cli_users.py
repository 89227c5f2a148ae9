"""`kefu user …` on the same accounts the admin page edits: a user added on the command line,
deactivated by an admin, is listed as such and cannot log in; a new password from the command
line still works."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.access.accounts import Accounts
from bot.cli_users import users_app
from bot.services import conversation_store
from bot.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KEFU_CONVERSATION__DATABASE_URL", raising=False)
    return tmp_path / "data"


def run(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(users_app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_command_line_and_deactivation(data_dir: Path) -> None:
    run(
        "add",
        "mei",
        "--display-name",
        "美玲",
        "--password-stdin",
        "--data-dir",
        str(data_dir),
        stdin="correct horse battery\n",
    )
    run(
        "add",
        "boss",
        "--role",
        "admin",
        "--password-stdin",
        "--data-dir",
        str(data_dir),
        stdin="boss correct horse\n",
    )
    accounts = Accounts(conversation_store(Settings(data_dir=data_dir)).engine)
    assert accounts.log_in("mei", "correct horse battery") is not None
    accounts.update("mei", active=False)
    listed = run("list", "--data-dir", str(data_dir))
    mei = next(line for line in listed.splitlines() if "mei" in line)
    assert "no" in mei and "美玲" in mei
    assert accounts.log_in("mei", "correct horse battery") is None
    run(
        "password",
        "mei",
        "--password-stdin",
        "--data-dir",
        str(data_dir),
        stdin="a new horse battery\n",
    )
    assert accounts.log_in("mei", "a new horse battery") is None  # still deactivated
    accounts.update("mei", active=True)
    assert accounts.log_in("mei", "a new horse battery") is not None
