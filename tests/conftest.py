"""Shared fixtures: temporary data dirs and the fast in-memory knowledge base."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEMO_FILES = REPO / "knowledge" / "demo" / "files"
SHARED_DATASETS = Path(os.environ.get("KEFU_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture
def hashing_kb(tmp_path: Path):
    from knowledge.base import KnowledgeBase
    from knowledge.embedding import HashingEmbedder

    return KnowledgeBase.in_memory([HashingEmbedder()], tmp_path)
