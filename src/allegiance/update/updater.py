"""Fast updates: reweight stored posterior draws for new evidence, or refit when that fails.

A posterior fitted on evidence ``E0`` is turned into one for evidence ``E1``
by importance sampling: each draw is weighted by ``p(E1 | θ) / p(E0 | θ)``,
both computed exactly per draw with the configurations marginalised
(:func:`allegiance.model.terms.terms` in numpy). The weights are
Pareto-smoothed (ArviZ 0.23's ``psislw``, in :mod:`allegiance.update.psis`).
The result is kept when the Pareto shape ``k`` is at most 0.7 and every number
the forecast shows (each question's and condition's probability) keeps an
effective sample size of at least 400 under the weights
(:func:`~allegiance.update.reweight.weighted_ess`: the weights and the chains'
autocorrelation together); otherwise the model is refitted by MCMC. Either way
the forecast says which path was taken and why.

What a new item costs is kept to what it touches:

- the log-likelihood is patched, not recomputed: only the rows (a slot, or a
  count channel) whose evidence differs from the base fit's are evaluated
  again (:func:`allegiance.model.patch.patch_terms`), each row's terms cached on
  that row's evidence;
- a question's per-configuration probabilities depend on the evidence only
  through the slots and channels it reads (:func:`allegiance.forecast.questions.reads`:
  months survived, departures, forward counts seen), and are cached on
  exactly that evidence: a report, or a count of another channel, costs the
  question nothing but one weighted sum.

A refit made because the weights failed becomes the base of later updates
(:meth:`Updater.adopt`), so a long run of items keeps reweighting from a fit
close to it.

:func:`~allegiance.update.timeline.replay` runs the same machinery through time: forecasts as of a
sequence of dates, each carried over from the latest MCMC fit by reweighting,
with a refit (which becomes the new base) wherever the weights fail. Its
refits look ahead: they fit evidence midway to a later date's, so that one
fit serves the dates on both sides of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.special as sp

from allegiance.cache import LRU
from allegiance.evidence import EvidenceSet, ModelData, model_data
from allegiance.evidence.outcomes import resolutions
from allegiance.forecast import (
    CHUNK,
    EXACT,
    Forecast,
    compute,
    forecast,
    provenance_of,
    reads,
    summarise,
)
from allegiance.forecast.questions import evidence_read
from allegiance.forecast.summary import summed
from allegiance.model import QUANTITY_TERMS, numpy_ops, patch_terms, row_evidence, row_terms
from allegiance.model.quantities import quantities
from allegiance.model.structure import structure
from allegiance.model.terms import terms
from allegiance.posterior import FitSettings, Posterior, diagnose, fit
from allegiance.spec import ModelSpec
from allegiance.update.attribution import Attribution, explain
from allegiance.update.reweight import Reweighting, reweighting
from allegiance.update.scenarios import Block


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
    origin : str, optional
        What the base fit is, for the forecasts' reasons (e.g. a stored file's name).
    """

    posterior: Posterior
    settings: FitSettings | None = None
    origin: str = ""
    _states: LRU[str, _State] = field(init=False, repr=False, default_factory=lambda: LRU(3))
    _questions: dict[str, LRU[bytes, list[np.ndarray]]] = field(
        init=False, repr=False, default_factory=dict
    )
    _row_cache: dict[int, LRU[bytes, tuple[np.ndarray, np.ndarray]]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.adopt(self.posterior)

    def adopt(self, posterior: Posterior, origin: str = "") -> None:
        """Make ``posterior`` (a fit of the same model) the base of later updates."""
        self.posterior, self.origin = posterior, origin or self.origin
        self._states.clear()
        self._questions.clear()
        self._row_cache.clear()
        self._target: tuple[ModelData, np.ndarray] | None = None
        self._draws = posterior.flat_draws()
        self._structure = structure(posterior.spec)
        data = posterior.data or model_data(posterior.spec, posterior.evidence)
        t = terms(self._draws, data.arrays(), self._structure, numpy_ops())
        self._base = _State.of(data, t)
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
        if posterior.data is None:
            # A stored fit brings its diagnostics; a new one is checked on its own forecast.
            if posterior.diagnostics is None:
                forecast(posterior, self._base_per_draw())  # checks the fit, once
            assert posterior.diagnostics is not None
            self._diagnostics = posterior.diagnostics
        else:  # a proposal: its own forecasts are never shown, its draws are checked
            self._diagnostics = diagnose(posterior.draws(), posterior.divergences)

    def _own_forecast(self, context: str, evidence: EvidenceSet | None = None) -> Forecast:
        """Return the base fit's forecast of its own evidence (diagnostics checked once)."""
        result = forecast(
            self.posterior, self._base_per_draw(), reason=_joined(context, EXACT), evidence=evidence
        )
        result.provenance.update(pareto_k=0.0, importance_ess=self.base_ess)
        return result

    def _base_per_draw(self) -> dict[str, np.ndarray]:
        shape = self.posterior.shape
        return {k: v.reshape(shape) for k, v in self._per_draw(self._base).items()}

    @property
    def spec(self) -> ModelSpec:
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

    def _is_base(self, evidence: EvidenceSet) -> bool:
        return self.posterior.data is None and evidence.sha256 == self.posterior.evidence.sha256

    def _evaluate(self, evidence: EvidenceSet) -> _State:
        """Evaluate an evidence set on the draws, from the base; keep the last few."""
        if self._is_base(evidence):
            return self._base
        return self._states.get_or_make(
            evidence.sha256, lambda: self._state(model_data(self.spec, evidence))
        )

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
        (:func:`~allegiance.update.reweight.weighted_ess`). An estimate to
        choose a proposal by, not a check: the fit is checked again.
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
        caches = {r: self._row_cache.setdefault(r, LRU(4)) for r in rows}
        out = {r: caches[r].get(keys[r]) for r in rows}
        missing = [r for r, found in out.items() if found is None]
        computed = row_terms(self._draws, d, self._structure, missing) if missing else {}
        for r, value in computed.items():
            out[r] = caches[r].put(keys[r], value)
        return {r: v for r, v in out.items() if v is not None}

    def reweight(self, evidence: EvidenceSet) -> Reweighting:
        """Compute importance weights from the fitted evidence to ``evidence``, with checks."""
        state = self._evaluate(evidence)
        if state.reweighting is None:
            state.reweighting = reweighting(
                state.log_lik - self._base.log_lik,
                lambda: self._per_draw(state).values(),
                self.posterior.shape,
                self.base_ess,
            )
        return state.reweighting

    def _per_config(self, qid: str, data: ModelData) -> list[np.ndarray]:
        """Return one question's probability per draw and configuration, by block, cached.

        The cache key is the evidence the question reads (:func:`reads`,
        :func:`evidence_read`): a report, or a count of another channel, leaves it as it was.
        """
        key = b"".join(
            np.ascontiguousarray(a).tobytes()
            for a in evidence_read(self.spec, self._reads[qid], data)
        )
        question = self.spec.questions[qid]
        # (S, Z) floats each: keep a few per question
        return self._questions.setdefault(qid, LRU(3)).get_or_make(
            key, lambda: [compute(replace(q, data=data), question) for q in self._quantities]
        )

    def per_draw(self, evidence: EvidenceSet) -> dict[str, np.ndarray]:
        """Return each question's and binary condition's probability per draw under evidence."""
        return self._per_draw(self._evaluate(evidence))

    def question_draws(self) -> dict[str, np.ndarray]:
        """Return :func:`~allegiance.forecast.question_draws` of the base fit, from the kept terms.

        Summed as :func:`~allegiance.forecast.probabilities` sums them, to the last bit.
        """
        data = self._base.data
        per_config = {qid: self._per_config(qid, data) for qid in self.spec.questions}
        blocks = (
            (q.log_weights, {qid: pc[i] for qid, pc in per_config.items()})
            for i, q in enumerate(self._quantities)
        )
        shape = self.posterior.shape
        return {k: v.reshape(shape) for k, v in summed(self.spec, blocks).items()}

    def blocks(self, evidence: EvidenceSet) -> list[Block]:
        """Return the draws under evidence as :data:`~allegiance.update.scenarios.Block` s.

        The terms and each question's per-configuration probabilities are the
        ones kept for forecasts: what-if analyses of the same draws (scenarios,
        the value of learning a condition) evaluate nothing again.
        """
        state = self._evaluate(evidence)
        per_config = {qid: self._per_config(qid, state.data) for qid in self.spec.questions}
        return [
            (state.weights[b], {qid: pc[i] for qid, pc in per_config.items()})
            for i, b in enumerate(self._blocks)
        ]

    def log_likelihood(self, evidence: EvidenceSet) -> np.ndarray:
        """Return the log-likelihood of evidence at each draw, the conditions marginalised."""
        return self._evaluate(evidence).log_lik

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

    def forecast(
        self, evidence: EvidenceSet, *, allow_refit: bool = True, context: str = ""
    ) -> Forecast:
        """Forecast under ``evidence``: reweighted if the weights pass, else refitted.

        A refit becomes the base of later forecasts (:meth:`adopt`).

        Parameters
        ----------
        evidence : EvidenceSet
            The evidence in force.
        allow_refit : bool
            Refit by MCMC when reweighting fails; otherwise return the
            reweighted forecast marked untrustworthy.
        context : str, optional
            Why this forecast is asked for, put before the reason it gives.
        """
        return self._forecast(evidence, allow_refit=allow_refit, adopt=True, context=context)

    def _forecast(
        self, evidence: EvidenceSet, *, allow_refit: bool, adopt: bool, context: str = ""
    ) -> Forecast:
        if self._is_base(evidence):
            return self._own_forecast(_joined(context, self.origin), evidence)
        rw = self.reweight(evidence)
        if not rw.accepted and allow_refit:
            refit = fit(self.spec, evidence, self.settings or self.posterior.settings)
            failed = f"refitted: reweighting {self.origin or 'the base fit'} failed ({rw.reason})"
            if adopt:
                self.adopt(refit, origin="a refit")
                result = self._own_forecast(_joined(context, failed), evidence)
            else:
                result = forecast(refit, reason=_joined(context, failed), evidence=evidence)
            result.provenance["pareto_k"] = rw.pareto_k
            return result
        base = self._diagnostics
        problems = list(base.problems) + ([] if rw.accepted else [rw.reason])
        reason = rw.reason + (f"; reweighted from {self.origin}" if self.origin else "")
        result = summarise(
            self.spec,
            self.per_draw(evidence),
            replace(base, problems=problems),
            provenance_of(self.posterior, evidence),
            np.exp(rw.log_weights),
            method="reweighted",
            reason=_joined(context, reason),
            resolved=resolutions(self.spec, evidence.items, evidence.as_of),
            as_of=evidence.as_of,
        )
        result.provenance.update(pareto_k=rw.pareto_k, importance_ess=rw.ess)
        return result

    def explain(
        self, evidence: EvidenceSet, question: str, *, allow_refit: bool = False
    ) -> list[Attribution]:
        """Measure how much each item in force moved one question's forecast, largest first.

        See :func:`allegiance.update.attribution.explain`.
        """
        return explain(self, evidence, question, allow_refit=allow_refit)


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
