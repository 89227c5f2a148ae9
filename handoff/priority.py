"""The order of the human queue.

Priority = the trigger's weight + the customer's negativity × its weight + minutes waited ×
its weight. Waiting time keeps growing, so nobody waits for ever behind newer, angrier
customers.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class QueueSettings(BaseModel):
    trigger_weights: dict[str, float] = Field(
        default={
            "negative_sentiment": 3.0,
            "sentiment_worsening": 3.0,
            "upset_not_helped": 3.0,
            "sensitive_topic": 3.0,
            "explicit_request": 2.0,
            "customer_request": 2.0,
            "repeated_refusals": 2.0,
            "rephrased_question": 2.0,
            "complex_question": 1.0,
            "long_message": 1.0,
        },
        description="Priority each handoff trigger gives (others: 1).",
    )
    sentiment_weight: float = Field(
        default=2.0, description="Priority per unit of the customer's negativity (0-1)."
    )
    per_minute_weight: float = Field(
        default=0.5, description="Priority each minute of waiting adds."
    )


def priority(
    settings: QueueSettings, trigger: str | None, negativity: float | None, waited_s: float
) -> float:
    """How soon a waiting customer should be taken: higher first."""
    return (
        settings.trigger_weights.get(trigger or "", 1.0)
        + settings.sentiment_weight * (negativity or 0.0)
        + settings.per_minute_weight * waited_s / 60
    )
