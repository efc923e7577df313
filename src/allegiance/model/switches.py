"""When each switch condition is in effect, and so which pattern of switches holds each month.

Months count from the analysis month (0). A dated switch is in effect from
the first whole month on or after its date; a switch set off by a hazard's
event from the month after the event's month, once the event is on record.
"""

from __future__ import annotations

import numpy as np

from allegiance.model.structure import Structure


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
    months[fired] = nonevents[trigger[fired]].astype(int) + 1
    return months


def patterns(st: Structure, r: int, months: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pattern of row ``r`` in each month ``t``: bit ``i`` set when its ``i``-th switch is on."""
    mine = st.row_switches[r]
    mine = mine[mine >= 0]
    on = np.asarray(t)[..., None] >= months[mine]
    return (on * (1 << np.arange(len(mine)))).sum(axis=-1)


def pattern_months(
    st: Structure, r: int, months: np.ndarray, start: float, end: float
) -> np.ndarray:
    """Months in ``[start, end)`` spent in each of row ``r``'s patterns, (P,)."""
    n_patterns = st.shift_pattern.shape[2]
    t = np.arange(int(start), int(max(end, start)))
    return np.bincount(patterns(st, r, months, t), minlength=n_patterns).astype(float)
