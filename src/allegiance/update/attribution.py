"""Attribution: how much each evidence item moved a forecast, by leaving it out."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from allegiance.errors import AllegianceError
from allegiance.evidence import EvidenceSet, Item, model_data
from allegiance.forecast import Forecast, reads
from allegiance.model.patch import changed_rows
from allegiance.model.structure import structure
from allegiance.spec import ModelSpec

if TYPE_CHECKING:
    from allegiance.update.updater import Updater


@dataclass
class Attribution:
    """How much one evidence item moved one forecast."""

    item_id: str
    kind: str
    note: str
    with_item: float
    without_item: float
    method: str

    @property
    def delta(self) -> float:
        """Return the change in probability the item made."""
        return self.with_item - self.without_item

    @property
    def delta_log_odds(self) -> float:
        """Return the change in log-odds the item made."""
        return _logit(self.with_item) - _logit(self.without_item)


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _probability(result: Forecast, question: str) -> float:
    for q in result.questions:
        if q.id == question:
            if q.probability is None:
                raise AllegianceError(
                    f"{question}: {q.word} as of {result.provenance.get('as_of')}; "
                    "explain a forecast as of a day before its horizon (--as-of)."
                )
            return q.probability
    raise KeyError(question)


def explain(
    updater: Updater, evidence: EvidenceSet, question: str, *, allow_refit: bool = False
) -> list[Attribution]:
    """Measure how much each item in force moved one question's forecast, largest first.

    Each item is left out in turn and the forecast recomputed by
    reweighting ``updater``'s base; where the weights fail, by a refit if
    ``allow_refit`` (which does not become the base), otherwise the row says
    the reweighting failed. An item that cannot reach the question
    (:func:`unreachable`) moved it by exactly 0, and is not recomputed:
    reweighting would show Monte Carlo noise as an effect.
    """
    p_full = _probability(updater.forecast(evidence), question)
    cut_off = unreachable(updater.spec, question, evidence.items)
    rows = []
    for item in evidence.items:
        if item.id in cut_off:
            rows.append(Attribution(item.id, item.kind, item.note, p_full, p_full, CUT_OFF))
            continue
        result = updater._forecast(
            _leave_out(evidence, item.id), allow_refit=allow_refit, adopt=False
        )
        method = result.method if result.trustworthy else f"unreliable ({result.method_reason})"
        rows.append(
            Attribution(
                item.id, item.kind, item.note, p_full, _probability(result, question), method
            )
        )
    return sorted(rows, key=lambda a: abs(a.delta_log_odds), reverse=True)


CUT_OFF = "exact: cannot reach the question"


def _leave_out(evidence: EvidenceSet, item_id: str) -> EvidenceSet:
    """Return the same evidence, as of the same day, without one item."""
    kept = [i for i in evidence.items if i.id != item_id]
    return EvidenceSet.of(kept, as_of=evidence.as_of, as_recorded=evidence.as_recorded)


def effect_matrix(
    updater: Updater,
    evidence: EvidenceSet,
    items: Collection[str] | None = None,
    *,
    allow_refit: bool = True,
) -> dict[str, dict[str, float | None]]:
    """Each item's effect on each question's probability: with it minus without it.

    One leave-one-out forecast per item serves every question (reweighting the
    updater's base; where the weights fail, a refit if ``allow_refit``, not
    adopted). An item that cannot reach a question (:func:`unreachable`) has
    effect exactly 0; a question without a probability (resolved, or past its
    horizon) has None, and so has every other question of an item whose
    weights fail when no refit is allowed.

    Parameters
    ----------
    updater : Updater
        Its base fit is reweighted.
    evidence : EvidenceSet
        The evidence in force.
    items : collection of str, optional
        The ids of the items measured (default: every item in force).
    allow_refit : bool
        Refit where the weights fail (a minute or more each), or give None.

    Returns
    -------
    dict
        Item id -> question id -> change in probability, items in evidence order.
    """
    full = {
        q.id: q.probability for q in updater.forecast(evidence, allow_refit=allow_refit).questions
    }
    measured = [i for i in evidence.items if items is None or i.id in items]
    cut = {qid: unreachable(updater.spec, qid, measured) for qid in updater.spec.questions}
    out: dict[str, dict[str, float | None]] = {}
    for item in measured:
        left = _leave_out(evidence, item.id)
        if allow_refit or updater.reweight(left).accepted:
            result = updater._forecast(left, allow_refit=allow_refit, adopt=False)
            without = {q.id: q.probability for q in result.questions}
        else:
            without = dict.fromkeys(full)
        out[item.id] = {
            qid: 0.0 if item.id in cut[qid] else _minus(p, without[qid]) for qid, p in full.items()
        }
    return out


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def unreachable(spec: ModelSpec, question: str, items: Sequence[Item]) -> set[str]:
    """Return the ids of the items that cannot move a question's forecast at all.

    The model's posterior factorises over the connected parts of a graph whose
    nodes are its rows (slots and count channels), conditions and series: an
    effect joins its condition to every row it reaches, and a series joins its
    channels (they share an overdispersion). An item's evidence touches the
    rows, conditions and levels whose data it changes; a question reads its
    rows (:func:`allegiance.forecast.reads`). An item none of whose nodes is
    connected to the question's leaves its forecast exactly as it was. A
    resolution of the question itself always reaches it.
    """
    st = structure(spec)
    rows = [*spec.slots, *spec.channels]
    parent: dict[tuple[str, object], tuple[str, object]] = {}

    def find(x: tuple[str, object]) -> tuple[str, object]:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for e in spec.effects:
        for r, (node, member) in enumerate(rows):
            if any(node == t.node and (t.member is None or t.member == member) for t in e.targets):
                parent[find(("row", r))] = find(("condition", e.condition))
    for j, (series, _) in enumerate(spec.channels):
        parent[find(("row", st.n_slots + j))] = find(("series", series))
    slots, channels = reads(spec, spec.questions[question])
    wanted = {find(("row", r)) for r in [*slots, *(st.n_slots + j for j in channels)]}
    empty = model_data(spec, EvidenceSet.of([])).arrays()
    conditions = [*spec.binary_conditions]
    out = set()
    for item in items:
        if item.kind == "resolution" and item.fields["question"] == question:
            continue
        d = model_data(spec, EvidenceSet.of([item])).arrays()
        touched = [("row", int(r)) for r in np.flatnonzero(changed_rows(empty, d, st))]
        moved = np.any(d["condition_loglik"] != empty["condition_loglik"], axis=1)
        touched += [("condition", conditions[int(b)]) for b in np.flatnonzero(moved)]
        levels = (d["level_value"] != empty["level_value"]) | (
            d["level_mask"] != empty["level_mask"]
        )
        touched += [("condition", spec.level_conditions[int(k)]) for k in np.flatnonzero(levels)]
        if not {find(x) for x in touched} & wanted:
            out.add(item.id)
    return out
