"""The optional LLM answer: a chat model drafts from the retrieved passages only, and the
draft is used only when every sentence of it is supported by them; otherwise the extractive
answer stands and the turn records why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.answering.candidates import Candidate
from bot.answering.grounding import check_grounding
from bot.answering.language import CustomerLanguage
from bot.answering.llm import Drafter, DraftFailed
from bot.answering.passages import Passage
from bot.privacy.redaction import mask_personal
from knowledge.embedding import Embedder


@dataclass
class LLMComposer:
    drafter: Drafter
    embedder: Embedder | None
    min_lexical: float = 0.5
    min_semantic: float = 0.93
    passages: int = 3  # how many of the best candidates the model may read

    def compose(
        self, question: str, candidates: list[Candidate], language: CustomerLanguage
    ) -> tuple[str | None, dict[str, Any]]:
        """(the grounded draft or None, what happened) for the record of the turn."""
        shown = [
            Passage(c.best.id, c.answer or c.best.text, c.best.source, c.best.locator)
            for c in candidates[: self.passages]
        ]
        try:
            # the model needs the question, not the customer's phone or e-mail address
            draft = self.drafter.draft(mask_personal(question), shown, language)
        except DraftFailed as failed:
            return None, {"outcome": "failed", "reason": failed.reason, "detail": failed.detail}
        record: dict[str, Any] = {"latency_ms": round(draft.latency_ms, 1), "raw": draft.raw}
        if draft.declined:
            return None, {**record, "outcome": "declined"}
        verdict = check_grounding(
            draft.text,
            shown,
            self.embedder,
            min_lexical=self.min_lexical,
            min_semantic=self.min_semantic,
        )
        record["grounding"] = verdict.reason
        if not verdict.supported:
            record["unsupported"] = [
                {"sentence": s.text, "reason": s.reason, "missing": list(s.missing)}
                for s in verdict.sentences
                if not s.supported
            ]
            return None, {**record, "outcome": "ungrounded"}
        return draft.text, {**record, "outcome": "used"}
