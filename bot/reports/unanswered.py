"""Unanswered questions: what customers asked that the bot refused or handed to a person,
grouped by meaning so that an admin can turn each group into one knowledge draft.

Which questions count, from the event log of each conversation (in seq order):

* a TurnRefused: its question (the customer's message when the turn kept none), "refused";
* a TurnClarifying that offered the bot's closest items because it was unsure
  (reason "closest_match"): its question, "offered", unless the customer's next turn picked one
  of them (a TurnAnswered with reason "picked_option") or the widget's button sent the same
  question to a person (then it counts once, "handed_off");
* a TurnHandedOff: its question likewise, "handed_off". When the trigger was an explicit
  request for a person ("我要找真人"), the request itself asks nothing the knowledge base could
  answer: the customer's message before it counts instead, unless it already counted;
* the widget's "talk to a person" button (StatusChanged to waiting, reason customer_request):
  the customer's last message before it, "handed_off", unless it already counted. An answer
  followed by the button is an answer that did not help.

A question's time is the time of the event that gave up on it (the turn, the status change),
so the period cut matches the refused turns of the metrics.

Grouping clusters the e5 query vectors with average linkage: two groups merge while the mean
cosine similarity between their members is at least `similarity`. Questions equal after
normalising case, width, script, spaces and punctuation are one point, so they always fall
together. The default threshold was measured with `python -m eval.unanswered`.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

import numpy as np

from bot.conversation.events import (
    BotTurn,
    CustomerMessaged,
    Event,
    StatusChanged,
    TurnAnswered,
    TurnClarifying,
    TurnHandedOff,
    TurnRefused,
)
from bot.conversation.status import ConversationStatus
from bot.privacy.redaction import mask_personal
from bot.reports.exports import spreadsheet_row
from knowledge.embedding import Embedder
from knowledge.text import normalize

REFUSED = "refused"
OFFERED = "offered"
HANDED_OFF = "handed_off"
REASONS = (REFUSED, OFFERED, HANDED_OFF)
CLOSEST_MATCH = "closest_match"  # TurnClarifying.reason of the bot's closest items, offered
PICKED_OPTION = "picked_option"  # TurnAnswered.reason of an option the customer picked
WIDGET_REQUEST = "customer_request"  # StatusChanged.reason of the widget's button
EXPLICIT_REQUEST = "explicit_request"  # TurnHandedOff.trigger of "I want a person"
MAX_EXAMPLES = 5
# Mean cosine similarity at which two groups of e5 query vectors merge; measured by
# `python -m eval.unanswered` (eval/results/unanswered.json).
DEFAULT_SIMILARITY = 0.9


@dataclass(frozen=True)
class Asked:
    """One question the bot could not handle."""

    text: str
    at: datetime
    conversation_id: str
    reason: str  # "refused", "offered" or "handed_off"


@dataclass(frozen=True)
class GapGroup:
    """Questions that mean the same thing: one gap in the knowledge base."""

    id: str  # stable for the same member questions
    label: str  # the member closest to the group's centroid
    count: int
    first_seen: datetime
    last_seen: datetime
    reasons: dict[str, int]  # {"refused": n, "offered": k, "handed_off": m}
    trend: list[tuple[str, int]]  # ISO week ("2026-W47") → count, every week first to last
    examples: list[Asked]  # the newest of each distinct wording, newest first, at most 5
    questions: list[Asked] = field(default_factory=list)  # every member, newest first


def unanswered_questions(
    log: Iterable[tuple[int, Event]],
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Asked]:
    """The unanswered questions of a log of (seq, event), e.g. ConversationStore.log(start, end),
    with start <= at < end (an open bound is unbounded), oldest first."""
    by_conversation: dict[str, list[tuple[int, Event]]] = defaultdict(list)
    for seq, event in log:
        by_conversation[event.conversation_id].append((seq, event))
    found = [
        asked
        for recorded in by_conversation.values()
        for asked in _asked_in([event for _, event in sorted(recorded, key=lambda r: r[0])])
        if (start is None or asked.at >= start) and (end is None or asked.at < end)
    ]
    return sorted(found, key=lambda a: a.at)


def _asked_in(events: Sequence[Event]) -> Iterator[Asked]:
    """The unanswered questions of one conversation's events in seq order."""
    # The customer's last two messages, each with whether it already counted.
    last: tuple[CustomerMessaged, bool] | None = None
    before_last: tuple[CustomerMessaged, bool] | None = None
    # The closest items offered and not yet picked: (the turn, its question).
    offered: tuple[TurnClarifying, str] | None = None
    for event in events:
        if offered is not None and isinstance(event, BotTurn):
            if not (isinstance(event, TurnAnswered) and event.reason == PICKED_OPTION):
                yield _asked(offered[1], offered[0], OFFERED)
            offered = None
        if isinstance(event, TurnClarifying) and event.reason == CLOSEST_MATCH:
            text = event.question.strip() or (last[0].text if last is not None else "")
            if text.strip():
                offered = (event, text)
            if last is not None:
                last = (last[0], True)
        elif isinstance(event, CustomerMessaged):
            before_last, last = last, (event, False)
        elif isinstance(event, TurnHandedOff) and event.trigger == EXPLICIT_REQUEST:
            if before_last is not None and not before_last[1]:
                yield _asked(before_last[0].text, event, HANDED_OFF)
                before_last = (before_last[0], True)
            if last is not None:
                last = (last[0], True)  # the request itself: nothing to count
        elif isinstance(event, TurnRefused | TurnHandedOff):
            text = event.question.strip() or (last[0].text if last is not None else "")
            if text.strip():
                yield _asked(text, event, REFUSED if isinstance(event, TurnRefused) else HANDED_OFF)
            if last is not None:
                last = (last[0], True)
        elif (
            isinstance(event, StatusChanged)
            and event.to_status == ConversationStatus.WAITING
            and event.reason == WIDGET_REQUEST
            and last is not None
            and (not last[1] or offered is not None)
        ):
            # after the closest items were offered, the button gives up on that question
            yield _asked(offered[1] if offered is not None else last[0].text, event, HANDED_OFF)
            last, offered = (last[0], True), None
    if offered is not None:  # the conversation's last turn offered items nobody picked
        yield _asked(offered[1], offered[0], OFFERED)


