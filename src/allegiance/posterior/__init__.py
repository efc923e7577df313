"""Posteriors: fitted, checked, stored and reloaded with their identity.

Fitted by NUTS (:mod:`~allegiance.posterior.sampling`), checked
(:mod:`~allegiance.posterior.diagnostics`), stored and reloaded
(:mod:`~allegiance.posterior.draws`, :mod:`~allegiance.posterior.store`).
"""

from allegiance.posterior.diagnostics import ESS_MIN, RHAT_MAX, Diagnostics, array_stats, diagnose
from allegiance.posterior.draws import Posterior
from allegiance.posterior.sampling import fit, prepare
from allegiance.posterior.settings import FitSettings
from allegiance.posterior.store import load_posterior

__all__ = [
    "ESS_MIN",
    "RHAT_MAX",
    "Diagnostics",
    "FitSettings",
    "Posterior",
    "array_stats",
    "diagnose",
    "fit",
    "load_posterior",
    "prepare",
]
