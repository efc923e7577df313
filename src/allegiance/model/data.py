"""Evidence as the fixed-shape arrays the model reads from ``pm.Data`` containers.

:class:`ModelData` is the one table of evidence arrays. Each field declares,
in its metadata (:class:`Array`), its shape in the model's dimensions, the
value of an array with no evidence, its optional group (left out of the graph
when no evidence needs it), how the replay's proposal takes its midpoint
(:func:`midway`), its role for the fast update (:mod:`allegiance.model.patch`)
and what a question reads of it (:func:`evidence_reads`). The names, the empty
arrays, the midpoint, the groups, the update's lists and the questions' reads
all derive from it: a new array is one field here, and its equation in
:mod:`allegiance.model.terms`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from allegiance import dims

if TYPE_CHECKING:
    from allegiance.spec import ModelSpec

# Estimated monthly totals in force at once: a fixed number of slots keeps the
# model's graph (and its compiled sampler) the same whatever the evidence.
MAX_ESTIMATES = 24
MAX_STOCK_ESTIMATES = 24  # estimates of stocks in force at once, for the same reason

# Dimensions of the arrays beyond the canonical ones (dims.BINARY, LEVEL, SLOT, CHANNEL, MONTH).
STATE = "state"  # false / true of a binary condition
PATTERN = "pattern"  # a pattern of switches in effect
EXIT = "exit"
STOCK = "stock"
ESTIMATE = "estimate"  # a slot for an estimated monthly total
STOCK_ESTIMATE = "stock_estimate"  # a slot for an estimate of a stock

# Optional groups: left out of the graph when the evidence or the model has none.
ESTIMATES, STOCKS = "estimates", "stocks"

# Roles for the fast update (model/patch.py): a row's own evidence (a slot's, a channel's, an
# exit's, an estimate's of its channel, the estimate's channel itself), the evidence on the
# binary conditions (a (B, 2) log-likelihood), on the levels, and on the stocks.
SLOT_ROW, CHANNEL_ROW, EXIT_ROW = "slot row", "channel row", "exit row"
ESTIMATE_ROW, ESTIMATE_OF = "estimate row", "estimate channel"
CONDITION, LEVEL_ROLE, STOCK_ROLE = "condition", "level", "stock"
ROLES = (
    SLOT_ROW,
    CHANNEL_ROW,
    EXIT_ROW,
    ESTIMATE_ROW,
    ESTIMATE_OF,
    CONDITION,
    LEVEL_ROLE,
    STOCK_ROLE,
)

# What a question reads of an array: its slots' rows, its channels' months from the analysis
# month on, the whole array, or nothing.
SLOT, CHANNEL_FORWARD, WHOLE, NOTHING = "slot", "channel_forward", "whole", "nothing"
READS = (SLOT, CHANNEL_FORWARD, WHOLE, NOTHING)


@dataclass(frozen=True)
class Midpoint:
    """How :func:`midway` takes an array's midpoint between two data sets.

    ``mean``: the mean. ``weighted``: the mean weighted by the mask array named in
    ``by``. ``later``: the later data's. ``later_where``: the later data's where
    its array ``by`` is not 0, else the earlier's. ``weight``: an estimate's
    weight, the mean of the two where the arrays ``by`` (its identity) agree,
    else half the later's.
    """

    rule: str
    by: tuple[str, ...] = ()


MEAN, LATER = Midpoint("mean"), Midpoint("later")
MIDPOINT_RULES = ("mean", "weighted", "later", "later_where", "weight")


@dataclass(frozen=True)
class Array:
    """The declaration of one evidence array (a :class:`ModelData` field's metadata).

    Attributes
    ----------
    shape : tuple of str
        Its dimensions: ``dims.BINARY``, ``dims.LEVEL``, ``dims.SLOT``,
        ``dims.CHANNEL``, ``dims.MONTH`` (the count window), :data:`STATE`,
        :data:`PATTERN`, :data:`EXIT`, :data:`STOCK`, :data:`ESTIMATE`
        (``MAX_ESTIMATES``) or :data:`STOCK_ESTIMATE` (``MAX_STOCK_ESTIMATES``).
    role : str
        What the fast update recomputes when it changes (one of :data:`ROLES`).
    midpoint : Midpoint
        Its rule in :func:`midway`.
    read : str
        What a question reads of it (one of :data:`READS`).
    fill : float
        Its value with no evidence.
    group : str, optional
        :data:`ESTIMATES` or :data:`STOCKS`: left out of the graph when unneeded.
    """

    shape: tuple[str, ...]
    role: str
    midpoint: Midpoint = MEAN
    read: str = NOTHING
    fill: float = 0.0
    group: str | None = None


def _array(
    *shape: str,
    role: str,
    midpoint: Midpoint = MEAN,
    read: str = NOTHING,
    fill: float = 0.0,
    group: str | None = None,
) -> Any:
    declared = Array(shape, role, midpoint, read, fill, group)
    return field(metadata={"array": declared})


_SLOTS = (dims.SLOT, PATTERN)
_ESTIMATE_ID = ("estimate_low", "estimate_high", "estimate_post", "estimate_channel")
_STOCK_ID = (
    "stock_estimate_month", "stock_estimate_log_mid", "stock_estimate_sd", "stock_estimate_stock",
    "stock_estimate_seen", "stock_estimate_unseen", "stock_estimate_merged",
)  # fmt: skip


@dataclass
class ModelData:
    """Evidence as the fixed-shape arrays the model reads (see :data:`DATA_NAMES`)."""

    # (B, 2): log-likelihood of the evidence if false / true
    condition_loglik: np.ndarray = _array(dims.BINARY, STATE, role=CONDITION)
    # (K,): tempered log-likelihood ratio of reports on chance slots
    slot_log_lr: np.ndarray = _array(dims.SLOT, role=SLOT_ROW, read=SLOT)
    # (L,): each observed level's value; 0.5 unobserved
    level_value: np.ndarray = _array(
        dims.LEVEL, role=LEVEL_ROLE, fill=0.5, midpoint=Midpoint("weighted", ("level_mask",))
    )
    # (L,): the grade weight of each observed level, 0 if unobserved
    level_mask: np.ndarray = _array(dims.LEVEL, role=LEVEL_ROLE)
    # (L,): tempered log-likelihood ratio of reports, high vs low
    level_log_lr: np.ndarray = _array(dims.LEVEL, role=LEVEL_ROLE)
    slot_events: np.ndarray = _array(dims.SLOT, role=SLOT_ROW, read=SLOT)  # (K,)
    slot_nonevents: np.ndarray = _array(dims.SLOT, role=SLOT_ROW, read=SLOT)  # (K,)
    # (K,): tempered log-LR of reports that the event happened ...
    slot_outcome_log_lr: np.ndarray = _array(dims.SLOT, role=SLOT_ROW, read=SLOT)
    # (K,): ... by the end of this month (from the analysis month); not linear in the month:
    # the later data's where it has such reports
    slot_outcome_months: np.ndarray = _array(
        dims.SLOT,
        role=SLOT_ROW,
        read=SLOT,
        midpoint=Midpoint("later_where", ("slot_outcome_log_lr",)),
    )
    # The same months split by the pattern of switches in effect (K, P); P = 1 without switches.
    slot_pattern_events: np.ndarray = _array(*_SLOTS, role=SLOT_ROW)  # the departure's pattern
    slot_pattern_nonevents: np.ndarray = _array(*_SLOTS, role=SLOT_ROW)  # months survived in each
    # months from those survived to a report's month, no departure
    slot_pattern_ahead: np.ndarray = _array(
        *_SLOTS, role=SLOT_ROW, midpoint=Midpoint("later_where", ("slot_outcome_log_lr",))
    )
    counts: np.ndarray = _array(  # (J, T)
        dims.CHANNEL,
        dims.MONTH,
        role=CHANNEL_ROW,
        read=CHANNEL_FORWARD,
        midpoint=Midpoint("weighted", ("count_mask",)),
    )
    # (J, T): the grade weight of each observed cell, 0 if unobserved
    count_mask: np.ndarray = _array(
        dims.CHANNEL, dims.MONTH, role=CHANNEL_ROW, read=CHANNEL_FORWARD
    )
    # Estimates are not linear in their ranges: the later data's, each at the mean of its two
    # weights where both hold it, at half its weight where only the later does.
    # (E,): an estimated month's total lies in [low, high]
    estimate_low: np.ndarray = _array(ESTIMATE, role=ESTIMATE_ROW, midpoint=LATER, group=ESTIMATES)
    estimate_high: np.ndarray = _array(ESTIMATE, role=ESTIMATE_ROW, midpoint=LATER, group=ESTIMATES)
    # (E,): its grade weight; 0 for an unused slot
    estimate_weight: np.ndarray = _array(
        ESTIMATE, role=ESTIMATE_ROW, midpoint=Midpoint("weight", _ESTIMATE_ID), group=ESTIMATES
    )
    # (E, J): one-hot channel of each estimate
    estimate_channel: np.ndarray = _array(
        ESTIMATE, dims.CHANNEL, role=ESTIMATE_OF, midpoint=LATER, group=ESTIMATES
    )
    # (E,): 1 for a month from the analysis month on
    estimate_post: np.ndarray = _array(ESTIMATE, role=ESTIMATE_ROW, midpoint=LATER, group=ESTIMATES)
    # (J, T, P): one-hot pattern of switches in each month (0 before); not a weight: the later's
    count_pattern: np.ndarray = _array(
        dims.CHANNEL, dims.MONTH, PATTERN, role=CHANNEL_ROW, midpoint=LATER
    )
    # (E, P): one-hot pattern of switches in an estimated month
    estimate_pattern: np.ndarray = _array(
        ESTIMATE, PATTERN, role=ESTIMATE_ROW, midpoint=LATER, group=ESTIMATES
    )
    # (X,): grade weight of a departure seen going to this exit; few, and rarely changed
    exit_observed: np.ndarray = _array(EXIT, role=EXIT_ROW, read=WHOLE)
    # Estimates of stocks (E2 slots): an estimate of stock s at month t lies in [low, high];
    # like estimated totals, the later data's, at the mean weight where both hold one.
    stock_estimate_stock: np.ndarray = _array(  # (E2, N): one-hot stock of each estimate
        STOCK_ESTIMATE, STOCK, role=STOCK_ROLE, midpoint=LATER, group=STOCKS
    )
    stock_estimate_month: np.ndarray = _array(  # (E2,): its month, from the analysis month
        STOCK_ESTIMATE, role=STOCK_ROLE, midpoint=LATER, group=STOCKS
    )
    stock_estimate_log_mid: np.ndarray = _array(  # (E2,): the log of its range's middle
        STOCK_ESTIMATE, role=STOCK_ROLE, midpoint=LATER, group=STOCKS
    )
    # (E2,): the sd of log size its range gives (90 % within it); unused slots: finite, weight 0
    stock_estimate_sd: np.ndarray = _array(
        STOCK_ESTIMATE, role=STOCK_ROLE, midpoint=LATER, fill=1.0, group=STOCKS
    )
    stock_estimate_weight: np.ndarray = _array(  # (E2,): its grade weight; 0 for an unused slot
        STOCK_ESTIMATE, role=STOCK_ROLE, midpoint=Midpoint("weight", _STOCK_ID), group=STOCKS
    )
    stock_estimate_seen: np.ndarray = _array(  # (E2, J): counts on record of each channel to it
        STOCK_ESTIMATE, dims.CHANNEL, role=STOCK_ROLE, midpoint=LATER, group=STOCKS
    )
    stock_estimate_unseen: np.ndarray = _array(  # (E2, J): months not on record of each channel
        STOCK_ESTIMATE, dims.CHANNEL, role=STOCK_ROLE, midpoint=LATER, group=STOCKS
    )
    stock_estimate_merged: np.ndarray = _array(  # (E2,): fighters merged into the stock by then
        STOCK_ESTIMATE, role=STOCK_ROLE, midpoint=LATER, group=STOCKS
    )

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays by data-container name."""
        return dict(vars(self))

    @classmethod
    def empty(cls, spec: ModelSpec, n_patterns: int) -> ModelData:
        """Return the arrays of no evidence: each of its declared shape, at its fill value.

        Parameters
        ----------
        spec : ModelSpec
        n_patterns : int
            Patterns of switches in effect (``Structure.shift_pattern.shape[2]``).
        """
        size = {
            dims.BINARY: len(spec.binary_conditions),
            dims.LEVEL: len(spec.level_conditions),
            dims.SLOT: len(spec.slots),
            dims.CHANNEL: len(spec.channels),
            dims.MONTH: spec.window_months,
            STATE: 2,
            PATTERN: n_patterns,
            EXIT: len(spec.exits),
            STOCK: len(spec.stocks),
            ESTIMATE: MAX_ESTIMATES,
            STOCK_ESTIMATE: MAX_STOCK_ESTIMATES,
        }
        return cls(
            **{
                name: np.full(tuple(size[d] for d in a.shape), a.fill)
                for name, a in DECLARED.items()
            }
        )


DECLARED: dict[str, Array] = {f.name: f.metadata["array"] for f in fields(ModelData)}
DATA_NAMES = tuple(DECLARED)


def named(
    *, role: str | None = None, read: str | None = None, group: str | None = None
) -> tuple[str, ...]:
    """Return the arrays of a role, a read or a group, in the table's order."""
    return tuple(
        name
        for name, a in DECLARED.items()
        if (role is None or a.role == role)
        and (read is None or a.read == read)
        and (group is None or a.group == group)
    )


def evidence_reads() -> dict[str, str]:
    """Return what a question reads of each array it reads at all (:data:`SLOT`, ...)."""
    return {name: a.read for name, a in DECLARED.items() if a.read != NOTHING}


def graph_names(estimates: bool, stocks: bool) -> list[str]:
    """Return the arrays the model's graph holds: the optional groups only when wanted."""
    wanted = {None, *([ESTIMATES] if estimates else []), *([STOCKS] if stocks else [])}
    return [name for name, a in DECLARED.items() if a.group in wanted]


def midway(a: ModelData, b: ModelData) -> ModelData:
    """Return evidence arrays halfway between two: each likelihood term at half weight.

    The terms are linear in most arrays (months, events, log-likelihood ratios,
    count cells through their mask), so the midpoint is the geometric bridge
    between the two posteriors, wider than the later one and centred between
    them: a proposal that importance sampling carries to both. Each array's
    rule is its declared :class:`Midpoint`.
    """
    x, y = a.arrays(), b.arrays()
    return ModelData(**{name: _midpoint(d.midpoint, x, y, name) for name, d in DECLARED.items()})


def _midpoint(m: Midpoint, x: dict[str, np.ndarray], y: dict[str, np.ndarray], name: str) -> Any:
    if m.rule == "mean":
        return (x[name] + y[name]) / 2
    if m.rule == "later":
        return y[name]
    if m.rule == "weighted":  # the mean of the values, weighed by their masks
        mask = (x[m.by[0]] + y[m.by[0]]) / 2
        total = x[m.by[0]] * x[name] + y[m.by[0]] * y[name]
        return np.divide(total, 2 * mask, out=np.zeros_like(total), where=mask > 0)
    if m.rule == "later_where":
        flag = y[m.by[0]] != 0
        flag = flag.reshape(flag.shape + (1,) * (y[name].ndim - flag.ndim))
        return np.where(flag, y[name], x[name])
    assert m.rule == "weight", m.rule
    same = np.ones(len(y[name]), dtype=bool)
    for part in m.by:  # the estimate in each slot: the same in both where all its parts are
        same &= np.all((x[part] == y[part]).reshape(len(same), -1), axis=1)
    return np.where(same, (x[name] + y[name]) / 2, y[name] / 2)


def seen_counts(
    data: ModelData, history_months: int, channel: int, first: int, end: int
) -> tuple[float, int]:
    """Return a channel's counts on record, and how many months are, in months ``[first, end)``.

    Months count from the analysis month (0). A count on record is seen in
    full whatever its grade: the grade weighs its likelihood (the mask's
    value), not the number.
    """
    cells = slice(history_months + max(first, 0), history_months + max(end, first, 0))
    seen = data.count_mask[channel, cells] > 0
    return float(data.counts[channel, cells][seen].sum()), int(seen.sum())
