"""Scores of probability forecasts against what happened, and their calibration.

Every score says its scale:

- **Brier (0–1)**: ``(p - y)**2``, 0 perfect, 0.25 for a constant 0.5, 1 worst;
- **Brier (0–2)**: the scale of forecasting tournaments, summed over both
  outcomes: ``(p - y)**2 + ((1 - p) - (1 - y))**2 = 2 (p - y)**2``; 0.5 for 0.5;
- **log score**: ``ln`` of the probability given to what happened, 0 perfect,
  ``ln 0.5 = -0.693`` for a constant 0.5, higher is better.

They refuse to score nothing, or a probability that is not a number in [0, 1]:
a silent NaN mean would look like a result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from allegiance.errors import ScoreError

SCALES = {
    "brier": "Brier (0–1, lower is better)",
    "brier2": "Brier (0–2, tournament scale, lower is better)",
    "log": "log score (ln p of what happened, higher is better)",
}


def _checked(p: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, y = np.asarray(p, dtype=float), np.asarray(outcome, dtype=float)
    if p.size == 0:
        raise ScoreError("nothing to score: no forecast of a resolved question.")
    if p.shape != y.shape:
        raise ScoreError(f"{p.size} forecasts but {y.size} outcomes.")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        raise ScoreError(
            f"{int(bad.sum())} forecast(s) are not probabilities in [0, 1] "
            f"(e.g. {p[bad][0]!r}): they cannot be scored."
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise ScoreError("outcomes must be yes (1) or no (0).")
    return p, y


def scores(p: np.ndarray, outcome: np.ndarray) -> dict[str, np.ndarray]:
    """Return each forecast's Brier (0–1), Brier (0–2) and log score.

    Parameters
    ----------
    p : array
        Probabilities of yes.
    outcome : array of bool or 0/1
        What happened.

    Raises
    ------
    ScoreError
        For no forecasts, or a probability that is NaN or outside [0, 1].

    Examples
    --------
    >>> {k: round(float(v[0]), 4) for k, v in scores([0.8], [True]).items()}
    {'brier': 0.04, 'brier2': 0.08, 'log': -0.2231}
    """
    p, y = _checked(p, outcome)
    with np.errstate(divide="ignore"):  # a forecast of 0 for what happened scores -inf
        log = np.where(y == 1, np.log(p), np.log1p(-p))
    return {"brier": (p - y) ** 2, "brier2": 2 * (p - y) ** 2, "log": log}


@dataclass(frozen=True)
class CalibrationBin:
    """Forecasts in one band of probability, and how often what they forecast happened."""

    lower: float
    upper: float
    count: int
    mean_forecast: float
    frequency: float


def calibration(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> list[CalibrationBin]:
    """Return the reliability table: per band of forecast, its count and observed frequency.

    Empty bands are left out. A calibrated forecaster's frequencies match its
    mean forecasts, within the binomial noise of each band's count.
    """
    p, y = _checked(p, outcome)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append(
                CalibrationBin(
                    float(edges[b]),
                    float(edges[b + 1]),
                    int(inside.sum()),
                    float(p[inside].mean()),
                    float(y[inside].mean()),
                )
            )
    return out


# Extremising factor of a pooled forecast, fixed in advance (never fitted to the outcomes
# it is scored on): pools of a few forecasters gain from a in 1.5-2.5 (Satopää et al. 2014,
# Baron et al. 2014); the low end, as two forecasters share much of their information.
EXTREMISE = 1.5


def pooled(probabilities: list[float], weights: list[float], extremise: float = EXTREMISE) -> float:
    """Pool probabilities: the weighted mean of their log-odds, extremised.

    ``logit p = a * sum(w_i logit p_i) / sum(w_i)``, each ``p_i`` clipped to
    [0.001, 0.999] so that a certain forecast does not decide alone.

    Examples
    --------
    >>> round(pooled([0.7, 0.7], [1.0, 1.0]), 4)  # agreement is extremised
    0.7809
    """
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-3, 1 - 1e-3)
    w = np.asarray(weights, dtype=float)
    z = extremise * float(w @ np.log(p / (1 - p))) / float(w.sum())
    return float(1.0 / (1.0 + np.exp(-z)))


CLIP = 1e-4  # a forecast's log-odds are read from [CLIP, 1 - CLIP]: a 0 or 1 stays finite


@dataclass(frozen=True)
class Recalibration:
    """A logistic recalibration of forecasts: ``logit p' = a + b logit p``."""

    a: float
    b: float

    def __call__(self, p: np.ndarray | float) -> np.ndarray:
        """Return the recalibrated probabilities."""
        return np.asarray(expit(self.a + self.b * _logit(np.asarray(p, dtype=float))))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, CLIP, 1 - CLIP)
    return np.asarray(np.log(p / (1 - p)))


def recalibration(p: np.ndarray, outcome: np.ndarray, steps: int = 50) -> Recalibration:
    """Fit ``logit P(y) = a + b logit p`` to forecasts and outcomes by maximum likelihood.

    Newton's method on the two parameters (the log-likelihood is concave), from
    the identity ``a = 0, b = 1``. ``b < 1`` says the forecasts were too
    extreme, ``b > 1`` too timid; ``a`` shifts them all.

    Raises
    ------
    ScoreError
        When the outcomes are all one way (no finite fit), or as :func:`scores`.
    """
    p, y = _checked(p, outcome)
    if y.min() == y.max():
        raise ScoreError("every outcome is the same: a recalibration needs both yes and no.")
    x = np.column_stack([np.ones_like(p), _logit(p)])
    theta = np.array([0.0, 1.0])
    for _ in range(steps):
        q = expit(x @ theta)
        gradient = x.T @ (y - q)
        hessian = (x * (q * (1 - q))[:, None]).T @ x
        step = np.linalg.solve(hessian + 1e-9 * np.eye(2), gradient)
        theta = theta + step
        if np.abs(step).max() < 1e-10:
            break
    return Recalibration(float(theta[0]), float(theta[1]))
