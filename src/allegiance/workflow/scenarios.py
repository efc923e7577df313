"""Scenario forecasts: the forecasts if some conditions were otherwise, from one fit.

A scenario (named in the model file, or a setting given by hand) reweights the
draws of a fit of exactly the evidence in force (:mod:`allegiance.update.scenarios`
says how ``do`` and ``observe`` differ): no scenario samples again, so every
named scenario of a theatre costs one fit, and its numbers depend on the model,
the evidence and the settings only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from allegiance.errors import SpecError
from allegiance.evidence import EvidenceSet
from allegiance.forecast import Forecast
from allegiance.posterior import ESS_MIN, FitSettings
from allegiance.spec import ModelSpec
from allegiance.workflow.forecasting import Forecasted, run_forecast

if TYPE_CHECKING:
    from allegiance.update import Updater
    from allegiance.update.scenarios import Block


def scenario_forecast(
    updater: Updater,
    blocks: Sequence[Block],
    base: Forecast,
    setting: Mapping[str, bool],
    mode: str,
    as_of: dt.date | None,
) -> Forecast:
    """Return the forecast under a scenario, from the draws ``base`` was made of.

    Parameters
    ----------
    updater : Updater
        The updater of the fit ``base`` comes from.
    blocks : sequence of Block
        The draws' blocks (:meth:`~allegiance.update.Updater.blocks` of the evidence).
    base : Forecast
        The forecast as it stands; its diagnostics and provenance carry over.
    setting : mapping
        Binary condition id -> value.
    mode : {"do", "observe"}
    as_of : date, optional

    Returns
    -------
    Forecast
        Its method names the scenario; an observed setting that leaves too few
        effective draws is among its diagnostics' problems.
    """
    from allegiance.forecast import summarise
    from allegiance.update.reweight import weighted_ess
    from allegiance.update.scenarios import scenario_draws

    spec = updater.spec
    per_draw, log_w = scenario_draws(spec, blocks, setting, mode)
    d = base.diagnostics
    ess = min(weighted_ess(v, log_w, updater.posterior.shape) for v in per_draw.values())
    problems = list(d.problems)
    if mode == "observe" and not ess >= ESS_MIN:
        problems.append(f"the observed setting leaves {ess:.0f} effective draws (< {ESS_MIN:.0f})")
    words = ", ".join(f"{c}={'true' if v else 'false'}" for c, v in setting.items())
    return summarise(
        spec,
        per_draw,
        replace(d, problems=problems),
        {**base.provenance, "scenario": {"mode": mode, "setting": dict(setting)}},
        np.exp(log_w),
        method=f"scenario ({mode})",
        reason=f"{mode}({words}) on the fit of exactly this evidence",
        as_of=as_of,
    )


def run_scenario(
    spec: ModelSpec,
    evidence: EvidenceSet,
    setting: Mapping[str, bool],
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
    setting : mapping
        Binary condition id -> value.
    mode : {"do", "observe"}
        See :mod:`allegiance.update.scenarios`.
    settings : FitSettings, optional

    Returns
    -------
    (Forecast, Forecast)
        The forecast as it stands, and under the scenario (its method names it).
    """
    unknown = [c for c in setting if c not in spec.binary_conditions]
    if unknown:
        raise SpecError(
            "scenario",
            "--set",
            f"unknown binary condition(s) {', '.join(unknown)}.",
            "use one of: " + ", ".join(spec.binary_conditions) + ".",
        )
    base, under = named_scenarios(spec, evidence, {"": (setting, mode)}, settings)
    return base, under[""]


def named_scenarios(
    spec: ModelSpec,
    evidence: EvidenceSet,
    scenarios: Mapping[str, tuple[Mapping[str, bool], str]],
    settings: FitSettings | None = None,
) -> tuple[Forecast, dict[str, Forecast]]:
    """Forecast as things stand and under each scenario, all from one fit of this evidence.

    Parameters
    ----------
    spec : ModelSpec
    evidence : EvidenceSet
        The evidence in force.
    scenarios : mapping
        Name -> (setting, mode), each setting's conditions binary conditions of the model.
    settings : FitSettings, optional

    Returns
    -------
    (Forecast, dict)
        The forecast as it stands, and each scenario's forecast by name.
    """
    outcome = run_forecast(spec, evidence, settings or FitSettings(), exact=True)
    return outcome.forecast, scenarios_on(outcome, evidence, scenarios)


def scenarios_on(
    outcome: Forecasted,
    evidence: EvidenceSet,
    scenarios: Mapping[str, tuple[Mapping[str, bool], str]],
) -> dict[str, Forecast]:
    """Return each scenario's forecast by name, from an exact forecast's fit.

    Parameters
    ----------
    outcome : Forecasted
        An exact forecast (``run_forecast(..., exact=True)``) of ``evidence``.
    evidence : EvidenceSet
    scenarios : mapping
        Name -> (setting, mode).
    """
    updater, base = updater_of(outcome), outcome.forecast
    blocks = updater.blocks(evidence)
    return {
        name: scenario_forecast(updater, blocks, base, setting, mode, evidence.as_of)
        for name, (setting, mode) in scenarios.items()
    }


def updater_of(outcome: Forecasted) -> Updater:
    """Return the updater of an exact forecast's fit: the forecast's own, or one made now."""
    from allegiance.update import Updater

    if outcome.updater is not None:
        return outcome.updater
    assert outcome.posterior is not None  # an exact forecast keeps its fit in memory
    return Updater(outcome.posterior, outcome.posterior.settings)
