"""A question kind is its declaration and its compute function: a toy kind added by the recipe.

The toy kind ``stays`` (the actor is still inside its parent at the horizon) is
declared in :data:`QUESTION_FIELDS` and computed in :data:`COMPUTE`, nothing
else, exactly as ARCHITECTURE.md's recipe says; the model file loads it, the
forecast computes it, the record resolves it and the fast update path knows
what it reads.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from allegiance.errors import SpecError
from allegiance.evidence import no_evidence
from allegiance.evidence.outcomes import resolutions
from allegiance.evidence.tallies import TALLIES
from allegiance.forecast import probabilities
from allegiance.forecast.questions import COMPUTE, _leave_by, reads
from allegiance.model import Quantities
from allegiance.spec import ModelSpec, Question, load_spec
from allegiance.spec.fields import (
    ACTOR,
    CHANCE,
    HAZARD,
    LEFT,
    QUESTION_FIELDS,
    All,
    AnyActor,
    Not,
    QuestionFields,
    Rule,
    Tally,
    not_,
    seen,
)
from helpers import item, prior_draws
from helpers_spec import MINIMAL, expect_error

D = dt.date.fromisoformat

# The recipe's two entries: the kind's declaration and its compute function.
STAYS = QuestionFields(
    {"actor": ACTOR, "hazard": HAZARD},
    "the actor is still inside its parent at the horizon.",
    settled=not_(LEFT),
    parent=True,
)


def _stays(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    return 1.0 - _leave_by(q, f["hazard"], f["actor"], question.horizon_months)


STAYS_QUESTION = """  - id: splinter_stays_12m
    kind: stays
    text: Will the splinter still be inside its parent on 1 January 2021?
    resolution: Yes unless the splinter openly breaks with its parent by the horizon.
    horizon: 2021-01-01
    actor: splinter
    hazard: leave
"""


@pytest.fixture
def toy_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(QUESTION_FIELDS, "stays", STAYS)
    monkeypatch.setitem(COMPUTE, "stays", _stays)


def with_stays(folder: Path, question: str = STAYS_QUESTION, old: str = "", new: str = "") -> Path:
    """The minimal model with a ``stays`` question added (and ``old`` replaced by ``new``)."""
    text = MINIMAL.read_text()
    assert "\nscenarios:" in text and old in text
    text = text.replace(old, new, 1)
    path = folder / "minimal_stays.yaml"
    path.write_text(text.replace("\nscenarios:", question + "\nscenarios:", 1))
    return path


@pytest.fixture
def stays_spec(toy_kind: None, tmp_path: Path) -> ModelSpec:
    return load_spec(with_stays(tmp_path))


def test_a_model_file_asks_a_question_of_the_new_kind(stays_spec: ModelSpec) -> None:
    question = stays_spec.questions["splinter_stays_12m"]
    assert question.kind == "stays"
    assert question.fields == {"actor": "splinter", "hazard": "leave"}
    assert question.horizon_months == 12


def test_a_kind_not_declared_is_refused_by_name(tmp_path: Path) -> None:
    path = with_stays(tmp_path)
    expect_error(lambda: load_spec(path), SpecError, path, "questions[2].kind", "'stays'")


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [
        (
            "    hazard: leave\n",
            "    hazard: lobby\n",
            "questions.splinter_stays_12m.hazard",
            "not a hazard",
        ),
        (
            "    actor: splinter\n",
            "    actor: nobody\n",
            "questions.splinter_stays_12m.actor",
            "unknown actor",
        ),
        ("    actor: splinter\n", "", "questions[2].actor", "missing required key"),
    ],
)
def test_a_bad_field_of_the_new_kind_names_the_file_and_the_key(
    toy_kind: None, tmp_path: Path, old: str, new: str, key: str, fragment: str
) -> None:
    path = with_stays(tmp_path, STAYS_QUESTION.replace(old, new))
    expect_error(lambda: load_spec(path), SpecError, path, key, fragment)


def test_the_new_kind_asks_for_an_actor_with_a_parent(toy_kind: None, tmp_path: Path) -> None:
    path = with_stays(tmp_path, old="    parent: parent_group\n")
    # The leaves question refuses it too, first: the stays question alone shows the declaration.
    path.write_text(path.read_text().replace("    kind: leaves\n", "    kind: event\n", 1))
    expect_error(
        lambda: load_spec(path), SpecError, path, "questions.splinter_stays_12m.actor", "no parent"
    )


def test_the_forecast_of_the_new_kind_is_one_less_the_departure(stays_spec: ModelSpec) -> None:
    draws = prior_draws(stays_spec, 50, seed=3)
    p = probabilities(stays_spec, no_evidence(stays_spec), draws)
    leaves = p["splinter_leaves_12m"]
    assert np.ptp(leaves) > 0.0  # the draws differ, so the match is draw by draw
    np.testing.assert_allclose(p["splinter_stays_12m"], 1.0 - leaves, rtol=1e-12)


def test_the_record_settles_the_new_kind_by_its_declared_rule(stays_spec: ModelSpec) -> None:
    quiet = item(
        "calm", "no_event", "2021-01-04", hazard="leave", actor="splinter", through="2021-01-01"
    )
    found = resolutions(stays_spec, [quiet], D("2021-02-01"))
    stays, leaves = found["splinter_stays_12m"], found["splinter_leaves_12m"]
    assert (stays.outcome, stays.date, stays.item_id) == (True, D("2021-01-04"), "calm")
    assert leaves.outcome is False and leaves.date == stays.date

    gone = item("gone", "event", "2020-06-15", hazard="leave", actor="splinter", month="2020-06")
    found = resolutions(stays_spec, [gone], D("2020-07-01"))
    stays = found["splinter_stays_12m"]
    assert (stays.outcome, stays.date, stays.item_id) == (False, D("2020-06-15"), "gone")
    assert found["splinter_leaves_12m"].outcome is True

    assert "splinter_stays_12m" not in resolutions(stays_spec, [], D("2020-07-01"))


def test_the_new_kind_reads_its_hazards_slot(stays_spec: ModelSpec) -> None:
    question = stays_spec.questions["splinter_stays_12m"]
    slot = stays_spec.slots.index(("leave", "splinter"))
    assert reads(stays_spec, question) == ([slot], [])


def _tallies(rule: Rule) -> set[str]:
    if isinstance(rule, Tally):
        return {rule.name}
    if not isinstance(rule, All | Not | AnyActor):
        return set()
    parts = rule.parts if isinstance(rule, All) else (rule.part,)
    return set().union(*(_tallies(p) for p in parts))


def test_every_declared_kind_has_its_function_and_names_only_tallies_that_exist() -> None:
    assert set(COMPUTE) == set(QUESTION_FIELDS)
    named = set().union(
        *(_tallies(k.settled) for k in QUESTION_FIELDS.values() if k.settled is not None)
    )
    assert named == set(TALLIES)  # each tally exists, and each is some kind's
    assert {"count", "absorption", "escalation"} <= named


@pytest.mark.parametrize(
    "rule",
    [seen("hazard"), seen("missing"), not_(seen("lobby")), LEFT],
    ids=["seen-a-hazard", "seen-missing", "nested", "left-without-hazard"],
)
def test_a_rule_reading_a_field_the_kind_lacks_is_refused_when_declared(rule: Rule) -> None:
    fields = {"actor": ACTOR, "hazard": HAZARD} if rule != LEFT else {"lobby": CHANCE}
    with pytest.raises(ValueError, match="field|type"):
        QuestionFields(fields, "a broken kind.", settled=rule)
