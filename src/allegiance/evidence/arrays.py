"""Evidence turned into the model's data arrays (:class:`~allegiance.model.data.ModelData`).

Adding evidence never changes the model's graph: items only fill the fixed-shape
arrays the PyMC model reads from ``pm.Data``. Each item fills them as its kind
says (:attr:`allegiance.evidence.kinds.EvidenceKind.fill`); :class:`Arrays`
holds what they share: the items already in, to refuse a contradiction, and
what is applied once all are in (time passing, the months split by pattern of
switches, the estimates of stocks).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from allegiance.errors import EvidenceError
from allegiance.evidence.items import EvidenceSet, Item
from allegiance.evidence.kinds import EVIDENCE_KINDS
from allegiance.model.data import MAX_STOCK_ESTIMATES, ModelData, seen_counts
from allegiance.model.stocks import estimate_sd, merged_fighters
from allegiance.model.structure import structure
from allegiance.model.switches import closed_event, pattern_months, patterns, switch_months
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec, months_between
from allegiance.words import grade_weight


def no_evidence(spec: ModelSpec) -> ModelData:
    """Return the arrays of a model with no evidence at all."""
    return model_data(spec, EvidenceSet.of([]))


def model_data(spec: ModelSpec, evidence: EvidenceSet, r: KeyReader | None = None) -> ModelData:
    """Turn evidence items into the model's data arrays.

    Parameters
    ----------
    spec : ModelSpec
    evidence : EvidenceSet
    r : optional
        Reader to raise errors with (file name); defaults to the spec's file.

    Raises
    ------
    EvidenceError
        When two items in force contradict each other.
    """
    arrays = Arrays(spec, r or KeyReader(evidence.path or spec.path, EvidenceError))
    for item in evidence.items:
        arrays.add(item)
    return arrays.finish()


class Arrays:
    """Fills the arrays item by item, refusing items that contradict each other.

    An item's kind writes its part (:attr:`EvidenceKind.fill`) through
    :attr:`data`, and records what later items are checked against in
    :attr:`observed` (what was observed, by where), :attr:`added` (months that
    single events add to), :attr:`survived` (the latest month each slot's
    event had not happened by), :attr:`strengths` and the estimates' cells.
    """

    def __init__(self, spec: ModelSpec, r: KeyReader) -> None:
        self.spec, self.r = spec, r
        self.structure = structure(spec)
        self.data = ModelData.empty(spec, self.structure.shift_pattern.shape[2])
        self.strengths: list[Item] = []
        self.estimates = 0
        self.estimate_cells: list[tuple[int, int]] = []  # (channel, cell) of each estimate
        self.observed: dict[Any, Item] = {}
        self.survived: dict[int, tuple[int, Item]] = {}
        self.added: dict[tuple[int, int], Item] = {}

    def add(self, item: Item) -> None:
        """Fill the arrays with one item, as its kind says."""
        EVIDENCE_KINDS[item.kind].fill(self, item)

    def first(self, where: Hashable, item: Item, about: str) -> bool:
        """Take an observation of ``where`` (one value per cell, slot or condition).

        Returns False for the same observation again (counted once), and
        refuses a different one, naming ``about`` (what it is an observation of).
        """
        earlier = self.observed.get(where)
        if earlier is not None and earlier.fields != item.fields:
            raise self.r.fail(
                f"items.{item.id}",
                f"contradicts item {earlier.id!r} on {about}.",
                "keep one; a correction retracts the other.",
            )
        if earlier is not None:
            return False
        self.observed[where] = item
        return True

    def cell(self, f: Mapping[str, Any]) -> tuple[int, int]:
        """Return the (channel, month) cell of a count, months from the window's start."""
        c = self.spec.channels.index((f["series"], f["category"]))
        first = dt.date.fromisoformat(f"{f['month']}-01")
        return c, months_between(self.spec.analysis_date, first) + self.spec.history_months

    def finish(self) -> ModelData:
        """Apply the survival items, latest date per slot, and return the arrays."""
        data = self.data
        for k, (months, item) in self.survived.items():
            if data.slot_events[k] and months > data.slot_nonevents[k]:
                raise self.r.fail(
                    f"items.{item.id}",
                    "says the event had not happened by a date after "
                    "an item recording that it happened.",
                    "keep one; a correction retracts the other.",
                )
            if not data.slot_events[k]:
                data.slot_nonevents[k] = months
        self._split_by_pattern()
        self._strengths()
        return data

    def _strengths(self) -> None:
        """Record each estimate of a stock, with the counts and merges up to its month."""
        data, spec = self.data, self.spec
        if len(self.strengths) > MAX_STOCK_ESTIMATES:
            raise self.r.fail(
                f"items.{self.strengths[MAX_STOCK_ESTIMATES].id}",
                f"more than {MAX_STOCK_ESTIMATES} estimates of stocks are in force.",
                "retract older estimates that newer ones replace.",
            )
        for e, item in enumerate(self.strengths):
            stock, (low, high) = item.fields["stock"], item.fields["range"]
            month = months_between(spec.analysis_date, item.date)
            data.stock_estimate_stock[e, list(spec.stocks).index(stock)] = 1.0
            data.stock_estimate_month[e] = month
            data.stock_estimate_log_mid[e] = (math.log(low) + math.log(high)) / 2
            data.stock_estimate_sd[e] = estimate_sd(low, high)
            data.stock_estimate_weight[e] = grade_weight(item.grade)
            for j in range(len(spec.channels)):
                seen, months = seen_counts(data, spec.history_months, j, 0, month)
                data.stock_estimate_seen[e, j] = seen
                data.stock_estimate_unseen[e, j] = max(month, 0) - months
            data.stock_estimate_merged[e] = merged_fighters(spec, data, stock, month)

    def _split_by_pattern(self) -> None:
        """Split each slot's months by the pattern of switches in effect in them."""
        data, st = self.data, self.structure
        months = switch_months(st, data.slot_events, data.slot_nonevents)
        for k, (left, t) in enumerate(zip(data.slot_events, data.slot_nonevents, strict=True)):
            data.slot_pattern_nonevents[k] = pattern_months(st, k, months, 0, t)
            if left and closed_event(st, k, months, int(t)):
                node, actor = self.spec.slots[k]
                gate = self.spec.propensities[node].at_risk_after
                assert gate is not None  # only a gate closes a slot's months
                raise self.r.fail(
                    f"items.{self.observed[('event', k)].id}",
                    f"records {'.'.join(filter(None, (node, actor)))}'s event before it is at "
                    f"risk: only after an event of {'.'.join(filter(None, (gate.hazard, actor)))}"
                    " on record (the model's at_risk_after).",
                    "record that earlier event too, or correct this event's month.",
                )
            if left:
                data.slot_pattern_events[k, patterns(st, k, months, t)] = left
            elif data.slot_outcome_log_lr[k]:
                ahead = pattern_months(st, k, months, t, data.slot_outcome_months[k])
                data.slot_pattern_ahead[k] = ahead
        history, cells = self.spec.history_months, np.arange(data.counts.shape[1])
        for j in range(data.counts.shape[0]):  # months before the analysis date: pattern 0
            month = np.maximum(cells - history, -1)
            pattern = np.where(month >= 0, patterns(st, st.n_slots + j, months, month), 0)
            data.count_pattern[j, cells, pattern] = 1.0
        for e, (c, cell) in enumerate(self.estimate_cells):
            data.estimate_pattern[e] = data.count_pattern[c, cell]
