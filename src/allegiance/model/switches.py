"""When each switch is in effect, and so which pattern of switches holds each month.

Months count from the analysis month (0). A dated switch is in effect from
the first whole month on or after its date; a switch set off by a hazard's
event, once the event is on record, from the month after the event's month
(or from the event's own month, ``lag`` 0). A switch with an end is no longer
in effect from the first whole month on or after it: a month is in effect
when the switch holds on its first day. A gate (a slot at risk only after
another slot's event) is a switch with no effect whose off patterns are
closed.

Same month. In discrete time a month holds at most one event per slot, and
the order of two events within one month is not seen. A switch in effect
from its event's own month reads that month as if the event came at its
start: the moved hazard has its moved chance for the whole month, both for
its own event in that month and for surviving it (and a gated hazard may
have its event in the month of the event that opens it). A switch from the
next month reads the event as at the month's end.
"""

from __future__ import annotations

import numpy as np

from allegiance.model.structure import NEVER, Structure


def switch_months(st: Structure, events: np.ndarray, nonevents: np.ndarray) -> np.ndarray:
    """First month each switch is in effect, :data:`NEVER` if not on record (C,).

    Parameters
    ----------
    st : Structure
    events, nonevents : array (K,)
        Each slot's departure flag and months survived (a departure's month).
    """
    trigger = st.switch_trigger
    months = st.switch_on.copy()
    fired = (trigger >= 0) & (events[np.maximum(trigger, 0)] > 0)
    months[fired] = nonevents[trigger[fired]].astype(int) + st.switch_lag[fired]
    return months


def patterns(st: Structure, r: int, months: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pattern of row ``r`` in each month ``t``: bit ``i`` set when its ``i``-th switch is on."""
    mine = st.row_switches[r]
    mine = mine[mine >= 0]
    t = np.asarray(t)[..., None]
    on = (t >= months[mine]) & (t < st.switch_off[mine])
    return (on * (1 << np.arange(len(mine)))).sum(axis=-1)


def pattern_months(
    st: Structure, r: int, months: np.ndarray, start: float, end: float
) -> np.ndarray:
    """Months in ``[start, end)`` spent in each of row ``r``'s patterns, (P,)."""
    n_patterns = st.shift_pattern.shape[2]
    t = np.arange(int(start), int(max(end, start)))
    return np.bincount(patterns(st, r, months, t), minlength=n_patterns).astype(float)


def pending_upstream(st: Structure, r: int, months: np.ndarray) -> list[int]:
    """Slots upstream of row ``r`` whose event is not on record, upstream first.

    A slot is upstream when its event sets off a switch (or opens a gate) that
    reaches ``r``, or reaches a slot upstream of ``r`` whose own event is not
    on record. The order lets a month's events be drawn one after the other,
    each with the switches its upstream events have set (a model's chains
    have no loops: the spec refuses them).
    """
    order: list[int] = []

    def visit(row: int) -> None:
        for c in st.row_switches[row][st.row_switches[row] >= 0]:
            a = int(st.switch_trigger[c])
            if a >= 0 and months[c] == NEVER and a not in order:
                visit(a)
                if a not in order:
                    order.append(a)

    visit(r)
    return order


def upstream(st: Structure, rows: list[int]) -> list[int]:
    """Every slot whose event can move one of ``rows``, directly or through other slots."""
    seen: set[int] = set()
    todo = list(rows)
    while todo:
        row = todo.pop()
        for c in st.row_switches[row][st.row_switches[row] >= 0]:
            a = int(st.switch_trigger[c])
            if a >= 0 and a not in seen:
                seen.add(a)
                todo.append(a)
    return sorted(seen)


def closed_event(st: Structure, k: int, months: np.ndarray, t: int) -> bool:
    """Whether slot ``k``'s event in month ``t`` falls where it is not at risk (a gate's off)."""
    return not st.pattern_open[k, patterns(st, k, months, np.asarray(t))]
