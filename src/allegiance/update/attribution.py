"""Attribution: how much each evidence item moved a forecast, by leaving it out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from allegiance.evidence import EvidenceSet
from allegiance.forecast import Forecast

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
            return q.probability
    raise KeyError(question)


def explain(
    updater: Updater, evidence: EvidenceSet, question: str, *, allow_refit: bool = False
) -> list[Attribution]:
    """Measure how much each item in force moved one question's forecast, largest first.

    Each item is left out in turn and the forecast recomputed by
    reweighting ``updater``'s base; where the weights fail, by a refit if
    ``allow_refit`` (which does not become the base), otherwise the row says
    the reweighting failed.
    """
    p_full = _probability(updater.forecast(evidence), question)
    rows = []
    for item in evidence.items:
        without = EvidenceSet.of([i for i in evidence.items if i.id != item.id])
        result = updater._forecast(without, allow_refit=allow_refit, adopt=False)
        method = result.method if result.trustworthy else f"unreliable ({result.method_reason})"
        rows.append(
            Attribution(
                item.id, item.kind, item.note, p_full, _probability(result, question), method
            )
        )
    return sorted(rows, key=lambda a: abs(a.delta_log_odds), reverse=True)
