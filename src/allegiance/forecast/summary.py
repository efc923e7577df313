"""Forecasts: posterior probabilities of the model's dated questions.

For each posterior draw the configurations of the binary conditions are
weighted by their posterior probability within that draw, and each question's
conditional probability is averaged over them (Rao-Blackwellised: no
configuration is ever sampled). The per-draw probabilities give the posterior
mean, a 90 % credible interval and the ICD 203 word.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from allegiance.evidence import EvidenceSet, ModelData, model_data
from allegiance.evidence.outcomes import Resolution, resolutions
from allegiance.forecast.questions import compute
from allegiance.forecast.result import PAST_HORIZON, Forecast, QuestionForecast
from allegiance.model.quantities import quantities
from allegiance.model.structure import structure
from allegiance.posterior import Diagnostics, Posterior, diagnose
from allegiance.provenance import versions
from allegiance.spec import MONTH_CONVENTION, ModelSpec, Question
from allegiance.words import estimative_word

CHUNK = 500  # draws per evaluation block: keeps (draw, slot, configuration) arrays small


INTERVAL = 0.90
EXACT = "fitted by MCMC on exactly this evidence"


def _chunks(draws: Mapping[str, np.ndarray], size: int) -> Iterator[dict[str, np.ndarray]]:
    n = next(iter(draws.values())).shape[0]
    for start in range(0, n, size):
        yield {k: v[start : start + size] for k, v in draws.items()}


def probabilities(
    spec: ModelSpec, data: ModelData, draws: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per-draw probability of every question, and of every binary condition.

    Parameters
    ----------
    spec : ModelSpec
    data : ModelData
        The evidence arrays the draws are conditioned on.
    draws : mapping
        Free variables, each of shape ``(draws, dim)``.

    Returns
    -------
    dict
        ``question id -> array (draws,)``, plus ``condition:<id>`` entries with
        each binary condition's posterior probability per draw.
    """
    return summed(spec, question_blocks(spec, data, draws))


