r"""A baseline forecaster: the reference class, updated only for survival.

For a question on a hazard with a reference class, the chance that the event
happens by the horizon :math:`H` (months after the analysis date), asked after
:math:`t` months of survival on record, for :math:`n` groups asked about:

.. math::

    P = 1 - E\left[\left(1 - s + s\, e^{-\theta (H - t)}\right)^n
        \,\middle|\, \text{no event in } n t \text{ group-months}\right],

where :math:`\theta` is the class's monthly rate (its pooled posterior, a
mixture of Gammas, each updated by the survived exposure by conjugacy) and
:math:`s` is the share of departures that count: 1, or for an ``exits``
question the stated shares of its destinations. With :math:`s = 1` this is
:math:`E[1 - e^{-n\theta(H - t)}]`. The analyst's own adjustments and the
model's conditions play no part: this is the outside view alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from allegiance.spec import ModelSpec, Question
from allegiance.spec.reference import Extra, class_rate

KINDS = ("event", "leaves", "exits", "any_event")


def reference_forecast(
    spec: ModelSpec, question: Question, months_survived: int, extra: Iterable[Extra] = ()
) -> float | None:
    """Return the reference-class baseline's probability for a question, or None.

    Parameters
    ----------
    spec : ModelSpec
        The model; only rows whose period ended before its analysis date are used.
    question : Question
        A question of kind ``event``, ``leaves``, ``exits`` or ``any_event``.
    months_survived : int
        Months after the analysis date through which the record shows no event
        of the question's groups.
    extra : iterable of Extra
        Counts other records add to the classes (a validation run's other theatres).

    Returns
    -------
    float or None
        None for a question of another kind, or on a hazard without a reference class.

    Examples
    --------
    The reference model's ``leave`` (three factions) given ``reference_class:
    splinter_ucdp_islamist``, three quiet months after the analysis date:

    >>> reference_forecast(spec, spec.questions["grid_leave_any_12m"], 3)  # doctest: +SKIP
    0.133
    """
    f = question.fields
    if question.kind not in KINDS or f.get("hazard") not in spec.propensities:
        return None
    hazard = spec.propensities[f["hazard"]]
    if not hazard.reference_class:
        return None
    groups = len(f["actors"]) if question.kind in ("exits", "any_event") else 1
    share = 1.0
    if question.kind == "exits":
        centre = {d: dest.share.prior.centre() for d, dest in hazard.destinations.items()}
        share = sum(centre[d] for d in f["destinations"]) / sum(centre.values())
    remaining = max(question.horizon_months - months_survived, 0)
    rate = class_rate(hazard.reference_class, spec.analysis_date, extra)
    return rate.survived(groups * max(months_survived, 0)).p_event(remaining, groups, share)
