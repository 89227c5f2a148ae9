"""/healthz (the process is up) and /readyz (what it needs answers, the models are loaded),
and what `kefu serve --workers N` asks for before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli
from bot.services import build_services
from bot.settings import ConversationSettings, DeskSettings, Settings
from knowledge.embedding import HashingEmbedder
from tests.conftest import REDIS_URL


def settings_for(data_dir: Path, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        conversation=ConversationSettings(
            database_url=f"sqlite+pysqlite:///{tmp_path / 'conversations.db'}"
        ),
        desk=DeskSettings(when_nobody_available="queue"),
        **extra,
    )


def test_ready_once_the_models_are_loaded(demo_data_dir: Path, tmp_path: Path) -> None:
    services = build_services(settings_for(demo_data_dir, tmp_path), [HashingEmbedder("e5")])
    try:
        with TestClient(create_app(services)) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            waiting = client.get("/readyz")
            assert waiting.status_code == 503
            assert waiting.json()["checks"] == {"database": True, "models": False}
            services.warm_up()
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "status": "ready",
                "checks": {"database": True, "models": True},
            }
    finally:
        services.close()


def test_redis_is_part_of_readiness_when_configured(
    demo_data_dir: Path, tmp_path: Path, redis_prefix: str
) -> None:
    services = build_services(
        settings_for(demo_data_dir, tmp_path, redis_url=REDIS_URL, redis_prefix=redis_prefix),
        [HashingEmbedder("e5")],
    )
    services.warm_up()
    try:
        with TestClient(create_app(services)) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["redis"] is True
    finally:
        services.close()


def test_not_ready_while_redis_is_unreachable_but_alive(demo_data_dir: Path, tmp_path: Path):
    services = build_services(
        settings_for(demo_data_dir, tmp_path, redis_url="redis://127.0.0.1:1/0"),
        [HashingEmbedder("e5")],
    )
    services.warm_up()
    try:
        with TestClient(create_app(services)) as client:
            assert client.get("/healthz").status_code == 200
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"]["redis"] is False
            # customers are still served (rate limits let them through)
            started = client.post("/api/conversations")
            assert started.status_code == 201, started.text
    finally:
        services.close()


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "KEFU_DATABASE_URL, KEFU_REDIS_URL, KEFU_CHROMA_URL"),
        (
            {
                "KEFU_DATABASE_URL": "postgresql+psycopg://kefu@db/kefu",
                "KEFU_REDIS_URL": "redis://cache:6379/0",
            },
            "KEFU_CHROMA_URL",
        ),
    ],
)
def test_several_workers_need_the_shared_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], missing: str
) -> None:
    for name in (
        "KEFU_DATABASE_URL",
        "KEFU_CONVERSATION__DATABASE_URL",
        "KEFU_REDIS_URL",
        "KEFU_CHROMA_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    result = CliRunner().invoke(cli, ["serve", "--workers", "2", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert f"needs {missing}:" in " ".join(result.output.split())
