from ingest.model import Chunk
from knowledge.diff import plan_sync


def chunk(locator: str, text: str) -> Chunk:
    return Chunk.build("faq.xlsx", locator, text, {"language": "zh"})


def stored_of(chunks: list[Chunk]) -> dict[str, tuple[str, str, str]]:
    return {c.id: (c.locator, c.hash, "2026-01-01") for c in chunks}


def test_ids_are_stable_and_depend_on_place_and_content():
    assert chunk("row=2", "a").id == chunk("row=2", "a").id
    assert chunk("row=2", "a").id != chunk("row=3", "a").id
    assert chunk("row=2", "a").id != chunk("row=2", "b").id
    assert Chunk.build("other.xlsx", "row=2", "a", {}).id != chunk("row=2", "a").id


def test_first_ingest_adds_everything():
    new = [chunk("row=2", "a"), chunk("row=3", "b")]
    plan = plan_sync("faq.xlsx", {}, new)
    assert plan.diff.added == ["row=2", "row=3"]
    assert plan.new_chunks == new and plan.remove_ids == []


def test_diff_tells_added_changed_removed_unchanged():
    old = [chunk("row=2", "a"), chunk("row=3", "b"), chunk("row=4", "c")]
    new = [chunk("row=2", "a"), chunk("row=3", "B!"), chunk("row=5", "d")]
    plan = plan_sync("faq.xlsx", stored_of(old), new)
    d = plan.diff
    assert (d.unchanged, d.changed, d.added, d.removed) == (1, ["row=3"], ["row=5"], ["row=4"])
    assert [c.locator for c in plan.new_chunks] == ["row=3", "row=5"]
    assert set(plan.remove_ids) == {old[1].id, old[2].id}


def test_no_change_means_nothing_to_do():
    old = [chunk("row=2", "a"), chunk("row=3", "b")]
    plan = plan_sync("faq.xlsx", stored_of(old), list(old))
    assert not plan.diff.touched and plan.diff.unchanged == 2
    assert plan.new_chunks == [] and plan.remove_ids == []


def test_deleting_a_row_moves_the_rows_below_it_instead_of_changing_them():
    old = [chunk(f"row={n}", t) for n, t in ((2, "a"), (3, "b"), (4, "c"), (5, "d"))]
    new = [chunk(f"row={n}", t) for n, t in ((2, "a"), (3, "c"), (4, "d"))]
    plan = plan_sync("faq.xlsx", stored_of(old), new)
    d = plan.diff
    assert (d.unchanged, d.moved, d.changed, d.added, d.removed) == (1, 2, [], [], ["row=3"])


def test_inserting_a_row_adds_it_and_moves_the_rest():
    old = [chunk(f"row={n}", t) for n, t in ((2, "a"), (3, "b"))]
    new = [chunk(f"row={n}", t) for n, t in ((2, "new"), (3, "a"), (4, "b"))]
    d = plan_sync("faq.xlsx", stored_of(old), new).diff
    assert (d.moved, d.changed, d.added, d.removed) == (2, [], ["row=2"], [])


def test_duplicate_texts_are_paired_one_to_one():
    old = [chunk("row=2", "same"), chunk("row=3", "same")]
    new = [chunk("row=2", "same")]
    d = plan_sync("faq.xlsx", stored_of(old), new).diff
    assert (d.unchanged, d.moved, d.removed) == (1, 0, ["row=3"])
