"""Evidence kinds: each one object that reads its fields and fills the model's arrays.

A new kind is an :class:`EvidenceKind` in a module of this package, registered
in :data:`EVIDENCE_KINDS` (:mod:`~allegiance.evidence.kinds.registry`).
"""

from allegiance.evidence.kinds.base import EvidenceKind
from allegiance.evidence.kinds.registry import EVIDENCE_KINDS, field_columns, parse_item

__all__ = ["EVIDENCE_KINDS", "EvidenceKind", "field_columns", "parse_item"]