def _asked(text: str, event: Event, reason: str) -> Asked:
    return Asked(
        text=mask_personal(text.strip()),
        at=event.at,
        conversation_id=event.conversation_id,
        reason=reason,
    )


def normalised(text: str) -> str:
    """The form two wordings must share to be the same question: NFKC, lower case, Traditional
    script, no punctuation, symbols or spaces ("Can I pay?" = "can i pay"; spaces go too
    because zh-TW writers space Latin words in or not: "用LINE Pay" = "用 LINE Pay")."""
    return "".join(c for c in normalize(text) if unicodedata.category(c)[0] not in "PSZC")


def cluster(vectors: np.ndarray, similarity: float = DEFAULT_SIMILARITY) -> list[int]:
    """A cluster number per row of unit vectors: average linkage, merging while the mean cosine
    similarity between two clusters is at least `similarity`. Numbers follow first appearance.

    Time and memory grow with the square of the rows: 5,000 distinct questions take about
    2.5 s and 200 MB on two cores."""
    count = len(vectors)
    if count == 0:
        return []
    if count == 1:
        return [0]
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=1.0 - similarity,
    )
    raw = model.fit_predict(np.asarray(vectors, dtype=np.float64))
    renumbered: dict[int, int] = {}
    return [renumbered.setdefault(int(r), len(renumbered)) for r in raw]


def group_questions(
    asked: Sequence[Asked],
    embedder: Embedder,
    *,
    similarity: float = DEFAULT_SIMILARITY,
    zone: tzinfo = UTC,
) -> list[GapGroup]:
    """The questions grouped by meaning, the group seen most recently first. `zone` is where
    the ISO weeks of the trend begin and end."""
    if not asked:
        return []
    wordings: dict[str, list[Asked]] = {}
    for question in asked:
        wordings.setdefault(normalised(question.text), []).append(question)
    keys = list(wordings)
    # One vector per distinct wording, of its first original text (e5 sees the punctuation).
    vectors = embedder.embed_queries([wordings[k][0].text for k in keys])
    members: dict[int, list[int]] = defaultdict(list)
    for index, number in enumerate(cluster(vectors, similarity)):
        members[number].append(index)
    groups = [
        _group([keys[i] for i in indexes], vectors[indexes], wordings, zone)
        for indexes in members.values()
    ]
    return sorted(groups, key=lambda g: (-g.last_seen.timestamp(), -g.count, g.id))


