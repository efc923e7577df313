"""Pareto-smoothed importance weights and the effective sample size of a mean, in numpy.

These are ArviZ 0.23's ``psislw`` and ``ess(method="mean")`` (Vehtari et al.
2024, *Pareto smoothed importance sampling*, JMLR 25(72); Geyer's initial
monotone sequence), kept here so that an update imports neither ArviZ, whose
import compiles numba functions for seconds in every process, nor the larger
arviz-stats. ``tests/test_update.py`` checks both against ArviZ 0.23 itself.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import next_fast_len
from scipy.special import logsumexp


def psislw(log_ratio: np.ndarray, reff: float = 1.0) -> tuple[np.ndarray, float]:
    """Pareto-smooth the right tail of importance log ratios and normalise them.

    Parameters
    ----------
    log_ratio : array (n,)
        Unnormalised log importance ratios.
    reff : float
        Relative efficiency of the draws, ESS / n; sets the tail length.

    Returns
    -------
    log_weights : array (n,)
        Smoothed, truncated, normalised log weights.
    k : float
        The fitted generalised Pareto shape; ``inf`` when the tail is too short to fit.
    """
    n = log_ratio.size
    x = np.array(log_ratio, dtype=float)
    x -= x.max()
    cutoff_ind = -math.ceil(min(n / 5.0, 3 * (n / reff) ** 0.5)) - 1
    order = np.argsort(x)
    cutoff = max(x[order[cutoff_ind]], math.log(np.finfo(float).tiny))
    (tail,) = np.nonzero(x > cutoff)
    k = math.inf
    if tail.size > 4:
        tail_order = np.argsort(x[tail])
        values = np.exp(x[tail]) - math.exp(cutoff)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            k, sigma = _gpdfit(values[tail_order])  # exp overflow: a weight of 0
        if np.isfinite(k):
            probs = np.arange(0.5, tail.size) / tail.size
            x[tail[tail_order]] = np.log(_gpinv(probs, k, sigma) + math.exp(cutoff))
            x[x > 0] = 0.0
    return x - logsumexp(x), float(k)


def _gpdfit(ary: np.ndarray) -> tuple[float, float]:
    """Fit a generalised Pareto to sorted ``ary`` (empirical Bayes, Zhang and Stephens 2009)."""
    prior_bs, prior_k = 3, 10
    n = len(ary)
    m_est = 30 + int(n**0.5)
    b_ary = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1, dtype=float) - 0.5))
    b_ary /= prior_bs * ary[int(n / 4 + 0.5) - 1]
    b_ary += 1 / ary[-1]
    k_ary = np.log1p(-b_ary[:, None] * ary).mean(axis=1)
    len_scale = n * (np.log(-(b_ary / k_ary)) - k_ary - 1)
    weights = 1 / np.exp(len_scale - len_scale[:, None]).sum(axis=1)
    real = weights >= 10 * np.finfo(float).eps  # drop negligible weights
    weights, b_ary = weights[real], b_ary[real]
    weights /= weights.sum()
    b_post = np.sum(b_ary * weights)
    k_post = np.log1p(-b_post * ary).mean()
    sigma = -k_post / b_post
    k_post = (n * k_post + prior_k * 0.5) / (n + prior_k)  # weakly informative prior on k
    return float(k_post), float(sigma)


def _gpinv(probs: np.ndarray, kappa: float, sigma: float) -> np.ndarray:
    """Quantiles of a generalised Pareto at ``probs`` (all in (0, 1))."""
    if sigma <= 0:
        return np.full_like(probs, np.nan)
    if abs(kappa) < np.finfo(float).eps:
        return -np.log1p(-probs) * sigma
    return np.expm1(-kappa * np.log1p(-probs)) / kappa * sigma


def ess_mean(ary: np.ndarray) -> float:
    """Effective sample size of the mean of ``ary`` (chain, draw), chains split in halves."""
    half = ary.shape[1] // 2
    x = np.vstack([ary[:, :half], ary[:, -half:]]).astype(float)
    if np.max(x) - np.min(x) < np.finfo(float).resolution:
        return float(x.size)
    n_chain, n_draw = x.shape
    acov = _autocov(x)
    mean_var = np.mean(acov[:, 0]) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(x.mean(axis=1), ddof=1)
    rho = np.zeros(n_draw)
    rho[0], even = 1.0, 1.0
    rho[1] = odd = 1.0 - (mean_var - np.mean(acov[:, 1])) / var_plus
    t = 1
    while t < n_draw - 3 and even + odd > 0.0:  # Geyer's initial positive sequence
        even = 1.0 - (mean_var - np.mean(acov[:, t + 1])) / var_plus
        odd = 1.0 - (mean_var - np.mean(acov[:, t + 2])) / var_plus
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    t = 1
    while t <= max_t - 2:  # Geyer's initial monotone sequence
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    size = n_chain * n_draw
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    tau = max(tau, 1 / np.log10(size))
    return math.nan if np.isnan(rho).any() else float(size / tau)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance at every lag along the last axis (FFT)."""
    n = x.shape[-1]
    m = next_fast_len(2 * n)
    centred = x - x.mean(axis=-1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=m, axis=-1)
    spectrum *= np.conjugate(spectrum)
    return np.fft.irfft(spectrum, n=m, axis=-1)[..., :n] / n
