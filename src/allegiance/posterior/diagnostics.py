"""Sampling diagnostics checked on every fit: R-hat, bulk and tail ESS, divergences."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

RHAT_MAX = 1.01


ESS_MIN = 400.0


@dataclass
class Diagnostics:
    """Sampling diagnostics of one fit, with the thresholds they are held to.

    ``chains`` and ``draws`` (per chain) say what was checked; 0 where not
    recorded (diagnostics saved before they were).
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    worst: str = ""
    problems: list[str] = field(default_factory=list)
    chains: int = 0
    draws: int = 0

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain-typed form, with the verdict."""
        return {**asdict(self), "ok": self.ok}


def array_stats() -> Any:
    """Return ArviZ's array functions (arviz-stats): numpy and scipy only, fast to import.

    ArviZ 0.23 compiles numba functions when imported, seconds per process;
    these are the same computations (R-hat, ESS, PSIS) of ArviZ 1.x.
    """
    from arviz_stats.base import array_stats as stats

    return stats


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
    stats = array_stats()
    worst_rhat, worst_bulk, worst_tail, worst = 0.0, np.inf, np.inf, ""
    for name, arr in draws.items():
        # (element, chain, draw): the functions run over every element at once.
        flat = np.moveaxis(arr.reshape(arr.shape[0], arr.shape[1], -1), -1, 0)
        varies = np.flatnonzero(np.ptp(flat, axis=(1, 2)) > 0.0)  # a constant has no error
        if not varies.size:
            continue
        x = flat[varies]
        rhat = np.atleast_1d(stats.rhat(x))
        bulk = np.atleast_1d(stats.ess(x, method="bulk"))
        tail = np.atleast_1d(stats.ess(x, method="tail", prob=0.05))  # ArviZ: 5 % and 95 %
        worst_rhat = max(worst_rhat, float(rhat.max()))
        low = int(np.argmin(np.minimum(bulk, tail)))
        if min(bulk[low], tail[low]) < min(worst_bulk, worst_tail):
            worst = f"{name}[{int(varies[low])}]"
        worst_bulk, worst_tail = (
            min(worst_bulk, float(bulk.min())),
            min(worst_tail, float(tail.min())),
        )
    problems = []
    # benchmarks/scale.py: 0.9 mixes between configurations' explanations of the same
    # counts where 0.8 does not; 0.95 only costs steps.
    mixing = "refit with more --draws, or --target-accept 0.9"
    if worst_rhat > RHAT_MAX:
        problems.append(f"max R-hat {worst_rhat:.3f} > {RHAT_MAX} ({mixing})")
    if min(worst_bulk, worst_tail) < ESS_MIN:
        ess = min(worst_bulk, worst_tail)
        problems.append(f"min ESS {ess:.0f} < {ESS_MIN:.0f} ({worst}; {mixing})")
    if divergences:
        problems.append(f"{divergences} divergent transitions (refit with --target-accept 0.9)")
    chains, per_chain = next(iter(draws.values())).shape[:2] if draws else (0, 0)
    return Diagnostics(
        worst_rhat,
        float(worst_bulk),
        float(worst_tail),
        int(divergences),
        worst,
        problems,
        int(chains),
        int(per_chain),
    )
