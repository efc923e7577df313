"""Fast updates: a fit carried over to new evidence by importance reweighting.

:mod:`~allegiance.update.reweight` computes and checks the weights,
:mod:`~allegiance.update.updater` applies them (refitting where they fail),
:mod:`~allegiance.update.attribution` measures what each item moved, and
:mod:`~allegiance.update.timeline` runs the same through a sequence of dates.
"""

from allegiance.update.attribution import Attribution, explain
from allegiance.update.reweight import K_MAX, Reweighting, reweighting, weighted_ess
from allegiance.update.timeline import ReplayStep, replay
from allegiance.update.updater import Updater

__all__ = [
    "K_MAX",
    "Attribution",
    "ReplayStep",
    "Reweighting",
    "Updater",
    "explain",
    "replay",
    "reweighting",
    "weighted_ess",
]
