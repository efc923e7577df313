"""A forecast: each question's probability, interval and word, with how it was made."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from allegiance.posterior import Diagnostics

PAST_HORIZON = "past its horizon, unresolved: no forecast"


@dataclass(frozen=True)
class QuestionForecast:
    """One question's forecast; a resolved question shows its outcome instead.

    A resolved question (``resolved`` is ``yes`` or ``no``) has probability 1
    or 0, its interval collapsed onto it, and names the day and the item that
    resolved it. A question whose horizon is before the forecast's as-of date
    and which nothing on record resolves has no forecast: its probability and
    interval are None and its word says why (:data:`PAST_HORIZON`).
    ``covers`` names the months the question's horizon covers
    (:data:`allegiance.spec.MONTH_CONVENTION`).
    """

    id: str
    text: str
    horizon: str
    probability: float | None
    lower: float | None
    upper: float | None
    word: str
    resolved: str = ""
    resolved_on: str = ""
    resolved_by: str = ""
    covers: str = ""


@dataclass
class Forecast:
    """Forecasts of every question of a model, with diagnostics and provenance."""

    model_id: str
    questions: list[QuestionForecast]
    diagnostics: Diagnostics
    provenance: dict[str, Any]
    condition_probability: dict[str, float] = field(default_factory=dict)
    method: str = "mcmc"
    method_reason: str = "fitted by MCMC on exactly this evidence"

    @property
    def trustworthy(self) -> bool:
        """False when the fit failed its sampling diagnostics."""
        return self.diagnostics.ok

    def to_dict(self) -> dict[str, Any]:
        """Plain-typed form for JSON."""
        return {
            "model_id": self.model_id,
            "trustworthy": self.trustworthy,
            "method": self.method,
            "method_reason": self.method_reason,
            "diagnostics": self.diagnostics.to_dict(),
            "questions": [asdict(q) for q in self.questions],
            "condition_probability": self.condition_probability,
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.to_dict(), indent=2)
