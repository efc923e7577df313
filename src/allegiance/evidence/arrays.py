"""Evidence turned into the model's data arrays (:class:`~allegiance.model.data.ModelData`).

Adding evidence never changes the model's graph: items only fill the fixed-shape
arrays the PyMC model reads from ``pm.Data``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from allegiance.errors import EvidenceError
from allegiance.evidence.items import EvidenceSet, Item
from allegiance.model.data import MAX_ESTIMATES, MAX_STOCK_ESTIMATES, ModelData, seen_counts
from allegiance.model.stocks import estimate_sd, merged_fighters
from allegiance.model.structure import structure
from allegiance.model.switches import closed_event, pattern_months, patterns, switch_months
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec, months_between
from allegiance.words import grade_weight, report_ratio

HARD = -50.0  # log-likelihood of the state that hard evidence rules out


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
    arrays = _Arrays(spec, r or KeyReader(evidence.path or spec.path, EvidenceError))
    for item in evidence.items:
        arrays.add(item)
    return arrays.finish()


class _Arrays:
    """Fills the arrays item by item, refusing items that contradict each other."""

    def __init__(self, spec: ModelSpec, r: KeyReader) -> None:
        self.spec, self.r = spec, r
        n_slots, n_channels = len(spec.slots), len(spec.channels)
        self.structure = structure(spec)
        n_patterns = self.structure.shift_pattern.shape[2]
        self.data = ModelData(
            condition_loglik=np.zeros((len(spec.binary_conditions), 2)),
            slot_log_lr=np.zeros(n_slots),
            level_value=np.full(len(spec.level_conditions), 0.5),
            level_mask=np.zeros(len(spec.level_conditions)),
            level_log_lr=np.zeros(len(spec.level_conditions)),
            slot_events=np.zeros(n_slots),
            slot_nonevents=np.zeros(n_slots),
            slot_outcome_log_lr=np.zeros(n_slots),
            slot_outcome_months=np.zeros(n_slots),
            slot_pattern_events=np.zeros((n_slots, n_patterns)),
            slot_pattern_nonevents=np.zeros((n_slots, n_patterns)),
            slot_pattern_ahead=np.zeros((n_slots, n_patterns)),
            counts=np.zeros((n_channels, spec.window_months)),
            count_mask=np.zeros((n_channels, spec.window_months)),
            estimate_low=np.zeros(MAX_ESTIMATES),
            estimate_high=np.zeros(MAX_ESTIMATES),
            estimate_weight=np.zeros(MAX_ESTIMATES),
            estimate_channel=np.zeros((MAX_ESTIMATES, n_channels)),
            estimate_post=np.zeros(MAX_ESTIMATES),
            count_pattern=np.zeros((n_channels, spec.window_months, n_patterns)),
            estimate_pattern=np.zeros((MAX_ESTIMATES, n_patterns)),
            exit_observed=np.zeros(len(spec.exits)),
            stock_estimate_stock=np.zeros((MAX_STOCK_ESTIMATES, len(spec.stocks))),
            stock_estimate_month=np.zeros(MAX_STOCK_ESTIMATES),
            stock_estimate_log_mid=np.zeros(MAX_STOCK_ESTIMATES),
            stock_estimate_sd=np.ones(MAX_STOCK_ESTIMATES),  # unused slots: finite, weight 0
            stock_estimate_weight=np.zeros(MAX_STOCK_ESTIMATES),
            stock_estimate_seen=np.zeros((MAX_STOCK_ESTIMATES, n_channels)),
            stock_estimate_unseen=np.zeros((MAX_STOCK_ESTIMATES, n_channels)),
            stock_estimate_merged=np.zeros(MAX_STOCK_ESTIMATES),
        )
        self.strengths: list[Item] = []
        self.estimates = 0
        self.estimate_cells: list[tuple[int, int]] = []  # (channel, cell) of each estimate
        self.observed: dict[Any, Item] = {}
        self.survived: dict[int, tuple[int, Item]] = {}
        self.added: dict[tuple[int, int], Item] = {}

    def add(self, item: Item) -> None:
        kind, f = _normalised(item)
        node = str(f.get("target", "")).partition(".")[0]
        if kind == "report" and self.spec.propensities.get(node, None) is not None:
            if self.spec.propensities[node].kind == "hazard":
                self._add_outcome_report(item, f)
            else:
                _add_report(self.spec, self.data, item)
        elif kind == "report":
            _add_report(self.spec, self.data, item)
        elif kind == "no_event":
            k = self.spec.slots.index((f["hazard"], f["actor"]))
            months = months_between(self.spec.analysis_date, dt.date.fromisoformat(f["through"]))
            if months > self.survived.get(k, (-1, item))[0]:
                self.survived[k] = (months, item)
        elif kind == "added_count":
            self._add_count(item, f)
        elif kind == "outcome":
            self._observe_outcome(item, f)
        elif kind == "strength":  # read once the counts and departures are all in
            self.strengths.append(item)
        elif kind == "resolution":  # an outcome, not evidence: checked, not counted
            where = ("resolution", f["question"])
            if where in self.observed and self.observed[where].fields != f:
                raise self.r.fail(
                    f"items.{item.id}",
                    f"resolves {f['question']!r} otherwise than item {self.observed[where].id!r}.",
                    "keep one; a correction retracts the other.",
                )
            self.observed[where] = item
        else:
            self._observe(item, kind, f)

    def _estimate(self, item: Item, c: int, t: int, count: Mapping[str, Any]) -> None:
        """Record an estimated monthly total: the chance it lies in its range, weighed."""
        e, data = self.estimates, self.data
        if e == MAX_ESTIMATES:
            raise self.r.fail(
                f"items.{item.id}",
                f"more than {MAX_ESTIMATES} estimated monthly totals are in force.",
                "give older months as sourced totals, or retract estimates they replace.",
            )
        data.estimate_low[e], data.estimate_high[e] = count["range"]
        data.estimate_weight[e] = grade_weight(item.grade)
        data.estimate_channel[e, c] = 1.0
        data.estimate_post[e] = float(t >= self.spec.history_months)
        self.estimate_cells.append((c, t))
        self.estimates += 1

    def _observe_outcome(self, item: Item, f: Mapping[str, Any]) -> None:
        """Record an observed chance outcome: a report with the ratio its grade allows."""
        node, _, actor = f["target"].partition(".")
        k = self.spec.slots.index((node, actor))
        earlier = self.observed.get(("outcome", k))
        if earlier is not None:
            if earlier.fields["value"] != f["value"]:
                raise self.r.fail(
                    f"items.{item.id}",
                    f"contradicts item {earlier.id!r} on {f['target']}.",
                    "keep one; a correction retracts the other.",
                )
            return
        self.observed[("outcome", k)] = item
        seen, other = observed_log_likelihood(item.grade)
        self.data.slot_log_lr[k] += (seen - other) if f["value"] else (other - seen)

    def _add_outcome_report(self, item: Item, f: Mapping[str, Any]) -> None:
        """Record a report that a hazard's event happened (or not) by the end of its month."""
        node, _, actor = f["target"].partition(".")
        k = self.spec.slots.index((node, actor))
        months = months_between(self.spec.analysis_date, item.date) + 1
        earlier = self.observed.get(("outcome report", k))
        if earlier is not None and earlier.date.strftime("%Y-%m") != item.date.strftime("%Y-%m"):
            raise self.r.fail(
                f"items.{item.id}",
                f"reports {f['target']} as of {item.date:%Y-%m}, and item {earlier.id!r} as of "
                f"{earlier.date:%Y-%m}: reports of one outcome must share a month.",
                "keep the latest report, and retract the earlier one.",
            )
        self.observed[("outcome report", k)] = item
        log_lr = report_log_ratio(item)
        self.data.slot_outcome_log_lr[k] += log_lr if f["favours"] else -log_lr
        self.data.slot_outcome_months[k] = months

    def _cell(self, f: Mapping[str, Any]) -> tuple[int, int]:
        """Return the (channel, month) cell of a count, months from the window's start."""
        c = self.spec.channels.index((f["series"], f["category"]))
        first = dt.date.fromisoformat(f"{f['month']}-01")
        return c, months_between(self.spec.analysis_date, first) + self.spec.history_months

    def _add_count(self, item: Item, f: Mapping[str, Any]) -> None:
        c, t = self._cell(f)
        total = ("count", c, t)
        if total in self.observed:
            raise self.r.fail(
                f"items.{item.id}",
                f"adds to a month whose total item {self.observed[total].id!r} already gives.",
                "record either the monthly total or the single events, not both.",
            )
        weight = grade_weight(item.grade)
        earlier = self.data.count_mask[c, t]
        self.added[(c, t)] = item
        self.data.counts[c, t] += f["count"]
        # A sum is only as sure as its least reliable part.
        self.data.count_mask[c, t] = min(earlier, weight) if earlier else weight

    def _observe(self, item: Item, kind: str, f: Mapping[str, Any]) -> None:
        """Record a count, an event or a condition: one value per cell, slot or condition."""
        data, where = self.data, f.get("condition")
        if kind == "count":
            c, t = self._cell(f)
            if (c, t) in self.added:
                raise self.r.fail(
                    f"items.{item.id}",
                    f"gives a monthly total where event item {self.added[(c, t)].id!r} "
                    "already adds.",
                    "record either the monthly total or the single events, not both.",
                )
            where = ("count", c, t)
        elif kind == "event":
            k = self.spec.slots.index((f["hazard"], f["actor"]))
            where = ("event", k)
        if where in self.observed and _normalised(self.observed[where])[1] != f:
            raise self.r.fail(
                f"items.{item.id}",
                f"contradicts item {self.observed[where].id!r} on {_described(kind, f)}.",
                "keep one; a correction retracts the other.",
            )
        if where in self.observed:  # the same observation again: counted once
            return
        self.observed[where] = item
        if kind == "event":
            first = dt.date.fromisoformat(f"{f['month']}-01")
            data.slot_events[k] = 1.0
            data.slot_nonevents[k] = months_between(self.spec.analysis_date, first)
            if f.get("destination"):  # where it went, weighed by the grade of the report
                x = self.spec.exits.index((f["hazard"], f["actor"], f["destination"]))
                data.exit_observed[x] = grade_weight(item.grade)
        elif kind == "count" and isinstance(f["count"], Mapping):
            self._estimate(item, c, t, f["count"])
        elif kind == "count":
            data.counts[c, t], data.count_mask[c, t] = f["count"], grade_weight(item.grade)
        elif f["condition"] in self.spec.binary_conditions:
            b = self.spec.binary_conditions.index(f["condition"])
            seen, other = observed_log_likelihood(item.grade)
            data.condition_loglik[b] += [seen, other] if not f["value"] else [other, seen]
        else:
            j = self.spec.level_conditions.index(f["condition"])
            data.level_value[j], data.level_mask[j] = float(f["value"]), grade_weight(item.grade)

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


