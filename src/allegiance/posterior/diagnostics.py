"""Sampling diagnostics checked on every fit: R-hat, bulk and tail ESS, divergences."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

RHAT_MAX = 1.01


ESS_MIN = 400.0


@dataclass
class Diagnostics:
    """Sampling diagnostics of one fit, with the thresholds they are held to."""

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    worst: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain-typed form, with the verdict."""
        return {**asdict(self), "ok": self.ok}


def diagnose(draws: dict[str, np.ndarray], divergences: int) -> Diagnostics:
    """Check R-hat, bulk and tail ESS of every array (chain, draw, ...), and divergences.

    Parameters
    ----------
    draws : dict
        Name → array of shape (chain, draw, ...). Free variables and derived
        forecasts alike.
    divergences : int
        Divergent transitions after tuning.
    """
    import arviz as az

    worst_rhat, worst_bulk, worst_tail, worst = 0.0, np.inf, np.inf, ""
    for name, arr in draws.items():
        flat = arr.reshape(arr.shape[0], arr.shape[1], -1)
        for i in range(flat.shape[2]):
            x = flat[:, :, i]
            if np.ptp(x) == 0.0:
                continue
            rhat = float(az.rhat(x))
            bulk = float(az.ess(x, method="bulk"))
            tail = float(az.ess(x, method="tail"))
            if rhat > worst_rhat:
                worst_rhat = rhat
            if min(bulk, tail) < min(worst_bulk, worst_tail):
                worst = f"{name}[{i}]"
            worst_bulk, worst_tail = min(worst_bulk, bulk), min(worst_tail, tail)
    problems = []
    if worst_rhat > RHAT_MAX:
        problems.append(f"max R-hat {worst_rhat:.3f} > {RHAT_MAX}")
    if min(worst_bulk, worst_tail) < ESS_MIN:
        problems.append(f"min ESS {min(worst_bulk, worst_tail):.0f} < {ESS_MIN:.0f} ({worst})")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    return Diagnostics(
        worst_rhat, float(worst_bulk), float(worst_tail), int(divergences), worst, problems
    )
