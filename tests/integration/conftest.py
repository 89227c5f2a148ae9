"""Integration fixtures: the real embedding models and a real Chroma store, loaded once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bot.conversation.conftest import postgres_admin  # noqa: F401 (fixture)
from tests.conftest import DEMO_FILES


@pytest.fixture(scope="session")
def real_embedders():
    from knowledge.embedding import e5_embedder, minilm_embedder

    return [e5_embedder(), minilm_embedder()]  # on the default backend, as kefu runs them


@pytest.fixture
def demo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(DEMO_FILES, folder)
    return folder


@pytest.fixture
def real_kb(tmp_path: Path, real_embedders):
    from knowledge.base import KnowledgeBase

    return KnowledgeBase.open(tmp_path / "data", real_embedders)