def _group(
    keys: list[str], vectors: np.ndarray, wordings: dict[str, list[Asked]], zone: tzinfo
) -> GapGroup:
    weights = np.array([len(wordings[k]) for k in keys], dtype=np.float64)
    centroid = (vectors * weights[:, None]).sum(axis=0)
    closeness = vectors @ centroid
    # the closest wording; among equals the most frequent, then the first seen
    best = max(range(len(keys)), key=lambda i: (round(float(closeness[i]), 6), weights[i], -i))
    questions = sorted((q for k in keys for q in wordings[k]), key=lambda q: q.at, reverse=True)
    newest_by_wording = {k: max(wordings[k], key=lambda q: q.at) for k in keys}
    examples = sorted(newest_by_wording.values(), key=lambda q: q.at, reverse=True)
    reasons = Counter(q.reason for q in questions)
    return GapGroup(
        id=hashlib.sha1("\n".join(sorted(keys)).encode("utf-8")).hexdigest()[:12],
        label=wordings[keys[best]][0].text,
        count=len(questions),
        first_seen=questions[-1].at,
        last_seen=questions[0].at,
        reasons={reason: reasons.get(reason, 0) for reason in REASONS},
        trend=_weekly([q.at for q in questions], zone),
        examples=examples[:MAX_EXAMPLES],
        questions=questions,
    )


def iso_week(at: datetime, zone: tzinfo = UTC) -> str:
    year, week, _ = at.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def _weekly(times: Sequence[datetime], zone: tzinfo) -> list[tuple[str, int]]:
    """Count per ISO week, every week from the first to the last (empty weeks as 0)."""
    counts = Counter(iso_week(at, zone) for at in times)
    first = min(at.astimezone(zone).date() for at in times)
    last = max(at.astimezone(zone).date() for at in times)
    monday: date = first - timedelta(days=first.weekday())
    weeks: list[tuple[str, int]] = []
    while monday <= last:
        year, week, _ = monday.isocalendar()
        name = f"{year}-W{week:02d}"
        weeks.append((name, counts.get(name, 0)))
        monday += timedelta(days=7)
    return weeks


GROUP_HEADERS = (
    "問題 question",
    "次數 count",
    "拒答 refused",
    "給了相近內容 offered",
    "轉真人 handed off",
    "首次 first seen (UTC)",
    "最近 last seen (UTC)",
    "例句 examples",
)
QUESTION_HEADERS = (
    "群組 group",
    "問題 question",
    "時間 at (UTC)",
    "原因 reason",
    "對話 conversation id",
)
REASON_NAMES = {
    REFUSED: "拒答 refused",
    OFFERED: "給了相近內容 offered",
    HANDED_OFF: "轉真人 handed off",
}


def gaps_workbook(groups: Sequence[GapGroup]) -> bytes:
    """The groups as an XLSX workbook for the knowledge team: a sheet "groups" (one row per
    group) and a sheet "questions" (one row per question, with its group's label)."""
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    summary = book.active
    assert isinstance(summary, Worksheet)
    summary.title = "groups"
    summary.append(GROUP_HEADERS)
    details = book.create_sheet("questions")
    details.append(QUESTION_HEADERS)
    for group in groups:
        summary.append(
            spreadsheet_row(
                (
                    group.label,
                    group.count,
                    group.reasons.get(REFUSED, 0),
                    group.reasons.get(OFFERED, 0),
                    group.reasons.get(HANDED_OFF, 0),
                    _cell_time(group.first_seen),
                    _cell_time(group.last_seen),
                    "\n".join(q.text for q in group.examples),
                )
            )
        )
        for question in group.questions or group.examples:
            details.append(
                spreadsheet_row(
                    (
                        group.label,
                        question.text,
                        _cell_time(question.at),
                        REASON_NAMES.get(question.reason, question.reason),
                        question.conversation_id,
                    )
                )
            )
    for sheet, widths in (
        (summary, (48, 8, 10, 14, 12, 20, 20, 80)),
        (details, (48, 60, 20, 16, 34)),
    ):
        sheet.freeze_panes = "A2"
        for column, width in zip("ABCDEFGH", widths, strict=False):
            sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell_time(at: datetime) -> datetime:
    # Excel has no time zones: write UTC wall-clock time without tzinfo (openpyxl refuses aware)
    return at.astimezone(UTC).replace(tzinfo=None)