def _described(kind: str, f: Mapping[str, Any]) -> str:
    """Name what an observation is of: a condition, a month's total or an event."""
    if kind == "count":
        return f"the total of {f['series']}.{f['category']} in {f['month']}"
    if kind == "event":
        return "the event of " + ".".join(filter(None, (f["hazard"], f["actor"])))
    return repr(f["condition"])


def _normalised(item: Item) -> tuple[str, Mapping[str, Any]]:
    """Map a faction event onto the basic kind it amounts to."""
    if item.kind != "faction_event":
        return item.kind, item.fields
    f = dict(item.fields)
    event = f.pop("event")
    if event == "public_split":
        return "event", f
    del f["actor"]
    if event == "appointment":
        return "condition", f
    return "added_count", f


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


def _add_report(spec: ModelSpec, data: ModelData, item: Item) -> None:
    f = item.fields
    log_lr = report_log_ratio(item)
    if f["target"] in spec.binary_conditions:
        b = spec.binary_conditions.index(f["target"])
        data.condition_loglik[b, int(f["favours"])] += log_lr
    elif f["target"] in spec.level_conditions:
        j = spec.level_conditions.index(f["target"])
        data.level_log_lr[j] += log_lr if f["favours"] else -log_lr
    else:
        node, _, actor = f["target"].partition(".")
        k = spec.slots.index((node, actor))
        data.slot_log_lr[k] += log_lr if f["favours"] else -log_lr
