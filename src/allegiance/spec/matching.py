"""Distribution parameters that honour an analyst's statement: a centre and a 90 % range.

Each family is also checked to be computable: all but :data:`TAIL` of its mass
at each end must be finite, nonzero floats where the model computes with it
(a probability's log-odds, a ratio and its log, a magnitude and its log). A
range spanning hundreds of orders of magnitude, such as ``[1e-320, 1e300]``,
gives no such distribution: its draws would overflow to infinity or underflow
to zero inside the sampler.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import optimize, special

from allegiance.errors import SpecError

MASS = 0.90
TAIL = 1e-6
_Z90, _Z_TAIL = float(special.ndtri(0.95)), float(special.ndtri(1.0 - TAIL))
LOG_FLOAT_MIN, LOG_FLOAT_MAX = math.log(sys.float_info.min), math.log(sys.float_info.max)


class BeyondFloats(ValueError):
    """A distribution gives weight to numbers a float cannot hold (beyond about 1e±308)."""


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


def _log(x: float) -> float:
    return math.log(x) if x > 0.0 else -math.inf  # NaN too


def _held(*logs: float) -> None:
    """Refuse unless every value, given by its log, is a finite, nonzero (normal) float."""
    if not all(LOG_FLOAT_MIN < x < LOG_FLOAT_MAX for x in logs):  # NaN fails too
        raise BeyondFloats("the distribution's tails are beyond what a float holds")


@lru_cache(maxsize=512)
def beta_params(mean: float, lower: float, upper: float) -> tuple[float, float]:
    """Return the Beta's ``(alpha, beta)`` with this mean and 90 % of its mass in the range.

    Raises
    ------
    ValueError
        When no Beta does; :class:`BeyondFloats` when the one that does puts
        its tails at exactly 0 or 1 (infinite log-odds).
    """

    def mass_at(k: float) -> float:
        a, b = mean * k, (1.0 - mean) * k
        return float(special.betainc(a, b, upper) - special.betainc(a, b, lower))

    k = _solve(mass_at)
    a, b = mean * k, (1.0 - mean) * k
    # The upper tail as the lower tail of 1 - p ~ Beta(b, a): no rounding to 1.
    below, above = special.betaincinv(a, b, TAIL), special.betaincinv(b, a, TAIL)
    _held(_log(a), _log(b), _log(float(below)), _log(float(above)))
    return a, b


@lru_cache(maxsize=512)
def gamma_params(median: float, lower: float, upper: float) -> tuple[float, float]:
    """Return the Gamma's ``(shape, rate)`` with this median and 90 % of its mass in the range.

    The variable is a log-ratio: its upper tail must be the log of a finite ratio.

    Raises
    ------
    ValueError
        When no Gamma does; :class:`BeyondFloats` when the one that does gives
        weight to ratios beyond the largest float.
    """

    def rate(shape: float) -> float:
        return float(special.gammaincinv(shape, 0.5)) / median

    def mass_at(shape: float) -> float:
        r = rate(shape)
        return float(special.gammainc(shape, r * upper) - special.gammainc(shape, r * lower))

    shape = _solve(mass_at)
    r = rate(shape)
    top = float(special.gammaincinv(shape, 1.0 - TAIL)) / r
    _held(_log(shape), _log(r), top)  # top: the log of the largest ratio drawn
    return shape, r


def lognormal_params(median: float, lower: float, upper: float) -> tuple[float, float]:
    """Return the LogNormal's ``(mu, sigma)``: this median, its 90 % interval covering the range.

    Sigma is set by the wider side of the median, on the log scale.

    Raises
    ------
    BeyondFloats
        When its tails go beyond the largest float or below the smallest.
    """
    mu = _log(median)
    sigma = max(mu - _log(lower), _log(upper) - mu) / _Z90
    _held(mu - _Z_TAIL * sigma, mu + _Z_TAIL * sigma)
    return mu, sigma


@contextmanager
def matching(path: Path, key: str, lo: float, hi: float, what: str) -> Iterator[None]:
    """Refuse, at ``key.range`` of ``path``, a range no member of a family honours.

    Also one honoured only by a member :class:`BeyondFloats`. ``what``
    completes "no ... and 90 % of its mass in [lower, upper]", e.g. "Beta has
    mean 0.3".
    """
    try:
        yield
    except BeyondFloats:
        raise SpecError(
            path,
            f"{key}.range",
            f"[{lo:g}, {hi:g}] spans too many orders of magnitude: the prior it gives puts "
            "weight on numbers beyond what the computer's floats hold (about 1e-308 to 1e308), "
            "where its draws overflow or vanish.",
            "narrow the range to the values you are 90 % sure of.",
        ) from None
    except ValueError:
        raise SpecError(
            path,
            f"{key}.range",
            f"no {what} and 90 % of its mass in [{lo:g}, {hi:g}].",
            "widen the range.",
        ) from None
