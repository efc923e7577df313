"""The constant wiring of a model: configurations, sub-configurations, incidences."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from allegiance.cache import LRU
from allegiance.spec import ModelSpec
from allegiance.spec.switches import known_switch_month

NEVER = 10**6  # the month of a switch not (yet) in effect


@dataclass(frozen=True)
class Structure:
    """Constant arrays that wire a spec's conditions, effects, slots and channels together.

    *Rows* are the slots, then the count channels, then the exits (a
    destination of a hazard, per actor). Each row depends on a few binary
    conditions only (those of the effects that reach it), so its quantities
    are computed once per *sub-configuration* of those conditions (at most M
    of them) and gathered to the 2**B configurations by index. The exits of
    one actor under one hazard share their conditions, and so their
    sub-configurations: their shares are normalised together.
    """

    configurations: np.ndarray  # (B, Z) of 0/1
    window: np.ndarray  # (K,) months W of each slot's baseline statement
    shift_condition_level: np.ndarray  # (E, L) one-hot, zero row for binary effects
    shift_rows: np.ndarray  # (E, R) signed incidence
    shift_sub: np.ndarray  # (E, R, M): x_e of binary effect e in row r's sub-configuration m
    necessary_absent: np.ndarray  # (N, K, M): 1 where n reaches slot k and is false in m
    sub_index: np.ndarray  # (R, Z): each configuration's sub-configuration, per row
    gather_matrix: np.ndarray  # (R * M, Z) one-hot form of sub_index
    n_slots: int
    channel_series: np.ndarray  # (J,) index of each channel's series
    post: np.ndarray  # (T,) 1 for months from the analysis month on
    exit_group: np.ndarray  # (X, X): 1 where two exits are destinations of one actor's hazard
    exit_slot: np.ndarray  # (X,) the slot each exit is a destination of
    shift_pattern: np.ndarray  # (E, R, P): x_e of switch effect e in row r's pattern p
    row_switches: np.ndarray  # (R, W): the switches that reach each row (bit i of a pattern), -1
    # Switches are the switch conditions, then one gate per slot at risk only after an event.
    switch_trigger: np.ndarray  # (C,): the slot whose event sets off each switch, -1 for a date
    switch_on: np.ndarray  # (C,): first month a dated switch is in effect (NEVER for the others)
    switch_off: np.ndarray  # (C,): first month a switch is no longer in effect (NEVER: never)
    switch_lag: np.ndarray  # (C,): months from its event's month to its first month in effect
    pattern_open: np.ndarray  # (R, P): 0 where a pattern leaves a gated slot not at risk
    stock_flow: np.ndarray  # (N, J): +1 where a channel flows into a stock, -1 out of it
    stock_channels: np.ndarray  # (F,): the channels that flow into or out of some stock
    stock_gather: np.ndarray  # (F, M, Z): one-hot of each configuration's sub-configuration
    level_sd: float = 0.05

    @property
    def n_channels(self) -> int:
        """Return the number of count channels."""
        return int(self.channel_series.shape[0])

    @property
    def n_configurations(self) -> int:
        """Return the number of enumerated configurations, 2**B."""
        return int(self.configurations.shape[1])


_BUILT: LRU[int, tuple[ModelSpec, Structure]] = LRU(8)


def structure(spec: ModelSpec) -> Structure:
    """Return the constant wiring arrays of a spec (kept for the last few specs seen)."""
    built = _BUILT.get(id(spec))
    if built is not None and built[0] is spec:  # the spec itself is kept, so its id is its own
        return built[1]
    return _BUILT.put(id(spec), (spec, _structure(spec)))[1]


def _structure(spec: ModelSpec) -> Structure:
    binary, levels = spec.binary_conditions, spec.level_conditions
    exits = spec.exits
    rows = [*spec.slots, *spec.channels, *((f"{h}:{d}", a) for h, a, d in exits)]
    n_slots = len(spec.slots)
    configs = np.array(list(itertools.product((0, 1), repeat=len(binary))), dtype=float).T
    shifts = [e for e in spec.effects if e.kind == "shift"]
    necessary = [e for e in spec.effects if e.kind == "necessary"]

    def incidence(effects: list[Any], signed: bool) -> np.ndarray:
        out = np.zeros((len(effects), len(rows)))
        for i, e in enumerate(effects):
            for t in e.targets:
                for r, (node, member) in enumerate(rows):
                    if node == t.node and (t.member is None or t.member == member):
                        out[i, r] = e.direction if signed else 1.0
        return out

    def one_hot(effects: list[Any], ids: list[str]) -> np.ndarray:
        out = np.zeros((len(effects), len(ids)))
        for i, e in enumerate(effects):
            if e.condition in ids:
                out[i, ids.index(e.condition)] = 1.0
        return out

    shift_rows = incidence(shifts, signed=True)
    necessary_rows = incidence(necessary, signed=False)
    shift_binary, necessary_binary = one_hot(shifts, binary), one_hot(necessary, binary)
    # The binary conditions each row depends on.
    reach = (np.abs(shift_rows).T @ shift_binary + necessary_rows.T @ necessary_binary) > 0
    first_exit = n_slots + len(spec.channels)
    exit_slot = np.array([spec.slots.index((h, a)) for h, a, _ in exits], dtype=int)
    group = (exit_slot[:, None] == exit_slot[None, :]).astype(float)
    if len(exits):  # an actor's exits share the union of their conditions
        reach[first_exit:] = (group @ reach[first_exit:]) > 0
    width = max((int(r.sum()) for r in reach), default=0)
    m_sub = 2**width
    sub = np.zeros((len(rows), m_sub, len(binary)))  # sub-configurations as full 0/1 vectors
    sub_index = np.zeros((len(rows), configs.shape[1]), dtype=int)
    for r, depends in enumerate(reach):
        on = np.flatnonzero(depends)
        for m, bits in enumerate(itertools.product((0, 1), repeat=len(on))):
            sub[r, m, on] = bits
        weights = 2 ** np.arange(len(on))[::-1]
        sub_index[r] = weights @ configs[on].astype(int) if len(on) else 0
    gather = np.zeros((len(rows) * m_sub, configs.shape[1]))
    gather[np.arange(len(rows))[:, None] * m_sub + sub_index, np.arange(configs.shape[1])] = 1.0

    series_ids = list(spec.series)
    switches = _switches(spec, shifts, incidence(shifts, signed=False))
    stocks = _stocks(spec, sub_index[n_slots:first_exit], m_sub)
    post = np.zeros(spec.window_months)
    post[spec.history_months :] = 1.0
    return Structure(
        configurations=configs,
        window=np.array([spec.propensities[p].within_months for p, _ in spec.slots], dtype=float),
        shift_condition_level=one_hot(shifts, levels),
        shift_rows=shift_rows,
        shift_sub=np.einsum("eb,rmb->erm", shift_binary, sub),
        necessary_absent=necessary_rows[:, :n_slots, None]
        * (1.0 - np.einsum("nb,kmb->nkm", necessary_binary, sub[:n_slots])),
        sub_index=sub_index,
        gather_matrix=gather,
        n_slots=n_slots,
        channel_series=np.array([series_ids.index(s) for s, _ in spec.channels], dtype=int),
        post=post,
        exit_group=group,
        exit_slot=exit_slot,
        shift_pattern=switches["shift_pattern"],
        row_switches=switches["row_switches"],
        switch_trigger=switches["switch_trigger"],
        switch_on=switches["switch_on"],
        switch_off=switches["switch_off"],
        switch_lag=switches["switch_lag"],
        pattern_open=switches["pattern_open"],
        stock_flow=stocks["stock_flow"],
        stock_channels=stocks["stock_channels"],
        stock_gather=stocks["stock_gather"],
    )


def _stocks(spec: ModelSpec, channel_index: np.ndarray, m_sub: int) -> dict[str, np.ndarray]:
    """Wire the stocks to the channels that flow into and out of them."""
    flow = np.zeros((len(spec.stocks), len(spec.channels)))
    for i, stock in enumerate(spec.stocks.values()):
        for sign, channels in ((1.0, stock.inflows), (-1.0, stock.outflows)):
            for c in channels:
                flow[i, spec.channels.index(c)] = sign
    used = np.flatnonzero(np.abs(flow).sum(axis=0))
    z = channel_index.shape[1]
    gather = np.zeros((len(used), m_sub, z))
    for f, j in enumerate(used):
        gather[f, channel_index[j], np.arange(z)] = 1.0
    return {"stock_flow": flow, "stock_channels": used, "stock_gather": gather}


def _switches(spec: ModelSpec, shifts: list[Any], rows: np.ndarray) -> dict[str, np.ndarray]:
    """Wire the switches: which rows each reaches, and each one's dates or trigger.

    A row's *pattern* says which of the switches that reach it are on: bit
    ``i`` for its ``i``-th switch, so a row reached by ``w`` switches has
    ``2**w`` patterns. Without switches every row has one pattern. A slot at
    risk only after another slot's event (a gate) has a switch of its own,
    with no effect: the patterns with it off are closed (``pattern_open``).
    """
    ids, slots = spec.switch_conditions, spec.slots
    gated = [(k, spec.propensities[node].at_risk_after, actor)
             for k, (node, actor) in enumerate(slots)
             if spec.propensities[node].at_risk_after is not None]  # fmt: skip
    n_switches = len(ids) + len(gated)
    by_effect = np.array([[e.condition == c for c in ids] for e in shifts], dtype=float)
    reach = np.zeros((rows.shape[1], n_switches), dtype=bool)
    reach[:, : len(ids)] = (rows.T @ by_effect.reshape(len(shifts), len(ids))) > 0  # (R, C)
    trigger, lag = np.full(n_switches, -1, dtype=int), np.ones(n_switches, dtype=int)
    on_month, off_month = np.full(n_switches, NEVER, dtype=int), np.full(n_switches, NEVER)
    for j, cid in enumerate(ids):
        switch = spec.conditions[cid].switch
        assert switch is not None
        if switch.after is not None:
            trigger[j], lag[j] = slots.index(switch.after), switch.lag
        else:
            assert switch.date is not None
            on_month[j] = known_switch_month(spec.analysis_date, switch.date)
        if switch.until is not None:
            off_month[j] = known_switch_month(spec.analysis_date, switch.until)
    for g, (k, gate, actor) in enumerate(gated):
        reach[k, len(ids) + g] = True
        trigger[len(ids) + g], lag[len(ids) + g] = slots.index((gate.hazard, actor)), gate.lag
    width = max((int(r.sum()) for r in reach), default=0)
    row_switches = np.full((rows.shape[1], width), -1, dtype=int)
    pattern = np.zeros((len(shifts), rows.shape[1], 2**width))
    is_open = np.ones((rows.shape[1], 2**width))
    bits = (np.arange(2**width)[:, None] >> np.arange(width)) & 1  # (P, W)
    for r, on in enumerate(reach):
        mine = np.flatnonzero(on)
        row_switches[r, : len(mine)] = mine
        for i, c in enumerate(mine):
            if c < len(ids):
                pattern[:, r, :] += (by_effect[:, c] * rows[:, r])[:, None] * bits[:, i]
            else:
                is_open[r] *= bits[:, i]
    return {
        "shift_pattern": pattern,
        "row_switches": row_switches,
        "switch_trigger": trigger,
        "switch_on": on_month,
        "switch_off": off_month,
        "switch_lag": lag,
        "pattern_open": is_open,
    }
