"""Importance weights from one evidence set to another, and the checks they must pass."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from allegiance.posterior import ESS_MIN
from allegiance.update.psis import ess_mean, psislw

K_MAX = 0.7


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
    w = np.exp(log_weights)
    centred = values - w @ values
    variance = float(w @ centred**2)
    x = (values.size * w * centred).reshape(shape)
    spread = float(np.var(x))
    # Relative to the quantity's scale: a constant has a variance of rounding error only.
    floor = (1e-12 * max(float(np.max(np.abs(values))), 1e-300)) ** 2
    if variance <= floor or spread <= floor:
        return math.inf
    return variance * ess_mean(x) / spread


def reweighting(
    log_ratio: np.ndarray,
    quantities: Callable[[], Iterable[np.ndarray]],
    shape: tuple[int, int],
    base_ess: float,
) -> Reweighting:
    """Pareto-smooth importance weights and decide whether they can stand for a refit.

    Parameters
    ----------
    log_ratio : array (chain * draw,)
        Log-likelihood of the new evidence minus that of the fitted one, per draw.
    quantities : callable
        Returns every quantity the forecast shows, per draw (called only when
        the Pareto k passes).
    shape : (int, int)
        Chains and draws per chain.
    base_ess : float
        The fit's own smallest ESS, the weights' relative efficiency scale.

    Returns
    -------
    Reweighting
        Accepted when the Pareto k is at most :data:`K_MAX` and every
        quantity keeps an ESS of at least ``ESS_MIN`` under the weights.
    """
    n = log_ratio.size
    if np.allclose(log_ratio, log_ratio[0], rtol=0.0, atol=1e-9):
        return Reweighting(
            np.full(n, -math.log(n)),
            0.0,
            base_ess,
            True,
            "same likelihood as the fit: weights are equal",
        )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lw, k = psislw(log_ratio, reff=min(1.0, base_ess / n))
    # Weights so uneven that the tail fit breaks down (NaN weights) cannot be used.
    k = k if np.all(np.isfinite(lw)) else math.inf
    if not np.isfinite(k) or k > K_MAX:
        kish = 1.0 / float(np.sum(np.exp(2 * lw)))
        return Reweighting(lw, k, kish, False, f"Pareto k {k:.2f} > {K_MAX}: refit needed")
    ess = min(weighted_ess(x, lw, shape) for x in quantities())
    if not ess >= ESS_MIN:  # NaN too
        return Reweighting(
            lw, k, ess, False, f"effective sample size {ess:.0f} < {ESS_MIN:.0f}: refit needed"
        )
    return Reweighting(lw, k, ess, True, f"Pareto k {k:.2f} <= {K_MAX}, ESS {ess:.0f}")
