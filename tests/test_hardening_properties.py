"""Random YAML-ish input to the loaders: only the package's own errors may escape."""

from __future__ import annotations

import copy
import csv
import dataclasses
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allegiance.errors import AllegianceError, EvidenceError
from allegiance.evidence import dump_csv, parse_item, read_items
from allegiance.reading import KeyReader
from allegiance.spec import load_spec
from helpers_spec import MINIMAL, MINIMAL_EVIDENCE

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SPEC = load_spec(MINIMAL)
MODEL_DOC = yaml.safe_load(MINIMAL.read_text())
EVIDENCE_DOC = yaml.safe_load(MINIMAL_EVIDENCE.read_text())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["deal", "splinter", "leave", "defectors", "rank_and_file", "2020-02-01"]),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*prefix, i))
    return found


MODEL_PATHS = _paths(MODEL_DOC)
EVIDENCE_PATHS = _paths(EVIDENCE_DOC)


def _edited(doc: Any, edits: list[tuple[tuple[Any, ...], Any]]) -> Any:
    doc = copy.deepcopy(doc)
    for path, value in edits:
        node = doc
        try:
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):  # an earlier edit replaced a parent
            pass
    return doc


def _write(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(MODEL_PATHS), values), min_size=1, max_size=3))
def test_the_model_loader_raises_only_its_own_errors(
    tmp_path: Path, edits: list[tuple[tuple[Any, ...], Any]]
) -> None:
    path = _write(tmp_path, "minimal.yaml", _edited(MODEL_DOC, edits))
    try:
        load_spec(path)
    except AllegianceError as exc:
        assert len(str(exc)) < 2000


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(EVIDENCE_PATHS), values), min_size=1, max_size=3))
def test_the_evidence_loader_raises_only_its_own_errors(
    tmp_path: Path, edits: list[tuple[tuple[Any, ...], Any]]
) -> None:
    path = _write(tmp_path, "evidence.yaml", _edited(EVIDENCE_DOC, edits))
    try:
        read_items(path, SPEC)
    except AllegianceError as exc:
        assert len(str(exc)) < 2000


@SETTINGS
@given(text=st.text(alphabet="[]{}:,&*!'\"-= \n\tab01.", max_size=60))
def test_any_yaml_text_is_refused_cleanly(tmp_path: Path, text: str) -> None:
    for name in ("minimal.yaml", "evidence.yaml"):
        path = tmp_path / name
        path.write_text(text)
        # No such text is a whole model or evidence file: it is refused, naming the file.
        with pytest.raises(AllegianceError) as info:
            load_spec(path) if name == "minimal.yaml" else read_items(path, SPEC)
        assert str(path) in str(info.value) and len(str(info.value)) < 2000


@SETTINGS
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["condition", "value", "series", "count", "month", "target", "x"]),
            st.one_of(st.text(max_size=30), values.map(lambda v: yaml.safe_dump(v).strip())),
        ),
        max_size=4,
    )
)
def test_field_values_raise_only_our_errors(pairs: list[tuple[str, str]]) -> None:
    from allegiance.workflow.entry import read_field as _field

    r = KeyReader(Path("command line"), EvidenceError)
    body: dict[str, object] = {"id": "c1", "kind": "condition", "date": "2020-02-01"}
    body |= {"source": "s", "grade": "B2", "condition": "deal", "value": True}
    try:
        for key, value in pairs:
            name, read = _field(r, f"{key}={value}")
            body[name] = read
        parse_item(r, body, "item", SPEC)
    except AllegianceError as exc:
        assert len(str(exc)) < 2000


ITEMS = read_items(MINIMAL_EVIDENCE, SPEC)
CSV_ROWS = list(csv.reader(io.StringIO(dump_csv(ITEMS))))
cells = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="=+-@\t\r\n\",'[]{}:!&* ab01", max_size=20),
    values.map(lambda v: yaml.safe_dump(v).strip()),
)


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(CSV_ROWS) - 1), st.integers(0, len(CSV_ROWS[0])), cells),
        min_size=1,
        max_size=4,
    ),
    bom=st.booleans(),
)
def test_the_csv_reader_raises_only_its_own_errors(
    tmp_path: Path, edits: list[tuple[int, int, str]], bom: bool
) -> None:
    rows = [list(row) for row in CSV_ROWS]
    for r, c, cell in edits:
        if c < len(rows[r]):
            rows[r][c] = cell
        else:
            rows[r].append(cell)  # a cell beyond the header
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path = tmp_path / "evidence.csv"
    path.write_text(("\ufeff" if bom else "") + out.getvalue(), encoding="utf-8")
    try:
        read_items(path, SPEC)
    except AllegianceError as exc:
        assert str(path) in str(exc) and len(str(exc)) < 2000


@SETTINGS
@given(note=st.text(max_size=40), source=st.text(min_size=1, max_size=40).filter(str.strip))
def test_any_note_and_source_read_back_from_csv_exactly(
    tmp_path: Path, note: str, source: str
) -> None:
    item = dataclasses.replace(ITEMS[0], note=note, source=source)
    path = tmp_path / "evidence.csv"
    path.write_text(dump_csv([item, *ITEMS[1:]]), encoding="utf-8")
    r = KeyReader(path, EvidenceError)
    try:  # the item as the ledger would record it: its text normalised, or refused
        expected = parse_item(r, item.to_dict(), "items[0]", SPEC)
    except AllegianceError:
        with pytest.raises(AllegianceError, match=r"items\[0\]"):
            read_items(path, SPEC)
        return
    (back, *_) = read_items(path, SPEC)
    assert back == expected
