r"""Power-scaling sensitivity of each forecast to its prior and to its likelihood.

Raising the prior, or the likelihood, to a power :math:`\alpha` near 1 and
seeing how far a forecast moves shows what the forecast rests on (Kallioinen
et al., *Detecting and diagnosing prior and likelihood sensitivity with
power-scaling*, https://arxiv.org/abs/2107.14054). The power-scaled posterior is
the fitted one reweighted by :math:`p^{\alpha - 1}` for the scaled component
:math:`p`, Pareto-smoothed (:func:`~allegiance.update.psis.psislw`), so nothing
is refitted. The diagnostic is the cumulative Jensen-Shannon distance between
the forecast's draws unweighted and reweighted, at :math:`\alpha = 1/(1 + \delta)`
and :math:`1 + \delta`, over the finite difference :math:`2 \log_2(1 + \delta)`:
the number ArviZ 0.23's ``psens`` gives, computed as it does.

The prior is the density of every free variable as the PyMC model declares
it; the likelihood is the model's potential, the evidence marginalised over
the binary conditions (whose prior probabilities are free variables):

.. math::

   \log p(\theta) = \sum_v \log p_v(\theta_v), \qquad
   \log p(y \mid \theta) = \operatorname{logsumexp}_z \ell(z, \theta) + c(\theta)

with :math:`\ell` and :math:`c` the ``log_joint`` and ``constant`` of
:func:`~allegiance.model.terms.terms`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from allegiance.forecast import CHUNK
from allegiance.model import LOG_RATE, ModelData, numpy_ops, variable_beliefs
from allegiance.model.structure import structure
from allegiance.model.terms import terms
from allegiance.spec import ModelSpec
from allegiance.update.psis import psislw

THRESHOLD = 0.05  # priorsense's default threshold
DELTA = 0.01
PRIOR_DRIVEN = "prior-driven"
CONFLICT = "prior-data conflict"


@dataclass(frozen=True)
class Sensitivity:
    """How far a quantity's posterior moves when its prior or likelihood is power-scaled."""

    prior: float
    likelihood: float

    @property
    def diagnosis(self) -> str:
        """Return priorsense's diagnosis at :data:`THRESHOLD`, or ``""`` when there is none.

        ``"prior-data conflict"`` when both are sensitive; ``"prior-driven"``
        (priorsense: *strong prior / weak likelihood*) when only the prior is.
        """
        if self.prior >= THRESHOLD:
            return CONFLICT if self.likelihood >= THRESHOLD else PRIOR_DRIVEN
        return ""


