"""The ledger's record of reports: what each one showed, for "what changed since the last"."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from allegiance.ledger.connection import LedgerConnection, _now
from allegiance.ledger.schema import REPORTS

if TYPE_CHECKING:
    from allegiance.evidence import EvidenceSet, Item
    from allegiance.forecast import Forecast


def item_digest(item: Item) -> str:
    """Return a short digest of an item's content (an item whose content changes is new)."""
    canon = json.dumps(item.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ReportRecord:
    """What a past report showed.

    Attributes
    ----------
    as_of : date or None
        The report's day (None: the whole record).
    as_recorded : bool
    probabilities : dict
        Question id -> the probability shown (None where none was: resolved, past horizon).
    items : dict
        Item id -> :func:`item_digest` of each item in force behind it.
    created_at : datetime
        When it was made (aware, UTC).
    """

    as_of: dt.date | None
    as_recorded: bool
    probabilities: dict[str, float | None]
    items: dict[str, str]
    created_at: dt.datetime

    def new_items(self, evidence: EvidenceSet) -> list[str]:
        """Return the items of ``evidence`` that this report did not have, or had otherwise."""
        return [i.id for i in evidence.items if self.items.get(i.id) != item_digest(i)]


class ReportLog(LedgerConnection):
    """Reports made from a ledger, one row each."""

    def record_report(
        self,
        forecast: Forecast,
        evidence: EvidenceSet,
        *,
        created_at: dt.datetime | None = None,
    ) -> None:
        """Record that a report showed ``forecast``, made from ``evidence``."""
        row = {
            "model_id": self.spec.id,
            "as_of": evidence.as_of,
            "as_recorded": bool(evidence.as_recorded),
            "model_sha256": str(forecast.provenance.get("model_sha256", "")),
            "evidence_sha256": evidence.sha256,
            "probabilities": json.dumps({q.id: q.probability for q in forecast.questions}),
            "items": json.dumps({i.id: item_digest(i) for i in evidence.items}),
            "created_at": _now(created_at),
        }
        with self._writing() as conn:
            conn.execute(insert(REPORTS), [row])

    def last_report(self) -> ReportRecord | None:
        """Return the latest report recorded, if any."""
        query = (
            select(REPORTS)
            .where(REPORTS.c.model_id == self.spec.id)
            .order_by(REPORTS.c.created_at.desc(), REPORTS.c.seq.desc())
        )
        with self._reading() as conn:
            rows = self._rows(conn, query.limit(1), REPORTS)
        if not rows:
            return None
        row = rows[0]._mapping
        return ReportRecord(
            row["as_of"],
            bool(row["as_recorded"]),
            self.stored_json("reports", row["seq"], "probabilities", row["probabilities"]),
            self.stored_json("reports", row["seq"], "items", row["items"]),
            row["created_at"],
        )
