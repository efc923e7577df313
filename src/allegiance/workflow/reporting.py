"""What a report shows: the forecast as of a day, the evidence behind it, and the record.

:func:`gather` decides what to compute (a forecast with as little sampling as
can be, through :func:`~allegiance.workflow.forecasting.run_forecast`) and
collects everything a report needs; the faces (:mod:`allegiance.report`)
only lay it out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from allegiance.errors import SpecError
from allegiance.evidence import EvidenceSet, Item
from allegiance.forecast import Forecast
from allegiance.posterior import ESS_MIN, FitSettings
from allegiance.spec import ModelSpec
from allegiance.workflow.forecasting import evidence_in_force, run_forecast


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
    since : date, optional
        The day the report is compared with ("what changed since").
    before : Forecast, optional
        The forecast as of ``since``, as recorded then.
    new_items : list of str
        Items in force now that were not on record in force as of ``since``.
    """

    spec: ModelSpec
    forecast: Forecast
    evidence: list[Item]
    retracted: list[Item] = field(default_factory=list)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    information: dict[str, dict[str, float]] = field(default_factory=dict)
    effects: dict[str, dict[str, float]] = field(default_factory=dict)
    matrix: dict[str, dict[str, float | None]] = field(default_factory=dict)
    since: dt.date | None = None
    before: Forecast | None = None
    new_items: list[str] = field(default_factory=list)


def gather(
    spec: ModelSpec,
    *,
    ledger_url: str | None = None,
    as_of: dt.date | None = None,
    as_recorded: bool = False,
    settings: FitSettings | None = None,
    since: dt.date | None = None,
) -> ReportData:
    """Forecast as of a day from the model's ledger and collect what a report shows.

    The forecast is recorded in the ledger's history like any other, so the
    report's trajectories end with it.

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
    """
    settings = settings or FitSettings()
    chosen = evidence_in_force(spec, ledger_url=ledger_url, as_of=as_of, as_recorded=as_recorded)
    assert chosen.evidence is not None and chosen.ledger is not None
    # A fit of exactly this evidence: a report's numbers never depend on what is stored.
    outcome = run_forecast(spec, chosen.evidence, settings, exact=True)
    assert outcome.forecast is not None and outcome.fit_path is not None
    information, effects, matrix = _what_matters(spec, chosen.evidence, outcome.fit_path)
    book = chosen.ledger
    book.record_forecast(
        outcome.forecast, as_of=as_of, as_recorded=as_recorded, fit_method=outcome.forecast.method
    )
    on_record = book.items()
    withdrawn = {i.fields["retracts"] for i in on_record if i.kind == "retraction"}
    before, new_items = None, []
    if since is not None:
        then = book.evidence(as_of=since, as_recorded=True)
        before = run_forecast(spec, then, settings).forecast
        # New, or changed since (time passing extends its survival item).
        new_items = [i.id for i in chosen.evidence.items if i not in then.items]
    return ReportData(
        spec,
        outcome.forecast,
        list(chosen.evidence.items),
        [i for i in on_record if i.id in withdrawn],
        {qid: book.history(qid) for qid in spec.questions},
        [*chosen.notes, *outcome.notes],
        information,
        effects,
        matrix,
        since,
        before,
        new_items,
    )


def _what_matters(
    spec: ModelSpec, evidence: EvidenceSet, fit_path: Path
) -> tuple[
    dict[str, dict[str, float]], dict[str, dict[str, float]], dict[str, dict[str, float | None]]
]:
    """Return the value of learning each condition, its do() effects, and each item's effect."""
    from allegiance.evidence import model_data
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater
    from allegiance.update.attribution import effect_matrix
    from allegiance.update.scenarios import what_matters

    posterior = load_posterior(fit_path, spec, evidence)
    information, effects = what_matters(spec, model_data(spec, evidence), posterior.flat_draws())
    matrix = effect_matrix(Updater(posterior, posterior.settings), evidence)
    return information, effects, matrix


def run_scenario(
    spec: ModelSpec,
    evidence: EvidenceSet,
    setting: dict[str, bool],
    *,
    mode: str = "do",
    settings: FitSettings | None = None,
) -> tuple[Forecast, Forecast]:
    """Forecast with and without a scenario, from a fit of exactly this evidence.

    Parameters
    ----------
    spec : ModelSpec
    evidence : EvidenceSet
        The evidence in force.
    setting : dict
        Binary condition id -> value.
    mode : {"do", "observe"}
        See :mod:`allegiance.update.scenarios`.
    settings : FitSettings, optional

    Returns
    -------
    (Forecast, Forecast)
        The forecast as it stands, and under the scenario (its method names it).
    """
    from allegiance.evidence import model_data
    from allegiance.forecast import summarise
    from allegiance.posterior import load_posterior
    from allegiance.update.reweight import weighted_ess
    from allegiance.update.scenarios import scenario_draws

    unknown = [c for c in setting if c not in spec.binary_conditions]
    if unknown:
        raise SpecError(
            "scenario",
            "--set",
            f"unknown binary condition(s) {', '.join(unknown)}.",
            "use one of: " + ", ".join(spec.binary_conditions) + ".",
        )
    outcome = run_forecast(spec, evidence, settings or FitSettings(), exact=True)
    assert outcome.forecast is not None and outcome.fit_path is not None
    posterior = load_posterior(outcome.fit_path, spec, evidence)
    per_draw, log_w = scenario_draws(
        spec, model_data(spec, evidence), posterior.flat_draws(), setting, mode
    )
    d = outcome.forecast.diagnostics
    ess = min(weighted_ess(v, log_w, posterior.shape) for v in per_draw.values())
    problems = list(d.problems)
    if mode == "observe" and not ess >= ESS_MIN:
        problems.append(f"the observed setting leaves {ess:.0f} effective draws (< {ESS_MIN:.0f})")
    words = ", ".join(f"{c}={'true' if v else 'false'}" for c, v in setting.items())
    result = summarise(
        spec,
        per_draw,
        replace(d, problems=problems),
        {**outcome.forecast.provenance, "scenario": {"mode": mode, "setting": setting}},
        np.exp(log_w),
        method=f"scenario ({mode})",
        reason=f"{mode}({words}) on the fit of exactly this evidence",
        as_of=evidence.as_of,
    )
    return outcome.forecast, result
