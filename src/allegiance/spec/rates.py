"""A monthly rate known up to a mixture of Gammas: its quantiles, survival and chances.

A class's rate (:mod:`allegiance.spec.reference`) is such a mixture. Every
quantity here is exact for the mixture: Gamma–Poisson conjugacy for months
without the event, and the Gamma's Laplace transform for the chance of one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special


@dataclass(frozen=True)
class RatePosterior:
    r"""A monthly rate's distribution: a mixture of :math:`\mathrm{Gamma}(a_i, b_i)`."""

    weights: np.ndarray
    shapes: np.ndarray
    rates: np.ndarray

    def mean(self) -> float:
        """Return the mean monthly rate."""
        return float(np.sum(self.weights * self.shapes / self.rates))

    def cdf(self, rate: float) -> float:
        """Return the probability that the monthly rate is at most ``rate``."""
        return float(np.sum(self.weights * special.gammainc(self.shapes, self.rates * rate)))

    def quantile(self, p: float) -> float:
        """Return the monthly rate below which the mixture puts probability ``p``."""
        lo = float(np.min(special.gammaincinv(self.shapes, p) / self.rates))
        hi = float(np.max(special.gammaincinv(self.shapes, p) / self.rates))
        if hi <= lo * (1.0 + 1e-12):
            return lo
        return math.exp(optimize.brentq(lambda x: self.cdf(math.exp(x)) - p,
                                        math.log(lo), math.log(hi), xtol=1e-8))  # fmt: skip

    def scaled(self, factors: np.ndarray, weights: np.ndarray) -> RatePosterior:
        """Return the distribution of the rate times an independent factor (given as atoms)."""
        return RatePosterior(
            np.outer(self.weights, weights).ravel(),
            np.repeat(self.shapes, factors.size),
            np.outer(self.rates, 1.0 / factors).ravel(),
        )

    def survived(self, group_months: float) -> RatePosterior:
        """Return the rate's distribution after ``group_months`` without the event."""
        if group_months <= 0.0:
            return self
        rates = self.rates + group_months
        log_w = np.log(self.weights) + self.shapes * np.log(self.rates / rates)
        w = np.exp(log_w - log_w.max())
        return RatePosterior(w / w.sum(), self.shapes, rates)

    def p_event(self, months: float, groups: int = 1, share: float = 1.0) -> float:
        r"""Return the chance that one of ``groups`` groups has the event within ``months``.

        With a ``share`` (each event counts with that chance, independently), it is
        :math:`1 - E[(1 - s + s e^{-\theta T})^n]`, summed term by term in closed
        form: :math:`E[e^{-j\theta T}] = \sum_i w_i (b_i / (b_i + jT))^{a_i}`.
        """
        total = 0.0
        for j in range(groups + 1):
            coef = math.comb(groups, j) * (1.0 - share) ** (groups - j) * share**j
            if coef:
                laplace = (self.rates / (self.rates + j * months)) ** self.shapes
                total += coef * float(np.sum(self.weights * laplace))
        return min(max(1.0 - total, 0.0), 1.0)
