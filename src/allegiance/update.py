"""Fast updates: reweight stored posterior draws for new evidence, or refit when that fails.

A posterior fitted on evidence ``E0`` is turned into one for evidence ``E1``
by importance sampling: each draw is weighted by ``p(E1 | θ) / p(E0 | θ)``,
both computed exactly per draw with the configurations marginalised
(:func:`allegiance.model.terms` in numpy). The weights are Pareto-smoothed
(ArviZ ``psislw``). The result is kept when the Pareto shape ``k`` is at most
0.7 and the effective sample size left after weighting is at least 400;
otherwise the model is refitted by MCMC. Either way the forecast says which
path was taken and why.

Per-configuration question probabilities depend on the evidence only through
what has already happened (months survived, forward counts seen); they are
cached per draw, so a new item costs one evaluation of the log-likelihood and
one weighted sum.

:func:`replay` runs the same machinery through time: forecasts as of a
sequence of dates, each carried over from the latest MCMC fit by reweighting,
with a refit (which becomes the new base) wherever the weights fail.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.special as sp

from allegiance.evidence import EvidenceSet, Item, ModelData, in_force, model_data
from allegiance.forecast import CHUNK, Forecast, forecast, provenance_of, summarise
from allegiance.model import DATA_NAMES, _numpy_ops, active_rows, quantities, structure, terms
from allegiance.posterior import ESS_MIN, FitSettings, Posterior, fit
from allegiance.questions import QUESTION_KINDS
from allegiance.spec import ModelSpec

K_MAX = 0.7


@dataclass
class Reweighting:
    """Importance weights that carry a posterior over to other evidence."""

    log_weights: np.ndarray  # (S,), normalised, Pareto-smoothed
    pareto_k: float
    ess: float  # effective sample size after weighting
    accepted: bool
    reason: str


@dataclass
class Attribution:
    """How much one evidence item moved one forecast."""

    item_id: str
    kind: str
    note: str
    with_item: float
    without_item: float
    method: str

    @property
    def delta(self) -> float:
        """Return the change in probability the item made."""
        return self.with_item - self.without_item

    @property
    def delta_log_odds(self) -> float:
        """Return the change in log-odds the item made."""
        return _logit(self.with_item) - _logit(self.without_item)


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _question_key(data: ModelData, spec_history: int) -> bytes:
    """Key what questions read from the evidence directly: exposure, departures, forward counts."""
    parts = (
        data.slot_events,
        data.slot_nonevents,
        data.counts[:, spec_history:],
        data.count_mask[:, spec_history:],
    )
    return b"".join(np.ascontiguousarray(p).tobytes() for p in parts)


@dataclass
class Updater:
    """A fitted posterior ready to be carried over to other evidence.

    Parameters
    ----------
    posterior : Posterior
        An MCMC fit; its draws are reweighted, never resampled.
    settings : FitSettings, optional
        Settings of the refit when reweighting fails; the posterior's own by default.
    """

    posterior: Posterior
    settings: FitSettings | None = None
    _draws: dict[str, np.ndarray] = field(init=False, repr=False)
    _base_ll: np.ndarray = field(init=False, repr=False)
    _base_forecast: Forecast = field(init=False, repr=False)
    _questions: dict[bytes, np.ndarray] = field(init=False, repr=False, default_factory=dict)
    _evaluated: dict[str, tuple[ModelData, np.ndarray, np.ndarray]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self._draws = self.posterior.flat_draws()
        self._structure = structure(self.posterior.spec)
        _, self._base_ll = self.log_joint(model_data(self.posterior.spec, self.posterior.evidence))
        self._base_forecast = forecast(self.posterior)

    @property
    def spec(self) -> Any:
        """Return the model."""
        return self.posterior.spec

    @property
    def base_ess(self) -> float:
        """Return the smallest ESS of the fit over free variables and forecasts."""
        d = self._base_forecast.diagnostics
        return min(d.min_ess_bulk, d.min_ess_tail)

    def log_joint(self, data: ModelData) -> tuple[np.ndarray, np.ndarray]:
        """Return the per-draw, per-configuration log joint (S, Z) and log-likelihood (S,)."""
        d = {name: getattr(data, name) for name in DATA_NAMES}
        active = active_rows(d, self._structure)
        t = terms(self._draws, d, self._structure, _numpy_ops(), active)
        log_joint = t["log_joint"]
        return log_joint, sp.logsumexp(log_joint, axis=-1) + t["constant"]

    def _evaluate(self, evidence: EvidenceSet) -> tuple[ModelData, np.ndarray, np.ndarray]:
        """Return data, log joint and log-likelihood of an evidence set; keep the last few."""
        if evidence.sha256 not in self._evaluated:
            data = model_data(self.spec, evidence)
            if len(self._evaluated) >= 4:
                self._evaluated.pop(next(iter(self._evaluated)))
            self._evaluated[evidence.sha256] = (data, *self.log_joint(data))
        return self._evaluated[evidence.sha256]

    def reweight(self, evidence: EvidenceSet) -> Reweighting:
        """Compute importance weights from the fitted evidence to ``evidence``, with checks."""
        import arviz as az

        _, _, ll = self._evaluate(evidence)
        n = ll.size
        log_ratio = ll - self._base_ll
        if np.allclose(log_ratio, log_ratio[0], rtol=0.0, atol=1e-9):
            return Reweighting(
                np.full(n, -math.log(n)),
                0.0,
                self.base_ess,
                True,
                "same likelihood as the fit: weights are equal",
            )
        lw, k = az.psislw(log_ratio, reff=min(1.0, self.base_ess / n))
        k = float(k)
        w = np.exp(lw)
        ess = self.base_ess * (1.0 / np.sum(w**2)) / n
        if not np.isfinite(k) or k > K_MAX:
            return Reweighting(lw, k, ess, False, f"Pareto k {k:.2f} > {K_MAX}: refit needed")
        if ess < ESS_MIN:
            return Reweighting(
                lw, k, ess, False, f"effective sample size {ess:.0f} < {ESS_MIN:.0f}: refit needed"
            )
        return Reweighting(lw, k, ess, True, f"Pareto k {k:.2f} <= {K_MAX}, ESS {ess:.0f}")

    def _per_config(self, data: ModelData) -> np.ndarray:
        """Return the per-draw, per-configuration probability of every question (S, Z, Q)."""
        key = _question_key(data, self.spec.history_months)
        if key not in self._questions:
            blocks = []
            n = next(iter(self._draws.values())).shape[0]
            for start in range(0, n, CHUNK):
                block = {k: v[start : start + CHUNK] for k, v in self._draws.items()}
                q = quantities(self.spec, data, block)
                blocks.append(
                    np.stack(
                        [
                            QUESTION_KINDS[x.kind].compute(q, x)
                            for x in self.spec.questions.values()
                        ],
                        axis=-1,
                    )
                )
            # Each entry is (S, Z, Q) floats (about 100 MB for the reference model): keep a
            # few, or a replay or a long run of counts would hold one per month.
            if len(self._questions) >= 4:
                self._questions.pop(next(iter(self._questions)))
            self._questions[key] = np.concatenate(blocks)
        return self._questions[key]

    def per_draw(self, evidence: EvidenceSet) -> dict[str, np.ndarray]:
        """Return each question's and binary condition's probability per draw under evidence."""
        data, log_joint, _ = self._evaluate(evidence)
        w = np.exp(log_joint - sp.logsumexp(log_joint, axis=-1, keepdims=True))
        probs = np.clip(np.einsum("sz,szq->sq", w, self._per_config(data)), 0.0, 1.0)
        out = {qid: probs[:, i] for i, qid in enumerate(self.spec.questions)}
        conditions = w @ self._structure.configurations.T
        out.update(
            {f"condition:{c}": conditions[:, b] for b, c in enumerate(self.spec.binary_conditions)}
        )
        return out

    def forecast(self, evidence: EvidenceSet, *, allow_refit: bool = True) -> Forecast:
        """Forecast under ``evidence``: reweighted if the weights pass, else refitted.

        Parameters
        ----------
        evidence : EvidenceSet
            The evidence in force.
        allow_refit : bool
            Refit by MCMC when reweighting fails; otherwise return the
            reweighted forecast marked untrustworthy.
        """
        if evidence.sha256 == self.posterior.evidence.sha256:
            return self._base_forecast
        rw = self.reweight(evidence)
        if not rw.accepted and allow_refit:
            refit = fit(self.spec, evidence, self.settings or self.posterior.settings)
            result = forecast(refit)
            result.method, result.method_reason = "mcmc", f"refitted: {rw.reason}"
            return result
        base = self._base_forecast.diagnostics
        problems = list(base.problems) + ([] if rw.accepted else [rw.reason])
        diagnostics = replace(base, problems=problems)
        result = summarise(
            self.spec,
            self.per_draw(evidence),
            diagnostics,
            provenance_of(self.posterior, evidence),
            np.exp(rw.log_weights),
        )
        result.method, result.method_reason = "reweighted", rw.reason
        result.provenance["pareto_k"], result.provenance["importance_ess"] = rw.pareto_k, rw.ess
        return result

    def explain(
        self, evidence: EvidenceSet, question: str, *, allow_refit: bool = False
    ) -> list[Attribution]:
        """Measure how much each item in force moved one question's forecast, largest first.

        Each item is left out in turn and the forecast recomputed by
        reweighting; where the weights fail, by a refit if ``allow_refit``,
        otherwise the row says the reweighting failed.
        """
        full = self.forecast(evidence)
        p_full = _probability(full, question)
        rows = []
        for item in evidence.items:
            without = EvidenceSet.of([i for i in evidence.items if i.id != item.id])
            result = self.forecast(without, allow_refit=allow_refit)
            method = result.method if result.trustworthy else f"unreliable ({result.method_reason})"
            rows.append(
                Attribution(
                    item.id, item.kind, item.note, p_full, _probability(result, question), method
                )
            )
        return sorted(rows, key=lambda a: abs(a.delta_log_odds), reverse=True)


def _probability(result: Forecast, question: str) -> float:
    for q in result.questions:
        if q.id == question:
            return q.probability
    raise KeyError(question)


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
        ``"mcmc"``: the model was fitted at this date, and that fit is the
        base of the dates that follow.
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


def _relabel(result: Forecast, method: str, reason: str, **provenance: float) -> Forecast:
    """Return a copy of a forecast with another method and reason (the original is cached)."""
    return replace(
        result,
        method=method,
        method_reason=reason,
        provenance={**result.provenance, **provenance},
    )


def replay(
    spec: ModelSpec,
    items: Sequence[Item],
    dates: Sequence[dt.date],
    settings: FitSettings | None = None,
    *,
    as_recorded: bool = False,
    base: Posterior | None = None,
) -> list[ReplayStep]:
    """Forecast as of each of a sequence of dates, sampling only when reweighting fails.

    At each date the evidence in force is ``in_force(items, date,
    as_recorded)``. The forecast is carried over from the current base fit by
    importance reweighting (:class:`Updater`). When the weights are refused
    (Pareto k > 0.7, or too small an effective sample size), the model is
    refitted by MCMC on that date's evidence, and the new fit becomes the base
    for the dates that follow. A replay started without ``base`` fits at its
    first date.

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
    updater: Updater | None = None
    steps: list[ReplayStep] = []
    for when in dates:
        start = time.perf_counter()
        evidence = EvidenceSet.of(in_force(items, when, as_recorded))
        if updater is None and base is not None:
            updater = Updater(base, settings)
        if updater is None:
            updater = Updater(fit(spec, evidence, settings), settings)
            result = _relabel(
                updater.forecast(evidence), "mcmc", f"fitted by MCMC at {when}: no base fit given"
            )
            method, k = "mcmc", math.nan
        else:
            rw = updater.reweight(evidence)
            if rw.accepted:
                result = updater.forecast(evidence, allow_refit=False)
                if result.method != "reweighted":  # the base fit's own evidence
                    result = _relabel(
                        result,
                        "reweighted",
                        f"{rw.reason}: the base fit's own evidence",
                        pareto_k=rw.pareto_k,
                        importance_ess=rw.ess,
                    )
                method, k = "reweighted", rw.pareto_k
            else:
                updater = Updater(fit(spec, evidence, settings), settings)
                result = _relabel(
                    updater.forecast(evidence), "mcmc", f"refitted at {when}: {rw.reason}"
                )
                method, k = "mcmc", rw.pareto_k
        steps.append(ReplayStep(when, result, method, k, time.perf_counter() - start))
    return steps