def question_blocks(
    spec: ModelSpec, data: ModelData, draws: Mapping[str, np.ndarray]
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Evaluate the model's terms on the draws, in blocks of :data:`CHUNK` draws.

    Yields
    ------
    (array, dict)
        Each configuration's log weight within each draw of the block, and
        question id -> its probability per draw and configuration.
    """
    for block in _chunks(dict(draws), CHUNK):
        q = quantities(spec, data, block)
        yield q.log_weights, {qid: compute(q, question) for qid, question in spec.questions.items()}


def summed(
    spec: ModelSpec, blocks: Iterable[tuple[np.ndarray, Mapping[str, np.ndarray]]]
) -> dict[str, np.ndarray]:
    """Return :func:`probabilities` from blocks of draws as :func:`question_blocks` yields them."""
    configs = structure(spec).configurations
    conds = [f"condition:{c}" for c in spec.binary_conditions]
    out: dict[str, list[np.ndarray]] = {k: [] for k in [*spec.questions, *conds]}
    for log_weights, per_config in blocks:
        weights = np.exp(log_weights)
        for qid in spec.questions:
            # Weights sum to 1 only up to round-off; keep probabilities in [0, 1].
            out[qid].append(np.clip(np.sum(weights * per_config[qid], axis=-1), 0.0, 1.0))
        for name, row in zip(conds, configs, strict=True):
            out[name].append(weights @ row)
    return {k: np.concatenate(v) for k, v in out.items()}


def question_draws(posterior: Posterior) -> dict[str, np.ndarray]:
    """:func:`probabilities` of a posterior, shaped (chain, draw) for diagnostics."""
    data = model_data(posterior.spec, posterior.evidence)
    shape = posterior.shape
    flat = probabilities(posterior.spec, data, posterior.flat_draws())
    return {k: v.reshape(shape) for k, v in flat.items()}


def weighted_quantiles(x: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of ``x`` under normalised ``weights`` (inverse of the weighted CDF)."""
    order = np.argsort(x)
    cdf = np.cumsum(weights[order])
    cdf -= 0.5 * weights[order]  # midpoint rule: equal weights give numpy's 'hazen' rule
    return np.interp(qs, cdf / cdf[-1], x[order])


def summarise(
    spec: ModelSpec,
    per_draw: Mapping[str, np.ndarray],
    diagnostics: Diagnostics,
    provenance: dict[str, Any],
    weights: np.ndarray | None = None,
    *,
    method: str,
    reason: str,
    resolved: Mapping[str, Resolution] | None = None,
    as_of: dt.date | None = None,
) -> Forecast:
    """Turn per-draw probabilities (optionally importance-weighted) into a forecast.

    This is the one place a forecast gets its ``method`` and ``method_reason``.

    Parameters
    ----------
    spec : ModelSpec
        The model whose questions are summarised.
    per_draw : mapping
        Question id (and ``condition:<id>``) -> probability per draw, flat.
    diagnostics : Diagnostics
        The checks of the draws the probabilities come from.
    provenance : dict
        Hashes, settings and versions to carry along.
    weights : array, optional
        Normalised importance weights of the draws; equal weights if omitted.
    method : {"mcmc", "reweighted"}
        How the draws were obtained: a fit of exactly this evidence, or
        another fit's draws importance-weighted to it.
    reason : str
        Why this method, in words (shown beside the forecast).
    resolved : mapping, optional
        Questions the evidence resolves: they show their outcome, not a probability.
    as_of : date, optional
        The forecast's day: a question whose horizon is before it and which
        is not resolved gets no probability (:data:`PAST_HORIZON`). Without
        one, every unresolved question is forecast on the whole record.
    """
    tail = (1.0 - INTERVAL) / 2
    results = []
    for qid, question in spec.questions.items():
        if resolved and qid in resolved:
            results.append(_resolved(question, resolved[qid]))
            continue
        if as_of is not None and question.horizon < as_of:
            results.append(
                QuestionForecast(
                    qid,
                    question.text,
                    question.horizon.isoformat(),
                    None,
                    None,
                    None,
                    PAST_HORIZON,
                    covers=question.covers,
                    origin=question.origin,
                )
            )
            continue
        x = np.ravel(per_draw[qid])
        w = np.full(x.size, 1.0 / x.size) if weights is None else weights
        mean = _probability(np.sum(w * x))
        lo, hi = (_probability(v) for v in weighted_quantiles(x, w, [tail, 1.0 - tail]))
        results.append(
            QuestionForecast(
                qid,
                question.text,
                question.horizon.isoformat(),
                mean,
                lo,
                hi,
                estimative_word(mean),
                covers=question.covers,
                origin=question.origin,
            )
        )
    conditions = {
        k.split(":", 1)[1]: _probability(np.average(np.ravel(v), weights=weights))
        for k, v in per_draw.items()
        if k.startswith("condition:")
    }
    return Forecast(spec.id, results, diagnostics, provenance, conditions, method, reason)


def _probability(value: float | np.floating) -> float:
    # Weights sum to 1 only up to round-off, so a weighted mean of ones can be 1 + 2e-16.
    return float(np.clip(value, 0.0, 1.0))


def _resolved(question: Question, outcome: Resolution) -> QuestionForecast:
    p = 1.0 if outcome.outcome else 0.0
    return QuestionForecast(
        question.id,
        question.text,
        question.horizon.isoformat(),
        p,
        p,
        p,
        f"resolved {outcome.word}",
        outcome.word,
        outcome.date.isoformat(),
        outcome.item_id,
        question.covers,
        question.origin,
    )


def provenance_of(posterior: Posterior, evidence: EvidenceSet) -> dict[str, Any]:
    """Return the identity of a forecast: hashes, fit settings and versions."""
    attrs = posterior.attrs
    return {
        "model_sha256": posterior.spec.sha256,
        "evidence_sha256": evidence.sha256,
        "evidence_items": len(evidence.items),
        "as_of": None if evidence.as_of is None else evidence.as_of.isoformat(),
        "as_recorded": evidence.as_recorded,
        "fitted_evidence_sha256": posterior.evidence.sha256,
        **({"fitted_proposal": attrs["proposal"]} if "proposal" in attrs else {}),
        "fit_settings": json.loads(attrs.get("fit_settings", "{}")),
        "fitted_at": attrs.get("created_at", ""),
        "month_convention": MONTH_CONVENTION,
        "versions": versions(),
    }


def forecast(
    posterior: Posterior,
    per_draw: Mapping[str, np.ndarray] | None = None,
    *,
    reason: str = EXACT,
    evidence: EvidenceSet | None = None,
) -> Forecast:
    """Summarise the posterior into forecasts, checking diagnostics on every quantity.

    Diagnostics cover every free variable and every question's per-draw
    probability; a failure marks the forecast untrustworthy and is printed
    with it. They are kept on the posterior (and saved with it), so they are
    computed once per fit.

    Parameters
    ----------
    posterior : Posterior
    per_draw : mapping, optional
        :func:`question_draws` of the posterior, if already computed.
    reason : str
        Why this fit is the one used, shown with the forecast.
    evidence : EvidenceSet, optional
        The fitted evidence as it was asked for (its as-of date goes into the
        provenance); the posterior's own by default. Its items must be the fitted ones.
    """
    if evidence is not None and evidence.sha256 != posterior.evidence.sha256:
        raise ValueError("forecast(): the evidence given is not the evidence fitted")
    per_draw = question_draws(posterior) if per_draw is None else per_draw
    if posterior.diagnostics is None:
        posterior.diagnostics = diagnose({**posterior.draws(), **per_draw}, posterior.divergences)
    evidence = evidence or posterior.evidence
    return summarise(
        posterior.spec,
        per_draw,
        posterior.diagnostics,
        provenance_of(posterior, evidence),
        method="mcmc",
        reason=reason,
        resolved=resolutions(posterior.spec, evidence.items, evidence.as_of),
        as_of=evidence.as_of,
    )
