"""Evidence: dated, graded observations, validated against a model.

:mod:`~allegiance.evidence.items` holds items and what is in force,
:mod:`~allegiance.evidence.kinds` each kind's fields and how it fills the arrays,
:mod:`~allegiance.evidence.files` reading and writing YAML and CSV, and
:mod:`~allegiance.evidence.arrays` the arrays the model reads.
"""

from allegiance.evidence.arrays import model_data, no_evidence
from allegiance.evidence.files import (
    FIELD_COLUMNS,
    dump_csv,
    dump_yaml,
    load_evidence,
    parse_items,
    read_items,
    shipped_evidence,
)
from allegiance.evidence.items import EvidenceSet, Item, check_retractions, in_force
from allegiance.evidence.kinds import EVIDENCE_KINDS, parse_item
from allegiance.evidence.kinds.base import report_log_ratio
from allegiance.model.data import ModelData

__all__ = [
    "EVIDENCE_KINDS",
    "FIELD_COLUMNS",
    "EvidenceSet",
    "Item",
    "ModelData",
    "check_retractions",
    "dump_csv",
    "dump_yaml",
    "in_force",
    "load_evidence",
    "model_data",
    "no_evidence",
    "parse_item",
    "parse_items",
    "read_items",
    "report_log_ratio",
    "shipped_evidence",
]
