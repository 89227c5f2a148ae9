"""The README documents every setting, exactly as the code defines it."""

import re

from bot.settings import settings_table
from tests.conftest import REPO


def test_readme_settings_table_matches_the_code():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- settings-table:start -->\n(.*?)<!-- settings-table:end -->", readme, re.S
    )
    assert block, "README lost its settings table markers"
    assert block.group(1).strip() == settings_table(), (
        "README settings table is stale: regenerate it with `python -m bot.settings`"
    )


def test_readme_quick_start_is_make_run_and_make_test():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_settings_defaults_are_the_measured_retrieval_defaults():
    from bot.services import retrieval_config
    from bot.settings import Settings
    from knowledge.retriever import RetrievalConfig

    wired, measured = retrieval_config(Settings(), []), RetrievalConfig()
    assert wired.fusion == measured.fusion
    assert wired.language_weights == measured.language_weights
    assert wired.candidates == measured.candidates
    assert wired.question_weight == measured.question_weight
    assert wired.keyword_scale == measured.keyword_scale


def test_ingest_defaults_match_the_settings():
    from bot.settings import IngestSettings
    from knowledge.ingestion import IngestOptions

    settings, options = IngestSettings(), IngestOptions()
    assert (options.chunk_size, options.chunk_overlap) == (
        settings.chunk_size,
        settings.chunk_overlap,
    )
    assert options.max_bytes == settings.max_file_mb * 1024 * 1024
