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

    Ids are derived from source, locator and content, so an unchanged chunk keeps its id;
    locators tell a changed item (same place, new text) from an added or removed one.
    """
    new_ids = {c.id for c in chunks}
    stored_locators = {loc for loc, _, _ in stored.values()}
    new_locators = {c.locator for c in chunks}
    diff = SourceDiff(source)
    fresh: list[Chunk] = []
    seen: set[str] = set()
    for c in chunks:
        if c.id in seen:
            continue
        seen.add(c.id)
        if c.id in stored:
            diff.unchanged += 1
            continue
        fresh.append(c)
        (diff.changed if c.locator in stored_locators else diff.added).append(c.locator)
    remove_ids = [i for i in stored if i not in new_ids]
    diff.removed = sorted({stored[i][0] for i in remove_ids if stored[i][0] not in new_locators})
    return SyncPlan(diff, fresh, remove_ids)
