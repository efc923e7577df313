"""Hostile or careless input: a clean refusal naming the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from allegiance.errors import EvidenceError, SpecError
from allegiance.evidence import read_items
from allegiance.spec import load_spec
from conftest import FIXTURES
from helpers_spec import MINIMAL, edited_spec_error

HUGE = "1" + "0" * 400  # an integer no float can hold
PRIOR = "propensities.leave.baseline.prior"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("parent: parent}", "parent: [parent, x]}", "actors.faction.parent"),
        ("actors: [faction]", "actors: [[faction]]", "propensities.leave.actors[0]"),
        ("    actor: faction\n", "    actor: {faction: 1}\n", "questions.leaves_24m.actor"),
        ("    hazard: leave\n", "    hazard: [leave]\n", "questions.leaves_24m.hazard"),
        ("role: faction,", f"role: faction, fighters: {HUGE},", "actors.faction.fighters"),
        ("probability: 0.1,", f"probability: {HUGE},", f"{PRIOR}.probability"),
        ("range: [0.02, 0.25]", f"range: [0.02, {HUGE}]", f"{PRIOR}.range"),
        ("range: [0.02, 0.25]", "range: [0.02, .inf]", f"{PRIOR}.range"),
    ],
)  # fmt: skip
def test_a_malformed_model_is_refused_cleanly(tmp_path: Path, old: str, new: str, key: str) -> None:
    error = edited_spec_error(FIXTURES / "models" / "beta_binomial.yaml", old, new, tmp_path)
    assert error.key == key
    assert len(str(error)) < 600  # never the whole of a huge value


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ("kind: condition, condition: [deal], value: true", "items[0].condition"),
        ("kind: no_event, hazard: {leave: 1}, actor: splinter, through: 2020-03-01",
         "items[0].hazard"),
        ("kind: count, series: defectors, category: rank_and_file, month: 2019-10, "
         f"count: {HUGE}", "items[0].count"),
        (f"kind: report, target: deal, favours: true, likelihood_ratio: {HUGE}",
         "items[0].likelihood_ratio"),
    ],
)  # fmt: skip
def test_a_malformed_item_is_refused_cleanly(tmp_path: Path, fields: str, key: str) -> None:
    path = tmp_path / "ev.yaml"
    path.write_text(
        "schema_version: 1\nmodel: minimal\nitems:\n"
        f"  - {{id: x, date: 2020-03-01, source: s, grade: B2, {fields}}}\n"
    )
    with pytest.raises(EvidenceError) as info:
        read_items(path, load_spec(MINIMAL))
    assert info.value.key == key and len(str(info.value)) < 600


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [
        ("id: beta_binomial", "id: b" + "x" * 300, "id", "301 characters"),
        ("history_months: 0", "history_months: 1000000000000", "history_months", "more than"),
        ("horizon: 2022-01-01", "horizon: 9999-01-01", "questions.leaves_24m.horizon", "months"),
    ],
)
def test_sizes_the_engine_allocates_from_are_bounded(
    tmp_path: Path, old: str, new: str, key: str, fragment: str
) -> None:
    text = (FIXTURES / "models" / "beta_binomial.yaml").read_text()
    path = tmp_path / "big.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.key == key and fragment in info.value.problem
