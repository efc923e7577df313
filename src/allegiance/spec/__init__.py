"""The model file: load, validate and describe a declared model (nothing is built here).

:func:`load_spec` reads a file into a :class:`ModelSpec`; the modules below it
read its parts: :mod:`~allegiance.spec.priors` (priors in words),
:mod:`~allegiance.spec.effects`, :mod:`~allegiance.spec.scenarios`,
:mod:`~allegiance.spec.questions` (with the field schema of each question kind
in :mod:`~allegiance.spec.fields`).
"""

from allegiance.spec.load import (
    ACTOR_ROLES,
    CONDITION_KINDS,
    MAX_BINARY_CONDITIONS,
    PROPENSITY_KINDS,
    SCHEMA_VERSION,
    load_spec,
)
from allegiance.spec.types import (
    MONTH_CONVENTION,
    Actor,
    Condition,
    Effect,
    Justified,
    ModelSpec,
    Propensity,
    Question,
    Scenario,
    Series,
    Target,
    add_months,
    count_threshold,
    months_between,
    months_covered,
)

__all__ = [
    "ACTOR_ROLES",
    "CONDITION_KINDS",
    "MAX_BINARY_CONDITIONS",
    "PROPENSITY_KINDS",
    "SCHEMA_VERSION",
    "Actor",
    "Condition",
    "Effect",
    "Justified",
    "ModelSpec",
    "Propensity",
    "Question",
    "Scenario",
    "Series",
    "Target",
    "load_spec",
    "add_months",
    "count_threshold",
    "MONTH_CONVENTION",
    "months_between",
    "months_covered",
]
