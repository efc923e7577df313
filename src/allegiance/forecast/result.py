"""A forecast: each question's probability, interval and word, with how it was made."""

from __future__ import annotations

import csv
import html
import io
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from allegiance.posterior import Diagnostics
from allegiance.spreadsheet import spreadsheet_text

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
    (:data:`allegiance.spec.MONTH_CONVENTION`); ``origin`` says whether the
    model's grid asked it (``grid``) or an analyst picked it (``hand``).
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
    origin: str = "hand"


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

    def to_csv(self) -> str:
        """Serialise to CSV, one row per question (:data:`CSV_COLUMNS`)."""
        return forecast_csv(self)

    def _repr_html_(self) -> str:
        """Show the forecast as a table in Jupyter, analyst text escaped."""
        d = self.diagnostics
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
                q.id, q.horizon,
                q.resolved or ("–" if q.probability is None else f"{q.probability:.0%}"),
                "–" if q.lower is None or q.upper is None else f"{q.lower:.0%} – {q.upper:.0%}",
                q.word,
            )) + "</tr>"
            for q in self.questions
        )  # fmt: skip
        verdict = "passed" if d.ok else "FAILED: " + "; ".join(d.problems)
        return (
            f"<table><caption>Forecasts: {html.escape(self.model_id)}</caption>"
            "<tr><th>question</th><th>horizon</th><th>P</th><th>90% interval</th>"
            f"<th>in words</th></tr>{rows}</table>"
            f"<p>method: {html.escape(self.method)}; diagnostics {html.escape(verdict)}</p>"
        )


CSV_COLUMNS = (
    "question", "horizon", "probability", "lower90", "upper90", "word", "trustworthy",
    "max_rhat", "min_ess", "divergences", "model_sha256", "evidence_sha256", "resolved",
    "resolved_on", "origin",
)  # fmt: skip


def _number(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def forecast_csv(result: Forecast) -> str:
    """Return a forecast as CSV, one row per question (no cell runs as a spreadsheet formula)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=os.linesep)
    d, p = result.diagnostics, result.provenance
    writer.writerow(CSV_COLUMNS)
    for q in result.questions:
        writer.writerow(
            [
                spreadsheet_text(q.id),
                q.horizon,
                _number(q.probability),
                _number(q.lower),
                _number(q.upper),
                spreadsheet_text(q.word),
                result.trustworthy,
                f"{d.max_rhat:.4f}",
                f"{min(d.min_ess_bulk, d.min_ess_tail):.0f}",
                d.divergences,
                p["model_sha256"],
                p["evidence_sha256"],
                q.resolved,
                q.resolved_on,
                q.origin,
            ]
        )
    return out.getvalue()
