"""A hazard's chance over months when events not yet on record may switch it (or open it).

A hazard moved by switches set off by other hazards' events, or at risk only
after another hazard's event (a gate), has each month the chance of the
switches in effect. While such an event is not on record it may come any
month from its hazard's months survived on, with that hazard's own chance,
itself moved by the switches of the events upstream of it (a chain). The
months are followed one by one over the histories of which of these events
have come. In each month the events with a switch in effect from their own
month are drawn first, upstream first, so that they move the hazards below
them in that same month; then the hazard survives the month or not with the
switches each history holds; then the events whose switches take effect the
next month are drawn, downstream first (the conventions of
:mod:`allegiance.model.switches`). A model with none of the new kinds of
switch follows exactly the order, and so the numbers, it always did.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from allegiance.model.structure import NEVER, Structure, structure
from allegiance.model.switches import pattern_months, pending_upstream, switch_months

if TYPE_CHECKING:
    from allegiance.model.quantities import Quantities

# (events that have come, events of this month with switches of both kinds), a bit per slot
History = tuple[int, int]
CELLS = 2**22  # (draw, configuration) numbers of all histories held at once, per block of draws


def event_between(q: Quantities, k: int, start: int, end: int) -> np.ndarray:
    """Probability of slot ``k``'s event in months ``[start, end)``, (draw, configuration).

    The histories are followed a few draws at a time: each holds one number
    per draw and configuration (at most :data:`CELLS` at once).
    """
    st = structure(q.spec)
    if not np.any(st.row_switches[k] >= 0):
        return q.slot_within(k, max(end - start, 0))
    months = switch_months(st, q.data.slot_events, q.data.slot_nonevents)
    chain = pending_upstream(st, k, months)
    if not chain:
        return -np.expm1(_log1m(q, k) @ pattern_months(st, k, months, start, end))
    step = max(1, CELLS // (q.n_configurations * 3 ** len(chain)))
    parts = []
    for i in range(0, q.n_draws, step):
        draws = slice(i, min(i + step, q.n_draws))
        out = np.zeros((draws.stop - i, q.n_configurations))
        for by in _forward(q, k, chain, months, start, end, draws):
            out = by
        parts.append(out)
    return np.concatenate(parts)


def event_by_month(q: Quantities, k: int, start: int, end: int) -> Iterator[np.ndarray]:
    """Yield the probability of slot ``k``'s event in ``[start, m + 1)`` for each month ``m``."""
    st = structure(q.spec)
    months = switch_months(st, q.data.slot_events, q.data.slot_nonevents)
    chain = pending_upstream(st, k, months) if np.any(st.row_switches[k] >= 0) else []
    if not chain:
        for m in range(start, end):
            yield event_between(q, k, start, m + 1)
        return
    yield from _forward(q, k, chain, months, start, end, slice(None))


def _forward(
    q: Quantities,
    k: int,
    chain: list[int],
    months: np.ndarray,
    start: int,
    end: int,
    draws: slice,
) -> Iterator[np.ndarray]:
    """Follow the months over the histories of the events in ``chain``, for some draws.

    Within a month, the events with a switch in effect from their own month
    come first, upstream first; then slot ``k`` survives the month or not;
    then the events whose switches all take effect the next month, downstream
    first (so that none sees another's event of the same month). A history is
    keyed by the events that have come, and by those of an event with
    switches of both kinds that came this month.
    """
    st = structure(q.spec)
    bit = {a: 1 << i for i, a in enumerate(chain)}
    lags = {
        a: {int(st.switch_lag[c]) for c in np.flatnonzero(st.switch_trigger == a)} for a in chain
    }
    log1m = {r: _log1m(q, r)[draws] for r in (k, *chain)}
    # A trigger moved by nothing has one chance, read as the terms give it (per pattern: P 1).
    fire = {a: q.slot_p(a)[draws][..., None] if not np.any(st.row_switches[a] >= 0)
            else -np.expm1(log1m[a]) for a in chain}  # fmt: skip
    first = [a for a in chain if 0 in lags[a]]
    after = [a for a in reversed(chain) if 0 not in lags[a]]
    histories: dict[History, np.ndarray] = {(0, 0): np.ones(log1m[k].shape[:2])}
    for m in range(min([start, *(q.exposure_months(a) for a in chain)]), end):
        for a in first:
            if m >= q.exposure_months(a):
                histories = _drawn(histories, st, a, m, months, bit, fire[a], lags[a] == {0})
        if m >= start:
            for (f, n), mass in histories.items():
                mass *= np.exp(log1m[k][..., _pattern(st, k, m, months, bit, f, n)])
        for a in after:
            if m < q.exposure_months(a):
                continue
            for f, n in [key for key in histories if not (key[0] | key[1]) & bit[a]]:
                moved = histories[(f, n)] * fire[a][..., _pattern(st, a, m, months, bit, f, n)]
                histories[(f, n)] = histories[(f, n)] - moved
                _add(histories, (f | bit[a], n), moved)
        if any(n for _, n in histories):
            merged: dict[History, np.ndarray] = {}
            for (f, n), mass in histories.items():
                _add(merged, (f | n, 0), mass)
            histories = merged
        if m >= start:
            yield 1.0 - np.sum(list(histories.values()), axis=0)


def _drawn(
    histories: dict[History, np.ndarray],
    st: Structure,
    a: int,
    m: int,
    months: np.ndarray,
    bit: dict[int, int],
    fire: np.ndarray,
    same_month: bool,
) -> dict[History, np.ndarray]:
    """Draw slot ``a``'s event in month ``m`` in each history where it has not come yet."""
    drawn: dict[History, np.ndarray] = {}
    for (f, n), mass in histories.items():
        if (f | n) & bit[a]:
            _add(drawn, (f, n), mass)
            continue
        moved = mass * fire[..., _pattern(st, a, m, months, bit, f, n)]
        _add(drawn, (f, n), mass - moved)
        _add(drawn, (f | bit[a], n) if same_month else (f, n | bit[a]), moved)
    return drawn


def _log1m(q: Quantities, r: int) -> np.ndarray:
    """Slot ``r``'s log(1 - p) per pattern, per draw and configuration, (S, Z, P)."""
    return np.take(q.sub_log1m_p_pattern[:, r], q.sub_index[r], axis=1)


def _pattern(
    st: Structure, r: int, m: int, months: np.ndarray, bit: dict[int, int], before: int, now: int
) -> int:
    """Row ``r``'s pattern in month ``m`` of a history: the pending events come by then."""
    pattern = 0
    for i, c in enumerate(st.row_switches[r][st.row_switches[r] >= 0]):
        a = int(st.switch_trigger[c])
        if m >= st.switch_off[c]:
            continue
        if a >= 0 and months[c] == NEVER:
            on = bool(before & bit[a]) or (st.switch_lag[c] == 0 and bool(now & bit[a]))
        else:
            on = m >= months[c]
        pattern |= int(on) << i
    return pattern


def _add(histories: dict[History, np.ndarray], key: History, mass: np.ndarray) -> None:
    histories[key] = histories[key] + mass if key in histories else mass
