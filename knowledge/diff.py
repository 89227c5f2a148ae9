"""What re-ingesting a source changes: added, changed, removed and unchanged chunks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ingest.model import Chunk


@dataclass
class SourceDiff:
    source: str
    added: list[str] = field(default_factory=list)  # new locators
    changed: list[str] = field(default_factory=list)  # same locator, new content
    removed: list[str] = field(default_factory=list)  # locators that are gone
    unchanged: int = 0
    moved: int = 0  # same text at a new locator (e.g. a row inserted above): not re-embedded
    embedded: int = 0  # vectors computed (moved or duplicate text reuses existing vectors)

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass(frozen=True)
class SyncPlan:
    diff: SourceDiff
    new_chunks: list[Chunk]  # chunks whose id is not stored yet
    remove_ids: list[str]  # stored ids that are not in the new version


def plan_sync(
    source: str, stored: Mapping[str, tuple[str, str, str]], chunks: Sequence[Chunk]
) -> SyncPlan:
    """Compare the stored chunks of `source` (id → (locator, hash, ingested_at)) with a new load.

    Ids are derived from source, locator and content, so an unchanged chunk keeps its id. Of
    the rest, a chunk whose text is stored under another locator has moved (a row inserted or
    deleted above it); otherwise its locator tells a changed item (same place, new text) from an
    added one, and stored locators that nobody took any more are removed.
    """
    diff = SourceDiff(source)
    fresh: list[Chunk] = []
    kept: set[str] = set()
    for c in chunks:
        if c.id in kept:
            continue
        if c.id in stored:
            kept.add(c.id)
            diff.unchanged += 1
        else:
            fresh.append(c)
    gone = [i for i in stored if i not in kept]
    gone_by_hash: dict[str, list[str]] = {}
    for i in sorted(gone, key=lambda i: stored[i][0]):
        gone_by_hash.setdefault(stored[i][1], []).append(stored[i][0])
    others: list[Chunk] = []
    for c in fresh:
        if gone_by_hash.get(c.hash):
            gone_by_hash[c.hash].pop(0)
            diff.moved += 1
        else:
            others.append(c)
    vacated = {loc for locs in gone_by_hash.values() for loc in locs}
    for c in others:
        (diff.changed if c.locator in vacated else diff.added).append(c.locator)
    diff.removed = sorted(vacated - {c.locator for c in others})
    return SyncPlan(diff, fresh, gone)
