"""The handoff gate's settings: each signal's switch and threshold, and the sensitive topics."""

from __future__ import annotations

from pydantic import BaseModel, Field

from handoff.topics import BUILT_IN_TOPICS


class GateSettings(BaseModel):
    """When a conversation goes to a person. Each signal can be switched off; the thresholds
    were chosen on the measurements of `kefu eval gate`."""

    shadow: bool = Field(
        default=False,
        description="Shadow mode: measure and record every signal, and the trigger that would "
        "have fired, but never hand off (to tune thresholds on real traffic first).",
    )
    explicit_request: bool = Field(
        default=True,
        description="Hand off when the customer asks for a person (真人, agent, 找主管…).",
    )
    extra_request_phrases: list[str] = Field(
        default_factory=list,
        description="More regular expressions (case-insensitive) that count as asking for a "
        "person, on top of the built-in zh-TW and English ones.",
    )
    negative_sentiment: bool = Field(
        default=True,
        description="Hand off an angry message at once (negativity at or above the angry "
        "threshold).",
    )
    sentiment_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Negativity (0..1) at or above which a message is angry and goes to a "
        "person at once; unset: the operating point stored with the sentiment model.",
    )
    upset_sentiment: bool = Field(
        default=True,
        description="Treat a mildly upset message (negativity between the upset and the angry "
        "threshold) apart: the bot acknowledges it, answers and offers a person; when it "
        "cannot answer, the conversation goes to a person (trigger upset_not_helped).",
    )
    upset_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Negativity (0..1) at or above which a message counts as upset; unset: the "
        "operating point stored with the sentiment model.",
    )
    sentiment_worsening: bool = Field(
        default=True,
        description="Hand off when the customer's mood has been getting worse over turns.",
    )
    worsening_rise: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="How much the negativity must have risen, from the calmest of the last "
        "`worsening_window` turns to this one.",
    )
    worsening_floor: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="The least negativity of this message for a rise to count as worsening; "
        "unset: the upset threshold.",
    )
    worsening_window: int = Field(
        default=3, ge=1, description="How many earlier customer messages the rise is measured over."
    )
    sensitive_topic: bool = Field(
        default=True, description="Hand off messages about one of `sensitive_topics`."
    )
    sensitive_topics: list[str] = Field(
        default_factory=lambda: [t for t in BUILT_IN_TOPICS if t != "cancellation"],
        description="The built-in sensitive topics that hand off (zh-TW and English patterns "
        "in handoff/topics.py): refund disputes, complaints, legal threats, fraud, account "
        "security; add cancellation to hand off customers who say they are leaving (a how-to "
        "question about cancelling stays with the bot either way). Drop a name to keep its "
        "messages with the bot.",
    )
    extra_sensitive_topics: dict[str, list[str]] = Field(
        default_factory=dict,
        description="More topics: name → regular expressions (case-insensitive). A built-in "
        "topic's name adds patterns to it.",
    )
    complex_question: bool = Field(
        default=True, description="Hand off a message that asks several questions at once."
    )
    max_questions: int = Field(
        default=4,
        ge=2,
        description="Number of questions in one message at or above which it goes to a person.",
    )
    long_message: bool = Field(default=True, description="Hand off very long messages.")
    long_message_chars_zh: int = Field(
        default=300, ge=1, description="Length (characters) at or above which a zh message is long."
    )
    long_message_chars_en: int = Field(
        default=900,
        ge=1,
        description="Length (characters) at or above which an English message is long.",
    )
    repeated_refusals: bool = Field(
        default=True, description="Hand off when the bot has refused several turns in a row."
    )
    refusals_in_a_row: int = Field(
        default=2,
        ge=1,
        description="Refusals in a row, this one included, at which the conversation goes to "
        "a person.",
    )
    rephrased_question: bool = Field(
        default=True,
        description="Hand off when the customer asks the previous question again in other "
        "words after the bot refused it or did not help.",
    )
    rephrase_similarity: float = Field(
        default=0.91,
        ge=0,
        le=1,
        description="Cosine similarity (e5) of this message to the previous one at or above "
        "which it counts as the same question asked again (measured on "
        "eval/data/rephrase_pairs.tsv: e5 puts related follow-ups at .84-.93).",
    )
    rephrase_after: list[str] = Field(
        default_factory=lambda: ["refused", "clarifying"],
        description="The bot's decisions on the previous message after which asking it again "
        'means the bot did not help. Add "answered" to hand off a question asked again '
        "after an answer (a related follow-up then risks a handoff too).",
    )
