"""Fast updates: reweight stored posterior draws for new evidence, or refit when that fails.

A posterior fitted on evidence ``E0`` is turned into one for evidence ``E1``
by importance sampling: each draw is weighted by ``p(E1 | θ) / p(E0 | θ)``,
both computed exactly per draw with the configurations marginalised
(:func:`allegiance.model.terms` in numpy). The weights are Pareto-smoothed
(ArviZ ``psislw``). The result is kept when the Pareto shape ``k`` is at most
0.7 and every number the forecast shows (each question's and condition's
probability) keeps an effective sample size of at least 400 under the weights
(:func:`weighted_ess`: the weights and the chains' autocorrelation together);
otherwise the model is refitted by MCMC. Either way the forecast says which
path was taken and why.

What a new item costs is kept to what it touches:

- the log-likelihood is patched, not recomputed: only the rows (a slot, or a
  count channel) whose evidence differs from the base fit's are evaluated
  again (:func:`allegiance.model.patch_terms`), each row's terms cached on
  that row's evidence;
- a question's per-configuration probabilities depend on the evidence only
  through the slots and channels it reads (:func:`allegiance.questions.reads`:
  months survived, departures, forward counts seen), and are cached on
  exactly that evidence: a report, or a count of another channel, costs the
  question nothing but one weighted sum.

A refit made because the weights failed becomes the base of later updates
(:meth:`Updater.adopt`), so a long run of items keeps reweighting from a fit
close to it.

:func:`replay` runs the same machinery through time: forecasts as of a
sequence of dates, each carried over from the latest MCMC fit by reweighting,
with a refit (which becomes the new base) wherever the weights fail. Its
refits look ahead: they fit evidence midway to a later date's, so that one
fit serves the dates on both sides of it.
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
from allegiance.model import (
    QUANTITY_TERMS,
    _numpy_ops,
    patch_terms,
    quantities,
    row_evidence,
    row_terms,
    structure,
    terms,
)
from allegiance.posterior import ESS_MIN, FitSettings, Posterior, diagnose, fit
from allegiance.questions import QUESTION_KINDS, reads
from allegiance.spec import ModelSpec

K_MAX = 0.7
REACH_MARGIN = 1.5  # a look-ahead proposal must be predicted to keep 1.5 x the ESS needed


@dataclass
class Reweighting:
    """Importance weights that carry a posterior over to other evidence."""

    log_weights: np.ndarray  # (S,), normalised, Pareto-smoothed
    pareto_k: float
    # Smallest ESS of a forecast quantity under the weights (weighted_ess); when the Pareto k
    # already failed, the weights' own 1 / sum(w**2).
    ess: float
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


@dataclass
class _State:
    """Evidence evaluated on the base draws: terms, log-likelihood, configuration weights."""

    data: ModelData
    terms: dict[str, np.ndarray]
    log_lik: np.ndarray  # (S,)
    weights: np.ndarray  # (S, Z): each configuration's probability within each draw
    reweighting: Reweighting | None = None  # from the base, once computed
    per_draw: dict[str, np.ndarray] | None = None  # each forecast quantity per draw, once computed

    @classmethod
    def of(cls, data: ModelData, t: dict[str, np.ndarray]) -> _State:
        log_joint = t["log_joint"]
        log_lik, weights = np.empty(log_joint.shape[0]), np.empty_like(log_joint)
        for a in range(0, log_joint.shape[0], CHUNK):  # blocks that stay in cache
            block = log_joint[a : a + CHUNK]
            top = block.max(axis=-1, keepdims=True)
            e = np.exp(block - top)
            total = e.sum(axis=-1)
            log_lik[a : a + CHUNK] = np.log(total) + top[:, 0]
            np.divide(e, total[:, None], out=weights[a : a + CHUNK])
        return cls(data, t, log_lik + t["constant"], weights)


@dataclass
class Updater:
    """A fitted posterior ready to be carried over to other evidence.

    Parameters
    ----------
    posterior : Posterior
        An MCMC fit; its draws are reweighted, never resampled. A refit made
        by :meth:`forecast` replaces it as the base.
    settings : FitSettings, optional
        Settings of the refit when reweighting fails; the posterior's own by default.
    """

    posterior: Posterior
    settings: FitSettings | None = None
    _states: dict[str, _State] = field(init=False, repr=False, default_factory=dict)
    _questions: dict[str, dict[bytes, list[np.ndarray]]] = field(
        init=False, repr=False, default_factory=dict
    )
    _row_cache: dict[int, dict[bytes, tuple[np.ndarray, np.ndarray]]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.adopt(self.posterior)

    def adopt(self, posterior: Posterior) -> None:
        """Make ``posterior`` (a fit of the same model) the base of later updates."""
        self.posterior = posterior
        self._states.clear()
        self._questions.clear()
        self._row_cache.clear()
        self._target: tuple[ModelData, np.ndarray] | None = None
        self._draws = posterior.flat_draws()
        self._structure = structure(posterior.spec)
        data = posterior.data or model_data(posterior.spec, posterior.evidence)
        t = terms(self._draws, data.arrays(), self._structure, _numpy_ops())
        self._base = _State.of(data, t)
        if posterior.data is None:
            self._states[posterior.evidence.sha256] = self._base
        # Questions are evaluated in blocks of draws: (draw, configuration) arrays of a block
        # stay in cache, several times faster than one pass over all draws.
        n = next(iter(self._draws.values())).shape[0]
        self._blocks = [slice(a, min(a + CHUNK, n)) for a in range(0, n, CHUNK)]
        self._quantities = [
            quantities(
                posterior.spec,
                data,
                {k: v[b] for k, v in self._draws.items()},
                {k: t[k][b] for k in QUANTITY_TERMS if k in t},
            )
            for b in self._blocks
        ]
        self._reads = {qid: reads(self.spec, q) for qid, q in self.spec.questions.items()}
        self._base_forecast: Forecast | None = None
        if posterior.data is None:
            # A stored fit brings its diagnostics; its own forecast is made when asked for.
            if posterior.diagnostics is None:
                self._own_forecast()
            assert posterior.diagnostics is not None
            self._diagnostics = posterior.diagnostics
        else:  # a proposal: its own forecasts are never shown, its draws are checked
            self._diagnostics = diagnose(posterior.draws(), posterior.divergences)

    def _own_forecast(self) -> Forecast:
        """Return the base fit's forecast of its own evidence (made once)."""
        if self._base_forecast is None:
            p = self.posterior
            per_draw = self._per_draw(self._base)
            self._base_forecast = forecast(
                p, {k: v.reshape(p.shape) for k, v in per_draw.items()}
            )
        return self._base_forecast

    @property
    def spec(self) -> Any:
        """Return the model."""
        return self.posterior.spec

    @property
    def base_ess(self) -> float:
        """Return the smallest ESS of the fit over free variables and forecasts.

        Over free variables only for a proposal fit (``posterior.data`` set),
        whose own forecasts are never shown.
        """
        d = self._diagnostics
        return min(d.min_ess_bulk, d.min_ess_tail)

    def _evaluate(self, evidence: EvidenceSet) -> _State:
        """Evaluate an evidence set on the draws, from the base; keep the last few."""
        if evidence.sha256 not in self._states:
            if len(self._states) >= 4:  # the base stays; drop the oldest other one
                oldest = next(k for k in self._states if self._states[k] is not self._base)
                self._states.pop(oldest)
            self._states[evidence.sha256] = self._state(model_data(self.spec, evidence))
        return self._states[evidence.sha256]

    def _state(self, data: ModelData) -> _State:
        d = data.arrays()
        base = self._base
        t = patch_terms(
            self._draws,
            base.terms,
            base.data.arrays(),
            d,
            self._structure,
            rows=lambda which: self._rows(d, which),
        )
        return _State.of(data, t)

    def predicted_ess(self, target: ModelData, proposal: ModelData) -> float:
        """Predict the ESS of weights from a fit to ``proposal`` to ``target``, before fitting.

        With the base's draws standing in for both, the ratio of the
        effective to the actual sample size of weights ``p_target /
        p_proposal`` under ``p_proposal`` is ``E[L_t / L_b]**2 / (E[L_p /
        L_b] E[L_t**2 / (L_p L_b)])`` (expectations over the base fit, ``L``
        the likelihoods); it is scaled by the base's smallest ESS over its
        variables, more cautious than the check the weights then get
        (:func:`weighted_ess`). An estimate to choose a proposal by, not
        a check: the fit is checked again.
        """
        if self._target is None or self._target[0] is not target:
            self._target = (target, self._state(target).log_lik)
        base, t, p = self._base.log_lik, self._target[1], self._state(proposal).log_lik
        lse = sp.logsumexp
        log_ratio = 2 * lse(t - base) - lse(p - base) - lse(2 * t - p - base)
        return float(np.exp(min(log_ratio, 0.0))) * self.base_ess

    def _rows(
        self, d: dict[str, np.ndarray], rows: list[int]
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Return :func:`row_terms` of some rows under ``d``, cached on each row's evidence."""
        keys = {r: row_evidence(d, self._structure, r) for r in rows}
        missing = [r for r in rows if keys[r] not in self._row_cache.get(r, {})]
        computed = row_terms(self._draws, d, self._structure, missing) if missing else {}
        out = {}
        for r in rows:
            cache = self._row_cache.setdefault(r, {})
            if r in computed:
                if len(cache) >= 4:
                    cache.pop(next(iter(cache)))
                cache[keys[r]] = computed[r]
            else:
                cache[keys[r]] = cache.pop(keys[r])  # most recently used last
            out[r] = cache[keys[r]]
        return out

    def reweight(self, evidence: EvidenceSet) -> Reweighting:
        """Compute importance weights from the fitted evidence to ``evidence``, with checks."""
        state = self._evaluate(evidence)
        if state.reweighting is None:
            state.reweighting = self._reweight(state)
        return state.reweighting

    def _reweight(self, state: _State) -> Reweighting:
        import arviz as az

        n = state.log_lik.size
        log_ratio = state.log_lik - self._base.log_lik
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
        if not np.isfinite(k) or k > K_MAX:
            kish = 1.0 / float(np.sum(np.exp(2 * lw)))
            return Reweighting(lw, k, kish, False, f"Pareto k {k:.2f} > {K_MAX}: refit needed")
        ess = min(
            weighted_ess(x, lw, self.posterior.shape) for x in self._per_draw(state).values()
        )
        if ess < ESS_MIN:
            return Reweighting(
                lw, k, ess, False, f"effective sample size {ess:.0f} < {ESS_MIN:.0f}: refit needed"
            )
        return Reweighting(lw, k, ess, True, f"Pareto k {k:.2f} <= {K_MAX}, ESS {ess:.0f}")

    def _per_config(self, qid: str, data: ModelData) -> list[np.ndarray]:
        """Return one question's probability per draw and configuration, by block, cached.

        The cache key is the evidence the question reads (:func:`reads`): a
        report, or a count of another channel, leaves it as it was.
        """
        slots, channels = self._reads[qid]
        h = self.spec.history_months
        key = b"".join(
            np.ascontiguousarray(a).tobytes()
            for a in (
                data.slot_events[slots],
                data.slot_nonevents[slots],
                data.counts[channels, h:],
                data.count_mask[channels, h:],
            )
        )
        cache = self._questions.setdefault(qid, {})
        if key in cache:
            cache[key] = cache.pop(key)  # most recently used last
        else:
            if len(cache) >= 3:  # (S, Z) floats each: keep a few per question
                cache.pop(next(iter(cache)))
            question = self.spec.questions[qid]
            compute = QUESTION_KINDS[question.kind].compute
            cache[key] = [compute(replace(q, data=data), question) for q in self._quantities]
        return cache[key]

    def per_draw(self, evidence: EvidenceSet) -> dict[str, np.ndarray]:
        """Return each question's and binary condition's probability per draw under evidence."""
        return self._per_draw(self._evaluate(evidence))

    def _per_draw(self, state: _State) -> dict[str, np.ndarray]:
        if state.per_draw is None:
            state.per_draw = self._compute_per_draw(state)
        return state.per_draw

    def _compute_per_draw(self, state: _State) -> dict[str, np.ndarray]:
        out = {}
        for qid in self.spec.questions:
            per_config = self._per_config(qid, state.data)
            p = np.concatenate(
                [
                    np.einsum("sz,sz->s", state.weights[b], x)
                    for b, x in zip(self._blocks, per_config, strict=True)
                ]
            )
            out[qid] = np.clip(p, 0.0, 1.0)
        conditions = state.weights @ self._structure.configurations.T
        out.update(
            {f"condition:{c}": conditions[:, b] for b, c in enumerate(self.spec.binary_conditions)}
        )
        return out

    def forecast(self, evidence: EvidenceSet, *, allow_refit: bool = True) -> Forecast:
        """Forecast under ``evidence``: reweighted if the weights pass, else refitted.

        A refit becomes the base of later forecasts (:meth:`adopt`).

        Parameters
        ----------
        evidence : EvidenceSet
            The evidence in force.
        allow_refit : bool
            Refit by MCMC when reweighting fails; otherwise return the
            reweighted forecast marked untrustworthy.
        """
        return self._forecast(evidence, allow_refit=allow_refit, adopt=True)

    def _forecast(self, evidence: EvidenceSet, *, allow_refit: bool, adopt: bool) -> Forecast:
        if self.posterior.data is None and evidence.sha256 == self.posterior.evidence.sha256:
            return self._own_forecast()
        rw = self.reweight(evidence)
        if not rw.accepted and allow_refit:
            refit = fit(self.spec, evidence, self.settings or self.posterior.settings)
            if adopt:
                self.adopt(refit)
            own = self._own_forecast() if adopt else None
            result = replace(own) if own is not None else forecast(refit)
            result.method, result.method_reason = "mcmc", f"refitted: {rw.reason}"
            result.provenance = {**result.provenance, "pareto_k": rw.pareto_k}
            return result
        base = self._diagnostics
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
        reweighting; where the weights fail, by a refit if ``allow_refit``
        (which does not become the base), otherwise the row says the
        reweighting failed.
        """
        full = self.forecast(evidence)
        p_full = _probability(full, question)
        rows = []
        for item in evidence.items:
            without = EvidenceSet.of([i for i in evidence.items if i.id != item.id])
            result = self._forecast(without, allow_refit=allow_refit, adopt=False)
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
    evidences = [EvidenceSet.of(in_force(items, when, as_recorded)) for when in dates]
    updater = Updater(base, settings) if base is not None else None
    fitted_at = 0  # index of the date the base was fitted at
    steps: list[ReplayStep] = []
    for i, (when, evidence) in enumerate(zip(dates, evidences, strict=True)):
        start = time.perf_counter()
        rw = updater.reweight(evidence) if updater is not None else None
        if updater is not None and rw is not None and rw.accepted:
            steps.append(
                ReplayStep(
                    when, _reweighted(updater, evidence, rw), "reweighted", rw.pareto_k,
                    _since(start),
                )
            )
            continue
        # A fit is needed: choose how far ahead its proposal reaches (see _reach).
        ahead = _reach(updater, spec, evidences, i, fitted_at)
        fitted_at = i
        why = f"refitted at {when}: {rw.reason}" if rw is not None else (
            f"fitted by MCMC at {when}: no base fit given"
        )
        result: Forecast | None = None
        if ahead > i:
            proposal = _midway(model_data(spec, evidence), model_data(spec, evidences[ahead]))
            posterior = fit(spec, evidence, settings, data=proposal)
            posterior.idata.attrs["proposal"] = (
                f"midway between the evidence of {when} ({evidence.sha256[:12]}) and of "
                f"{dates[ahead]} ({evidences[ahead].sha256[:12]})"
            )
            candidate = Updater(posterior, settings)
            first = candidate.reweight(evidence)
            if first.accepted:
                updater = candidate
                result = _relabel(
                    _reweighted(candidate, evidence, first),
                    "reweighted",
                    f"{why}; fitted midway to the evidence of {dates[ahead]}, "
                    f"reweighted to this date: {first.reason}",
                )
        if result is None:  # no proposal, or it does not reach this date: fit this date
            updater = Updater(fit(spec, evidence, settings), settings)
            result = _relabel(updater.forecast(evidence), "mcmc", why)
        k = rw.pareto_k if rw is not None else math.nan
        steps.append(ReplayStep(when, result, "mcmc", k, _since(start)))
    return steps


def weighted_ess(values: np.ndarray, log_weights: np.ndarray, shape: tuple[int, int]) -> float:
    """Effective sample size of a weighted MCMC estimate of the mean of ``values``.

    The estimate ``sum(w * f)`` differs from the truth by the mean of
    ``x = n w (f - mean)`` over the draws, whose variance along
    autocorrelated chains is ``var(x) / ESS(x)`` (ArviZ's ESS of the mean);
    the effective sample size is the weighted variance of ``f`` over that.
    With equal weights it is the draws' own ESS of ``f``; with independent
    draws it is ``var_w(f) / sum(w**2 (f - mean)**2)``, the function-specific
    ESS of importance sampling.

    Parameters
    ----------
    values : array (chain * draw,)
        A quantity per draw, chains one after the other.
    log_weights : array (chain * draw,)
        Normalised log weights.
    shape : (int, int)
        Chains and draws per chain.

    Returns
    -------
    float
        ``inf`` for a quantity that is the same at every draw (it has no
        Monte Carlo error).
    """
    import arviz as az

    w = np.exp(log_weights)
    centred = values - w @ values
    variance = float(w @ centred**2)
    x = (values.size * w * centred).reshape(shape)
    spread = float(np.var(x))
    if variance <= 1e-300 or spread <= 1e-300:
        return math.inf
    return variance * float(az.ess(x, method="mean")) / spread


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
        proposal = _midway(here, model_data(spec, evidences[ahead]))
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


def _reweighted(updater: Updater, evidence: EvidenceSet, rw: Reweighting) -> Forecast:
    """Return the reweighted forecast of an accepted reweighting, labelled as such."""
    result = updater.forecast(evidence, allow_refit=False)
    if result.method != "reweighted":  # the base fit's own evidence
        result = _relabel(
            result,
            "reweighted",
            f"{rw.reason}: the base fit's own evidence",
            pareto_k=rw.pareto_k,
            importance_ess=rw.ess,
        )
    return result


def _midway(a: ModelData, b: ModelData) -> ModelData:
    """Return evidence arrays halfway between two: each likelihood term at half weight.

    The terms are linear in these arrays (months, events, log-likelihood
    ratios, count cells through their mask), so the midpoint is the geometric
    bridge between the two posteriors, wider than the later one and centred
    between them: a proposal that importance sampling carries to both.
    """
    mask = (a.count_mask + b.count_mask) / 2
    total = a.count_mask * a.counts + b.count_mask * b.counts
    level_mask = (a.level_mask + b.level_mask) / 2
    level_total = a.level_mask * a.level_value + b.level_mask * b.level_value
    return ModelData(
        condition_loglik=(a.condition_loglik + b.condition_loglik) / 2,
        slot_log_lr=(a.slot_log_lr + b.slot_log_lr) / 2,
        level_value=np.divide(
            level_total, 2 * level_mask, out=np.zeros_like(level_total), where=level_mask > 0
        ),
        level_mask=level_mask,
        slot_events=(a.slot_events + b.slot_events) / 2,
        slot_nonevents=(a.slot_nonevents + b.slot_nonevents) / 2,
        counts=np.divide(total, 2 * mask, out=np.zeros_like(total), where=mask > 0),
        count_mask=mask,
    )
