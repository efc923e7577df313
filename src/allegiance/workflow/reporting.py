"""What a report shows: the forecast as of a day, the evidence behind it, and the record.

:func:`gather` decides what to compute (a forecast with as little sampling as
can be, through :func:`~allegiance.workflow.forecasting.run_forecast`) and
collects everything a report needs; the faces (:mod:`allegiance.report`)
only lay it out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from allegiance.errors import SpecError
from allegiance.evidence import EvidenceSet, Item
from allegiance.forecast import Forecast
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec
from allegiance.workflow.forecasting import (
    Forecasted,
    InForce,
    evidence_in_force,
    forecast_and_record,
    run_forecast,
)
from allegiance.workflow.scenarios import scenario_forecast, updater_of

if TYPE_CHECKING:
    from allegiance.ledger import ReportRecord
    from allegiance.update.sensitivity import Sensitivity


@dataclass
class ReportData:
    """Everything a report lays out.

    Attributes
    ----------
    spec : ModelSpec
    forecast : Forecast
        The forecast as of the report's day (its provenance says how it was made).
    evidence : list of Item
        The items in force behind it, time passing included.
    retracted : list of Item
        Items on record that a retraction withdrew (shown struck through).
    retracted_by : dict
        Retracted item id -> who retracted it (the retraction's author, else its id).
    history : dict
        Question id -> the recorded forecasts of it, oldest first (the ledger's rows).
    notes : list of str
        What the workflow did (imports, fits, stored fits skipped).
    information : dict
        Question id -> condition id -> expected absolute change of its
        probability once the condition is learned (value of information).
    effects : dict
        Condition id -> question id -> do(condition = true) minus do(condition = false).
    matrix : dict
        Item id -> question id -> the item's effect on the probability (with it
        minus without it; None where the question has no probability).
    since : str
        What the report is compared with ("what changed since ..."), or empty.
    before : dict, optional
        Question id -> the probability then (None where there was none).
    new_items : list of str
        Items in force now that were not on record then, or were otherwise.
    sensitivity : dict
        Question id -> its power-scaling sensitivity to the prior and to the likelihood.
    scenarios : dict
        Named scenario id (from the model file) -> the forecast under it.
    draws : dict
        The posterior's free variables, (draws, dim) each, for the prior-against-posterior plots.
    """

    spec: ModelSpec
    forecast: Forecast
    evidence: list[Item]
    retracted: list[Item] = field(default_factory=list)
    retracted_by: dict[str, str] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    information: dict[str, dict[str, float]] = field(default_factory=dict)
    effects: dict[str, dict[str, float]] = field(default_factory=dict)
    matrix: dict[str, dict[str, float | None]] = field(default_factory=dict)
    since: str = ""
    before: dict[str, float | None] | None = None
    new_items: list[str] = field(default_factory=list)
    sensitivity: dict[str, Sensitivity] = field(default_factory=dict)
    scenarios: dict[str, Forecast] = field(default_factory=dict)
    draws: dict[str, np.ndarray] = field(default_factory=dict)


def _quiet(step: str) -> None:
    """Say nothing about progress."""


def gather(
    spec: ModelSpec,
    *,
    ledger_url: str | None = None,
    as_of: dt.date | None = None,
    as_recorded: bool = False,
    settings: FitSettings | None = None,
    since: dt.date | None = None,
    since_report: bool = False,
    progress: Callable[[str], None] = _quiet,
) -> ReportData:
    """Forecast as of a day from the model's ledger and collect what a report shows.

    The forecast is recorded in the ledger's history like any other, so the
    report's trajectories end with it, and the report itself is recorded (what
    it showed and the items behind it) for the next one's ``since_report``.

    Parameters
    ----------
    spec : ModelSpec
    ledger_url : str, optional
        The ledger (default: the SQLite file beside the model, filled from the
        shipped evidence on first use).
    as_of : date, optional
        The report's day; without one, the whole record.
    as_recorded : bool
        With ``as_of``, what was on record that day only.
    settings : FitSettings, optional
        Settings of a fit, if one is needed.
    since : date, optional
        Compare with the forecast as of this day, as recorded then: what moved,
        by how much, and the items that were not on record then.
    since_report : bool
        Compare with the last report made from this ledger: the probabilities
        it showed and the items it had.
    progress : callable
        Called with the name of each step as it starts (long work shows progress).

    Raises
    ------
    SpecError
        For both ``since`` and ``since_report``.
    """
    if since is not None and since_report:
        raise SpecError(
            "report", "--since", "both --since and --since-report.", "give one of the two."
        )
    settings = settings or FitSettings()
    progress("reading the evidence in force")
    chosen = evidence_in_force(spec, ledger_url=ledger_url, as_of=as_of, as_recorded=as_recorded)
    assert chosen.ledger is not None  # a report reads the model's ledger, never a file
    previous = chosen.ledger.last_report() if since_report else None  # before this one's record
    progress("fitting, or reading the stored fit of exactly this evidence")
    outcome = forecast_and_record(
        spec, chosen.evidence, settings, chosen.ledger, as_of=as_of, as_recorded=as_recorded,
        report=True, exact=True,  # a fit of exactly this evidence, whatever else is stored
    )  # fmt: skip
    found = _what_matters(chosen.evidence, outcome, progress)
    compared = _compared(spec, chosen, settings, since, since_report, previous, progress)
    return _report_data(spec, chosen, outcome, {**found, **compared})


def withdrawn_by(on_record: Sequence[Item]) -> dict[str, str]:
    """Return each retracted item's id and who retracted it (the retraction's author, or id).

    Parameters
    ----------
    on_record : sequence of Item
        A ledger's items, retractions included.

    Returns
    -------
    dict
        Retracted item id -> the retraction's author, or its id where it names none.
    """
    return {i.fields["retracts"]: i.author or i.id for i in on_record if i.kind == "retraction"}


def _report_data(
    spec: ModelSpec, chosen: InForce, outcome: Forecasted, fields: dict[str, Any]
) -> ReportData:
    """Return the report's data: the forecast, the evidence, the record, and ``fields``."""
    assert chosen.ledger is not None
    on_record = chosen.ledger.items()
    withdrawn = withdrawn_by(on_record)
    return ReportData(
        spec,
        outcome.forecast,
        list(chosen.evidence.items),
        [i for i in on_record if i.id in withdrawn],
        withdrawn,
        {qid: chosen.ledger.history(qid) for qid in spec.questions},
        [*chosen.notes, *outcome.notes, *fields.pop("notes", [])],
        **fields,
    )


