"""Replay: forecasts as of a sequence of dates, fitting only where reweighting fails."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from allegiance.evidence import EvidenceSet, Item, in_force, model_data
from allegiance.evidence.outcomes import with_time_passing
from allegiance.forecast import Forecast
from allegiance.model.data import midway
from allegiance.posterior import ESS_MIN, FitSettings, Posterior, fit
from allegiance.spec import ModelSpec
from allegiance.update.updater import Updater

REACH_MARGIN = 1.5  # a look-ahead proposal must be predicted to keep 1.5 x the ESS needed


@dataclass(frozen=True)
class ReplayStep:
    """One date of a :func:`replay`: the forecast as of that date and how it was obtained.

    Attributes
    ----------
    date : datetime.date
        The as-of date: the forecast uses the evidence in force on it.
    forecast : Forecast
        The forecast. Its provenance names the evidence in force
        (``evidence_sha256``) and the evidence of the fit it comes from
        (``fitted_evidence_sha256``).
    method : str
        ``"reweighted"``: the draws of the current base fit, importance
        weighted (equal weights when the evidence is the base fit's own);
        ``"mcmc"``: the model was fitted at this date (to a look-ahead
        proposal, the forecast then reweighted from it, or to this date's
        evidence), and that fit is the base of the dates that follow.
    pareto_k : float
        Pareto shape of the importance weights from the base fit to this
        date's evidence: the accepted value for a reweighted step, the refused
        value that caused a refit (which may be <= 0.7 when the effective
        sample size was what failed), NaN for the first fit of a replay
        started without a base.
    seconds : float
        Wall time of the step: weights and forecast, or fit and forecast (with
        the :class:`Updater` of the new fit). The first step also includes
        preparing the ``Updater`` of ``base``.
    """

    date: dt.date
    forecast: Forecast
    method: str
    pareto_k: float
    seconds: float


def replay(
    spec: ModelSpec,
    items: Sequence[Item],
    dates: Sequence[dt.date],
    settings: FitSettings | None = None,
    *,
    as_recorded: bool = False,
    base: Posterior | None = None,
    on_step: Callable[[ReplayStep], None] | None = None,
) -> list[ReplayStep]:
    """Forecast as of each of a sequence of dates, sampling only when reweighting fails.

    At each date the evidence in force is ``in_force(items, date,
    as_recorded)``. The forecast is carried over from the current base fit by
    importance reweighting (:class:`Updater`). When the weights are refused
    (Pareto k > 0.7, or too small an effective sample size), the model is
    refitted by MCMC, and the new fit becomes the base for the dates that
    follow. A replay started without ``base`` fits at its first date.

    A refit looks ahead: it is fitted to evidence arrays midway between this
    date's and those of a date as many dates ahead as the previous base
    served (every likelihood term at half weight: a bridge between the two
    posteriors, wider than the later one), and each date, this one included,
    is reweighted from it. Where the weights from that proposal to this date
    fail, the model is fitted to this date's evidence instead. The
    forecast's provenance names the proposal (``fitted_proposal``).

    Parameters
    ----------
    spec : ModelSpec
        The model.
    items : sequence of Item
        Everything recorded, retractions included; each date keeps what was
        in force then (see :func:`allegiance.evidence.in_force`).
    dates : sequence of datetime.date
        As-of dates, oldest first.
    settings : FitSettings, optional
        Settings of every fit; by default those of ``base``, or
        ``FitSettings()`` without a base.
    as_recorded : bool
        Also leave out, at each date, what was recorded after it: the record
        as it stood on that day. Items without ``recorded_at`` are then left
        out everywhere.
    base : Posterior, optional
        A fit of the same model to start from, on any evidence.
    on_step : callable, optional
        Called with each step as it is done (a progress bar).

    Returns
    -------
    list of ReplayStep
        One per date, in order.

    Raises
    ------
    ValueError
        If the dates are not in order, or ``base`` is a fit of another model.

    Notes
    -----
    A refitted base is kept even if its sampling diagnostics fail; its
    forecast, and those reweighted from it, are then marked untrustworthy.

    Examples
    --------
    >>> import datetime as dt
    >>> steps = replay(spec, items, [dt.date(2020, m, 1) for m in range(1, 13)])  # doctest: +SKIP
    >>> [(s.date, s.method, s.forecast.questions[0].probability) for s in steps]  # doctest: +SKIP
    """
    if any(b < a for a, b in zip(dates, dates[1:], strict=False)):
        raise ValueError("replay dates must be in order, oldest first")
    if base is not None and base.spec.sha256 != spec.sha256:
        raise ValueError(
            f"the base fit is of model {base.spec.id} ({base.spec.sha256[:12]}), "
            f"not of {spec.id} ({spec.sha256[:12]})"
        )
    settings = settings or (base.settings if base is not None else FitSettings())
    evidences = [
        EvidenceSet.of(
            with_time_passing(spec, in_force(items, when, as_recorded), when),
            as_of=when,
            as_recorded=as_recorded,
        )
        for when in dates
    ]
    updater = Updater(base, settings) if base is not None else None
    fitted_at = 0  # index of the date the base was fitted at
    steps: list[ReplayStep] = []
    for i, (when, evidence) in enumerate(zip(dates, evidences, strict=True)):
        start = time.perf_counter()
        rw = updater.reweight(evidence) if updater is not None else None
        if updater is not None and rw is not None and rw.accepted:
            result = updater.forecast(evidence, allow_refit=False)
            steps.append(ReplayStep(when, result, "reweighted", rw.pareto_k, _since(start)))
            if on_step is not None:
                on_step(steps[-1])
            continue
        # A fit is needed: choose how far ahead its proposal reaches (see _reach).
        ahead = _reach(updater, spec, evidences, i, fitted_at)
        fitted_at = i
        why = (
            f"refitted at {when}: {rw.reason}"
            if rw is not None
            else f"fitted by MCMC at {when}: no base fit given"
        )
        updater, result = _fit_step(spec, settings, evidences, dates, i, ahead, why)
        k = rw.pareto_k if rw is not None else math.nan
        steps.append(ReplayStep(when, result, "mcmc", k, _since(start)))
        if on_step is not None:
            on_step(steps[-1])
    return steps


def _fit_step(
    spec: ModelSpec,
    settings: FitSettings,
    evidences: Sequence[EvidenceSet],
    dates: Sequence[dt.date],
    i: int,
    ahead: int,
    why: str,
) -> tuple[Updater, Forecast]:
    """Fit at date ``i``: midway to date ``ahead`` if that reaches back to ``i``, else exactly."""
    evidence = evidences[i]
    if ahead > i:
        proposal = midway(model_data(spec, evidence), model_data(spec, evidences[ahead]))
        posterior = fit(spec, evidence, settings, data=proposal)
        posterior.attrs["proposal"] = (
            f"midway between the evidence of {dates[i]} ({evidence.sha256[:12]}) and of "
            f"{dates[ahead]} ({evidences[ahead].sha256[:12]})"
        )
        candidate = Updater(posterior, settings)
        if candidate.reweight(evidence).accepted:
            context = (
                f"{why}; fitted midway to the evidence of {dates[ahead]}, reweighted to this date"
            )
            return candidate, candidate.forecast(evidence, allow_refit=False, context=context)
    # No proposal, or it does not reach this date: fit this date's evidence.
    updater = Updater(fit(spec, evidence, settings), settings)
    return updater, updater.forecast(evidence, context=why)


def _reach(
    updater: Updater | None,
    spec: ModelSpec,
    evidences: Sequence[EvidenceSet],
    i: int,
    fitted_at: int,
) -> int:
    """Index of the date a refit at date ``i`` reaches ahead to (``i``: no look-ahead).

    Candidates are twice as far ahead as the last base served, then half
    that, and so on; the first whose midway proposal is predicted
    (:meth:`Updater.predicted_ess`) to reach back to date ``i`` with a margin
    is taken (each prediction costs an evaluation of the evidence on every
    draw, so few are tried). Without a base there is nothing to predict
    with: one date ahead.
    """
    last = len(evidences) - 1
    if updater is None:
        return min(i + 1, last)
    here = model_data(spec, evidences[i])

    def reaches(ahead: int) -> bool:
        proposal = midway(here, model_data(spec, evidences[ahead]))
        return updater.predicted_ess(here, proposal) >= REACH_MARGIN * ESS_MIN

    span = 2 * max(i - fitted_at, 1)
    while span >= 1:
        ahead = min(i + span, last)
        if ahead > i and reaches(ahead):
            return ahead
        span //= 2
    return i


def _since(start: float) -> float:
    return time.perf_counter() - start
