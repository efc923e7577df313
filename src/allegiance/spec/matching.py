"""Distribution parameters that honour an analyst's statement: a centre and a 90 % range."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import optimize, special

MASS = 0.90


def _solve(mass_at: Callable[[float], float]) -> float:
    """Find the concentration at which a family puts exactly 90 % of its mass in the range.

    ``mass_at`` maps a concentration to the mass in the stated range of the
    family member with the stated centre. That mass grows with concentration,
    so a bracketed root search finds the one member that honours both the
    centre and the range.
    """

    def excess(log_k: float) -> float:
        return mass_at(math.exp(log_k)) - MASS

    grid = np.linspace(-4.0, 16.0, 41)
    values = [excess(g) for g in grid]
    for a, b, fa, fb in zip(grid[:-1], grid[1:], values[:-1], values[1:], strict=True):
        if fa < 0.0 <= fb:
            return math.exp(optimize.brentq(excess, a, b, xtol=1e-12))
    raise ValueError("no concentration reaches 90 % mass in the range")


@lru_cache(maxsize=512)
def beta_params(mean: float, lower: float, upper: float) -> tuple[float, float]:
    """Return the Beta's ``(alpha, beta)`` with this mean and 90 % of its mass in the range."""

    def mass_at(k: float) -> float:
        a, b = mean * k, (1.0 - mean) * k
        return float(special.betainc(a, b, upper) - special.betainc(a, b, lower))

    k = _solve(mass_at)
    return mean * k, (1.0 - mean) * k


@lru_cache(maxsize=512)
def gamma_params(median: float, lower: float, upper: float) -> tuple[float, float]:
    """Return the Gamma's ``(shape, rate)`` with this median and 90 % of its mass in the range."""

    def rate(shape: float) -> float:
        return float(special.gammaincinv(shape, 0.5)) / median

    def mass_at(shape: float) -> float:
        r = rate(shape)
        return float(special.gammainc(shape, r * upper) - special.gammainc(shape, r * lower))

    shape = _solve(mass_at)
    return shape, rate(shape)
