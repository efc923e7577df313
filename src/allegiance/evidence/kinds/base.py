"""What every evidence kind is: its fields, their parser, and how it fills the arrays."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec
from allegiance.words import grade_weight, report_ratio

if TYPE_CHECKING:
    from allegiance.evidence.arrays import Arrays
    from allegiance.evidence.items import Item

COMMON_REQUIRED = ("id", "kind", "date", "source", "grade")
COMMON_OPTIONAL = ("note", "author", "recorded_at")
MAX_COUNT = 10**9  # more people or events in a month than any group has: a typo, not a count
HARD = -50.0  # log-likelihood of the state that hard evidence rules out

Parse = Callable[[KeyReader, Mapping[str, Any], str, ModelSpec], dict[str, Any]]
Fill = Callable[["Arrays", "Item"], None]


@dataclass(frozen=True)
class EvidenceKind:
    """One kind of evidence item: its fields, their parser, and how it fills the arrays.

    Parameters
    ----------
    name : str
        The ``kind`` written in a file.
    required, optional : tuple of str
        Its own fields (the common ones, ``id``, ``date``, ``grade``, ... aside);
        the CSV columns are theirs (:func:`~allegiance.evidence.kinds.field_columns`).
    parse : callable
        ``parse(r, body, key, spec)`` checks the fields against the model and
        returns them as the item keeps them; a bad one raises ``r.fail`` naming
        the file, the key and a fix.
    fill : callable
        ``fill(arrays, item)`` writes the item into the model's arrays
        (:class:`~allegiance.evidence.arrays.Arrays`), weighed by its grade,
        refusing it where it contradicts an item already in.
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    parse: Parse
    fill: Fill

    @property
    def fields(self) -> tuple[str, ...]:
        """Return its fields, required first."""
        return (*self.required, *self.optional)


def whole(x: Any) -> bool:
    """Return whether a value is a whole number of people or events in a month."""
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_COUNT


def observed_log_likelihood(grade: str) -> tuple[float, float]:
    """Return the log-likelihood of the observed state of a condition, and of the other.

    The source is taken to be right with probability ``r`` =
    :func:`~allegiance.words.grade_weight` of its grade and otherwise to say
    either state at random, so ``P(says x | x) = (1 + r) / 2`` and
    ``P(says x | not x) = (1 - r) / 2``: a likelihood ratio of
    ``(1 + r) / (1 - r)`` (B2: 4.6, C3: 2.1). An A1 observation (r = 1) is
    certain: the other state gets :data:`HARD`.
    """
    r = grade_weight(grade)
    if r >= 1.0:
        return 0.0, HARD
    return math.log1p(r) - math.log(2.0), math.log1p(-r) - math.log(2.0)


def report_log_ratio(item: Item) -> float:
    """Return the tempered log-likelihood ratio of a report, in favour of its state."""
    f = item.fields
    ratio = f["likelihood_ratio"] if "likelihood_ratio" in f else report_ratio(f["strength"])
    assert ratio is not None  # validated on parse
    return grade_weight(item.grade) * math.log(ratio)
