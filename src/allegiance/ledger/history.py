"""The ledger's forecast history: every forecast made, one row per question."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from allegiance.errors import LedgerError
from allegiance.ledger.connection import LedgerConnection, _now
from allegiance.ledger.schema import FORECASTS

ANALYST = "analyst"  # fit_method of a judgment: the analyst's own probability

if TYPE_CHECKING:
    from allegiance.forecast import Forecast


class ForecastHistory(LedgerConnection):
    """Recorded forecasts of a ledger's model, one row per question."""

    def record_forecast(
        self,
        forecast: Forecast,
        *,
        as_of: dt.date | None,
        as_recorded: bool,
        fit_method: str,
        created_at: dt.datetime | None = None,
    ) -> None:
        """Record a forecast in the history, one row per question, in one transaction.

        Parameters
        ----------
        forecast : Forecast
            Its ``provenance`` must give ``model_sha256`` and ``evidence_sha256``.
        as_of : date or None
            The date the evidence was taken as of (None: everything).
        as_recorded : bool
            Whether the evidence was the record as it stood on ``as_of``.
        fit_method : str
            How the posterior was obtained, e.g. ``"mcmc"`` or ``"reweighted"``.
        created_at : datetime, optional
            When the forecast was made (default: now; naive is taken as UTC).

        Raises
        ------
        LedgerError
            If the forecast is of another model, lacks its provenance hashes
            or ``fit_method`` is empty.
        """
        if forecast.model_id != self.spec.id:
            raise LedgerError(
                self.name,
                f"the forecast is of model {forecast.model_id!r}, the ledger of {self.spec.id!r}.",
                "record it in the ledger of its own model.",
            )
        missing = [k for k in ("model_sha256", "evidence_sha256") if not forecast.provenance.get(k)]
        if missing:
            raise LedgerError(
                self.name,
                f"the forecast's provenance lacks {', '.join(missing)}.",
                "record forecasts as allegiance.forecast.forecast() returns them.",
            )
        if not isinstance(fit_method, str) or not fit_method.strip():
            raise LedgerError(self.name, "fit_method is empty.", "say e.g. 'mcmc'.")
        stamp = _now(created_at)
        common = {
            "model_id": forecast.model_id,
            "as_of": as_of,
            "as_recorded": bool(as_recorded),
            "model_sha256": str(forecast.provenance["model_sha256"]),
            "evidence_sha256": str(forecast.provenance["evidence_sha256"]),
            "fit_method": fit_method.strip(),
            "diagnostics": json.dumps(forecast.diagnostics.to_dict(), sort_keys=True),
            "trustworthy": bool(forecast.trustworthy),
            "created_at": stamp,
        }
        rows = [
            {
                **common,
                "question_id": q.id,
                "horizon": q.horizon,
                "probability": float(q.probability),
                "lower": float(q.lower),
                "upper": float(q.upper),
                "word": q.word,
            }
            for q in forecast.questions
            if q.probability is not None and q.lower is not None and q.upper is not None
        ]
        if not rows:
            return
        with self._writing() as conn:
            conn.execute(insert(FORECASTS), rows)

    def record_judgment(
        self,
        question_id: str,
        probability: float,
        *,
        as_of: dt.date,
        author: str = "",
        created_at: dt.datetime | None = None,
    ) -> None:
        """Record an analyst's own probability of a question as of a date (``fit_method`` analyst).

        Raises
        ------
        LedgerError
            For a question the model does not have, or a probability outside [0, 1].
        """
        if question_id not in self.spec.questions:
            raise LedgerError(
                self.name,
                f"unknown question {question_id!r}.",
                "use one of: " + ", ".join(self.spec.questions) + ".",
            )
        if not (isinstance(probability, float | int) and 0.0 <= probability <= 1.0):
            raise LedgerError(
                self.name,
                f"the probability {probability!r} is not in [0, 1].",
                "give a number from 0 to 1, e.g. 0.3.",
            )
        from allegiance.words import estimative_word

        row = {
            "model_id": self.spec.id,
            "question_id": question_id,
            "horizon": self.spec.questions[question_id].horizon.isoformat(),
            "probability": float(probability),
            "lower": float(probability),
            "upper": float(probability),
            "word": estimative_word(float(probability)),
            "as_of": as_of,
            "as_recorded": True,
            "model_sha256": self.spec.sha256,
            "evidence_sha256": "",
            "fit_method": ANALYST,
            "diagnostics": json.dumps({"author": author}),
            "trustworthy": True,
            "created_at": _now(created_at),
        }
        with self._writing() as conn:
            conn.execute(insert(FORECASTS), [row])

    def history(self, question_id: str) -> list[dict[str, Any]]:
        """Return the recorded forecasts of one question, oldest first.

        Parameters
        ----------
        question_id : str
            A question id of the model.

        Returns
        -------
        list of dict
            One per recorded forecast, with ``question_id``, ``model_id``,
            ``horizon``, ``probability``, ``lower``, ``upper``, ``word``,
            ``as_of`` (date or None), ``as_recorded``, ``model_sha256``,
            ``evidence_sha256``, ``fit_method``, ``diagnostics`` (a dict),
            ``trustworthy`` and ``created_at`` (aware, UTC).
        """
        query = (
            select(FORECASTS)
            .where(FORECASTS.c.model_id == self.spec.id, FORECASTS.c.question_id == question_id)
            .order_by(FORECASTS.c.created_at, FORECASTS.c.seq)
        )
        with self._reading() as conn:
            rows = [row._mapping for row in self._rows(conn, query, FORECASTS)]
        out = []
        for row in rows:
            entry = {k: v for k, v in row.items() if k != "seq"}
            entry["diagnostics"] = self.stored_json(
                "forecasts", row["seq"], "diagnostics", entry["diagnostics"]
            )
            entry["as_recorded"] = bool(entry["as_recorded"])
            entry["trustworthy"] = bool(entry["trustworthy"])
            out.append(entry)
        return out