def log_prior(spec: ModelSpec, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """Return the prior log density of the free variables at each draw.

    Parameters
    ----------
    spec : ModelSpec
        The model the draws come from.
    draws : mapping
        Each free variable as an array of shape ``(draws, dim)``.

    Returns
    -------
    array (draws,)
        The sum over every element of every free variable of its prior log
        density, on the scale PyMC declares the variable (no Jacobian):
        ``log_rate`` is a Normal, the log of a LogNormal magnitude.
    """
    beliefs = variable_beliefs(spec)
    total = np.zeros(len(next(iter(draws.values()))))
    for name, (elements, _) in beliefs.items():
        x = np.asarray(draws[name], dtype=float)
        for i, belief in enumerate(elements):
            if name == LOG_RATE:
                mu, sigma = belief.prior.params["mu"], belief.prior.params["sigma"]
                z = (x[:, i] - mu) / sigma
                total += -0.5 * z**2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
            else:
                total += belief.prior.frozen().logpdf(x[:, i])
    return total


def log_likelihood(spec: ModelSpec, data: ModelData, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """Return the log-likelihood of the evidence at each draw, conditions marginalised.

    Parameters
    ----------
    spec : ModelSpec
        The model the draws come from.
    data : ModelData
        The evidence arrays.
    draws : mapping
        Each free variable as an array of shape ``(draws, dim)``.

    Returns
    -------
    array (draws,)
        The model's potential at each draw.
    """
    st, ops, arrays = structure(spec), numpy_ops(), data.arrays()
    n = len(next(iter(draws.values())))
    blocks = [
        _marginal(terms({k: v[a : a + CHUNK] for k, v in draws.items()}, arrays, st, ops))
        for a in range(0, n, CHUNK)
    ]
    return np.concatenate(blocks) if blocks else np.zeros(0)


def _marginal(t: Mapping[str, np.ndarray]) -> np.ndarray:
    """Log-likelihood per draw from its terms, as ``build_model``'s potential forms it."""
    return logsumexp(t["log_joint"], axis=-1) + t["constant"]


def power_scaling(values: np.ndarray, log_component: np.ndarray, delta: float = DELTA) -> float:
    """Return the power-scaling sensitivity of one quantity to one component.

    Parameters
    ----------
    values : array (draws,)
        The quantity at each posterior draw, chains one after the other.
    log_component : array (draws,)
        The log prior or the log-likelihood at each draw.
    delta : float
        Step of the finite difference in the power, ``alpha = 1 / (1 + delta)``
        and ``1 + delta``.

    Returns
    -------
    float
        ArviZ's ``psens`` of the quantity; 0 for a quantity that is the same
        at every draw (up to rounding).
    """
    return _sensitivity(values, *_scaled_weights(log_component, delta), delta)


def forecast_sensitivity(
    spec: ModelSpec,
    draws: Mapping[str, np.ndarray],
    per_draw: Mapping[str, np.ndarray],
    log_lik: np.ndarray,
    delta: float = DELTA,
) -> dict[str, Sensitivity]:
    """Return the power-scaling sensitivity of every question's probability.

    The probabilities and the log-likelihood per draw are the model's terms
    already evaluated (:meth:`~allegiance.update.updater.Updater.per_draw` and
    :meth:`~allegiance.update.updater.Updater.log_likelihood`, or
    :func:`~allegiance.forecast.probabilities` and :func:`log_likelihood`).

    Parameters
    ----------
    spec : ModelSpec
        The model the draws come from.
    draws : mapping
        Free variables, each of shape ``(draws, dim)``, chains one after the other.
    per_draw : mapping
        Question id -> its probability at each draw (other keys are ignored).
    log_lik : array (draws,)
        The log-likelihood of the fitted evidence at each draw.
    delta : float
        Step of the finite difference in the power.

    Returns
    -------
    dict
        Question id -> :class:`Sensitivity` of its probability per draw.
    """
    prior = _scaled_weights(log_prior(spec, draws), delta)
    likelihood = _scaled_weights(log_lik, delta)
    return {
        qid: Sensitivity(
            prior=_sensitivity(per_draw[qid], *prior, delta),
            likelihood=_sensitivity(per_draw[qid], *likelihood, delta),
        )
        for qid in spec.questions
    }


def _scaled_weights(log_component: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed weights of the draws with the component scaled down and up."""
    out = []
    for alpha in (1 / (1 + delta), 1 + delta):
        w = np.exp(psislw((alpha - 1) * np.asarray(log_component, dtype=float))[0])
        out.append(w / np.sum(w))
    return out[0], out[1]


def _sensitivity(values: np.ndarray, lower: np.ndarray, upper: np.ndarray, delta: float) -> float:
    """Finite-difference second derivative of the CJS distance (ArviZ's ``_powerscale_sens``)."""
    x = np.asarray(values, dtype=float)
    # A constant (a resolved question) has none; its rounding noise must not be read as one.
    if np.ptp(x) <= 1e-12 * max(float(np.max(np.abs(x))), 1e-300):
        return 0.0
    lower_cjs = max(_cjs_distance(x, lower), _cjs_distance(-1 * x, lower))
    upper_cjs = max(_cjs_distance(x, upper), _cjs_distance(-1 * x, upper))
    return float((lower_cjs + upper_cjs) / (2 * np.log2(1 + delta)))


def _cjs_distance(draws: np.ndarray, weights: np.ndarray) -> float:
    """Cumulative Jensen-Shannon distance between the draws and the weighted draws.

    ArviZ's ``_cjs_dist``, step for step, but 0 where the draws span no width.
    """
    order = np.argsort(draws)
    x, w = draws[order], weights[order]
    binwidth = np.diff(x)
    n = len(x)
    cdf_p = np.linspace(1 / n, 1 - 1 / n, n - 1)
    cdf_q = np.cumsum(w / np.sum(w))[:-1]
    cdf_p_int = np.dot(cdf_p, binwidth)
    cdf_q_int = np.dot(cdf_q, binwidth)
    bound = cdf_p_int + cdf_q_int
    if not bound > 0:
        return 0.0
    pq_numer = np.log2(cdf_p, out=np.zeros_like(cdf_p), where=cdf_p != 0)
    qp_numer = np.log2(cdf_q, out=np.zeros_like(cdf_q), where=cdf_q != 0)
    denom = 0.5 * (cdf_p + cdf_q)
    denom = np.log2(denom, out=np.zeros_like(denom), where=denom != 0)
    cjs_pq = np.sum(binwidth * (cdf_p * (pq_numer - denom))) + 0.5 / np.log(2) * (
        cdf_q_int - cdf_p_int
    )
    cjs_qp = np.sum(binwidth * (cdf_q * (qp_numer - denom))) + 0.5 / np.log(2) * (
        cdf_p_int - cdf_q_int
    )
    return float(np.sqrt((max(0, cjs_pq) + max(0, cjs_qp)) / bound))