def _compared(
    spec: ModelSpec,
    chosen: InForce,
    settings: FitSettings,
    since: dt.date | None,
    since_report: bool,
    previous: ReportRecord | None,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Return what the report is compared with, as ReportData's fields.

    The forecast as of ``since``, as recorded then, or the ``previous``
    report; without either, nothing (and a note if a report was asked for).
    """
    evidence, book = chosen.evidence, chosen.ledger
    assert book is not None
    if since is not None:
        progress(f"forecasting as of {since}, as recorded then")
        then = book.evidence(as_of=since, as_recorded=True)
        earlier = run_forecast(spec, then, settings).forecast
        # New, or changed since (time passing extends its survival item).
        return {
            "since": str(since),
            "before": {q.id: q.probability for q in earlier.questions},
            "new_items": [i.id for i in evidence.items if i not in then.items],
        }
    if previous is not None:
        made = previous.created_at.strftime("%Y-%m-%d %H:%M UTC")
        day = f", as of {previous.as_of}" if previous.as_of else ""
        return {
            "since": f"the last report ({made}{day})",
            "before": previous.probabilities,
            "new_items": previous.new_items(evidence),
        }
    if since_report:
        return {
            "notes": ["no earlier report of this model in the ledger: nothing to compare with."]
        }
    return {}


def _what_matters(
    evidence: EvidenceSet, outcome: Forecasted, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Return what the report computes from the posterior's draws, as ReportData's fields.

    The value of learning each condition and its do() effects, each item's
    effect, each forecast's prior sensitivity, the named scenarios and the draws.
    One :class:`~allegiance.update.Updater` evaluates the model's terms on the
    draws once, and every part reads them from it.
    """
    from allegiance.update.attribution import effect_matrix
    from allegiance.update.scenarios import what_matters
    from allegiance.update.sensitivity import forecast_sensitivity

    updater, base = updater_of(outcome), outcome.forecast
    spec, posterior = updater.spec, updater.posterior
    blocks = updater.blocks(evidence)  # kept here: the items' forecasts below evaluate others
    progress("what learning each condition, and setting it, would do to each forecast")
    information, effects = what_matters(spec, blocks)
    progress("what each item did to each forecast")
    matrix = effect_matrix(updater, evidence)
    progress("how much each forecast depends on the priors (power-scaling)")
    draws = posterior.flat_draws()
    per_draw, log_lik = updater.per_draw(evidence), updater.log_likelihood(evidence)
    sensitivity = forecast_sensitivity(spec, draws, per_draw, log_lik)
    if spec.scenarios:
        progress(f"the model's {len(spec.scenarios)} named scenario(s)")
    scenarios = {
        name: scenario_forecast(updater, blocks, base, s.setting, s.mode, evidence.as_of)
        for name, s in spec.scenarios.items()
    }
    return {
        "information": information,
        "effects": effects,
        "matrix": matrix,
        "sensitivity": sensitivity,
        "scenarios": scenarios,
        "draws": draws,
    }
