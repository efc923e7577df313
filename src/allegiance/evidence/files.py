"""Evidence files: YAML and CSV, read and validated, and written back losslessly."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from allegiance.errors import EvidenceError
from allegiance.evidence.arrays import model_data
from allegiance.evidence.items import EvidenceSet, Item, check_retractions, in_force
from allegiance.evidence.kinds import field_columns, parse_item
from allegiance.reading import (
    KeyReader,
    file_text,
    read_document,
    safe_load,
    short,
)
from allegiance.spec import ModelSpec
from allegiance.spreadsheet import from_spreadsheet_text, spreadsheet_text

SCHEMA_VERSION = 1


def read_items(path: str | Path, spec: ModelSpec) -> list[Item]:
    """Read and validate every item of an evidence file, retractions included.

    YAML (``.yaml``/``.yml``, the format above) and CSV (``.csv``: one row per
    item, one column per field, as written by :func:`dump_csv`) are read. The
    file is checked as a whole record: every retraction names an item of the
    file, and what is in force does not contradict itself.

    Raises
    ------
    EvidenceError
        Naming the file, the item and the field, for malformed items, unknown
        targets, bad dates, duplicate ids or retractions of unknown items.
    """
    r, items = parse_items(path, spec)
    check_retractions(r, items)
    model_data(spec, EvidenceSet.of(in_force(items)), r)  # contradictions surface now
    return items


def parse_items(path: str | Path, spec: ModelSpec) -> tuple[KeyReader, list[Item]]:
    """Read every item of an evidence file, each checked alone, as a batch for a record.

    Unlike :func:`read_items`, a retraction may name an item that is not in
    the file, and the file is not checked for contradictions: both are for
    the record the batch joins to check (:meth:`allegiance.ledger.Ledger.import_file`).

    Returns
    -------
    KeyReader
        The file's reader, to name the file and its keys in later errors.
    list of Item
        The items in the file's order.

    Raises
    ------
    EvidenceError
        Naming the file, the item and the field, for malformed items, unknown
        targets, bad dates or ids repeated in the file.
    """
    path = Path(path)
    r = KeyReader(path, EvidenceError)
    raw = _csv_rows(r) if path.suffix.lower() == ".csv" else _yaml_items(r, spec)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for i, body in enumerate(raw):
        item = parse_item(r, body, f"items[{i}]", spec)
        if item.id in seen:
            raise r.fail(
                f"items[{i}].id",
                f"duplicate id {short(item.id)} (first at items[{seen[item.id]}]).",
                "give every item its own id; correct an item with a new one.",
            )
        seen[item.id] = i
        items.append(item)
    return r, items


def _yaml_items(r: KeyReader, spec: ModelSpec) -> list[Any]:
    doc, _ = read_document(r, ("schema_version", "model", "items"), (), SCHEMA_VERSION)
    if doc["model"] != spec.id:
        raise r.fail(
            "model",
            f"evidence is for model {short(doc['model'])}, not {short(spec.id)}.",
            "pass the evidence file that belongs to this model.",
        )
    raw = doc["items"]
    if raw is None:  # `items:` with nothing under it: a file with no items yet
        return []
    if not isinstance(raw, list):  # `items: 0` or `items: {}` is no list, not an empty one
        raise r.fail(
            "items",
            f"expected a list of items, got {short(raw)}.",
            "start each item with '- id:', or write items: [] for none.",
        )
    return raw


TEXT_COLUMNS = ("id", "kind", "date", "recorded_at", "source", "grade", "note", "author")


# Every field of the kinds, once each (a kind registered later gets its columns in
# dump_csv, which asks the registry again).
FIELD_COLUMNS = field_columns()


def _csv_rows(r: KeyReader) -> list[dict[str, Any]]:
    text, _ = file_text(r, "utf-8-sig")  # spreadsheets start UTF-8 files with a byte-order mark
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    rows: list[dict[Any, Any]] = []  # cells beyond the header are under None
    begun = 1  # the line the row being read starts at
    try:
        header = reader.fieldnames or []
        begun = reader.line_num + 1
        for row in reader:
            rows.append(row)
            begun = reader.line_num + 1
    except csv.Error as exc:  # strict: a quote left open runs to the end of the file
        raise r.fail(
            "",
            f"not valid CSV: the row that starts at line {begun}: {exc}.",
            "close every double quote a cell opens; a quote inside a cell is written twice.",
        ) from None
    if not header:
        raise r.fail(
            "(header)",
            "the file is empty.",
            "start with a header of column names (id,kind,date,source,grade,...), "
            "one row per item below it.",
        )
    if "id" not in header and len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        sep = "semicolons" if ";" in header[0] else "tabs"
        raise r.fail(
            "(header)",
            f"the header is one column: its names are separated by {sep}, not commas.",
            "save the file as comma-separated CSV.",
        )
    for n, column in enumerate(header):
        if column in header[:n]:  # DictReader keeps the last of two same-named columns
            raise r.fail(
                f"(header).{column if len(column) <= 60 else short(column)}",
                f"column {short(column)} appears twice in the header.",
                "keep one column of each name.",
            )
    out = []
    for i, row in enumerate(rows):
        if None in row:  # DictReader puts cells beyond the header under None
            raise r.fail(
                f"items[{i}]",
                f"the row has {len(row[None])} cell(s) beyond the header's {len(header)} "
                f"columns: {short(row[None])}.",
                "add the missing column names to the header, or remove the extra cells "
                "(a comma inside a cell needs the cell in double quotes).",
            )
        body: dict[str, Any] = {}
        for column, cell in row.items():
            if cell is None or cell == "":
                continue
            if column in TEXT_COLUMNS:
                body[column] = from_spreadsheet_text(cell)
                continue
            try:
                body[column] = safe_load(cell)
            except (ValueError, yaml.YAMLError) as exc:
                problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
                raise r.fail(
                    f"items[{i}].{column}",
                    f"cannot read the value {short(cell)}: {problem[:100]}.",
                    "write a number, true/false, a date, an id or a [list].",
                ) from None
        out.append(body)
    return out


def dump_yaml(items: Sequence[Item], model_id: str) -> str:
    """Write items as an evidence YAML file that :func:`read_items` reads back unchanged."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "model": model_id,
        "items": [i.to_dict() for i in items],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def dump_csv(items: Sequence[Item]) -> str:
    """Write items as CSV, one row each, that :func:`read_items` reads back unchanged.

    Text columns that a spreadsheet would run as a formula start with ``'``
    (:func:`allegiance.spreadsheet.spreadsheet_text`; the reader removes it). Field
    columns hold validated ids, words, dates and numbers, and are written as they are.
    """
    out = io.StringIO()
    # Rows end in CRLF (RFC 4180): the writer then quotes a cell holding a lone CR too.
    columns = [*TEXT_COLUMNS, *field_columns()]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for item in items:
        row = {}
        for key, value in item.to_dict().items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif key in TEXT_COLUMNS and isinstance(value, str):
                value = spreadsheet_text(value)
            row[key] = value
        writer.writerow(row)
    return out.getvalue()


def shipped_evidence(spec: ModelSpec) -> Path:
    """Return the evidence file shipped beside a model: ``<stem>.evidence.yaml``."""
    return spec.path.with_name(f"{spec.path.stem}.evidence.yaml")


def load_evidence(path: str | Path, spec: ModelSpec) -> EvidenceSet:
    """Load an evidence file (YAML or CSV) and return the items in force.

    Raises
    ------
    EvidenceError
        As :func:`read_items`.
    """
    from allegiance.evidence.outcomes import with_time_passing

    return EvidenceSet.of(
        with_time_passing(spec, in_force(read_items(path, spec)), None), Path(path)
    )
