"""Question grids: the questions a model asks of every hazard, fixed before any outcome."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from allegiance.errors import EvidenceError
from allegiance.evidence import Item, read_items
from allegiance.evidence.outcomes import resolutions
from allegiance.spec import ModelSpec, load_spec
from conftest import FIXTURES
from helpers_spec import edited_spec_error

KINDS = FIXTURES / "models" / "kinds.yaml"


@pytest.fixture(scope="module")
def kinds() -> ModelSpec:
    return load_spec(KINDS)


def test_the_grid_asks_every_hazard_of_every_actor_destination_and_horizon(
    kinds: ModelSpec,
) -> None:
    grid = {q.id: q for q in kinds.questions.values() if q.origin == "grid"}
    expected = set()
    for h in (p for p in kinds.propensities.values() if p.kind == "hazard"):
        for m in (6, 12):
            if not h.actors:
                expected.add(f"grid_{h.id}_{m}m")
            for a in h.actors:
                expected.add(f"grid_{h.id}_{a}_{m}m")
                expected |= {f"grid_{h.id}_{a}_to_{d}_{m}m" for d in h.destinations}
            if len(h.actors) > 1:
                expected.add(f"grid_{h.id}_any_{m}m")
    assert set(grid) == expected
    assert {q.horizon for q in grid.values()} == {dt.date(2020, 7, 1), dt.date(2021, 1, 1)}
    assert grid["grid_raids_any_6m"].kind == "any_event"
    assert grid["grid_raids_any_6m"].fields["actors"] == ("parent_group", "rival")
    assert grid["grid_leave_splinter_to_alone_12m"].fields["destinations"] == ("alone",)
    # The hand-picked questions keep their origin.
    assert all(q.origin == "hand" for q in kinds.questions.values() if q.id not in grid)


def test_a_grid_on_the_last_day_of_a_month_keeps_to_real_days(tmp_path: Path) -> None:
    text = KINDS.read_text().replace("analysis_date: 2020-01-01", "analysis_date: 2020-01-31")
    text = text.replace("horizons: [6, 12]", "horizons: [1, 13]")
    path = tmp_path / "kinds.yaml"
    path.write_text(text)
    spec = load_spec(path)
    assert spec.questions["grid_raids_rival_1m"].horizon == dt.date(2020, 2, 29)
    assert spec.questions["grid_raids_rival_13m"].horizon == dt.date(2021, 2, 28)


def _record(tmp_path: Path, spec: ModelSpec, *lines: str) -> list[Item]:
    path = tmp_path / "ev.yaml"
    path.write_text("schema_version: 1\nmodel: kinds\nitems:\n" + "".join(lines))
    return read_items(path, spec)


def test_grid_questions_resolve_by_the_record_and_never_by_a_call(
    tmp_path: Path, kinds: ModelSpec
) -> None:
    items = _record(
        tmp_path,
        kinds,
        "  - {id: gone, kind: event, date: 2020-09-10, source: s, grade: B2,"
        " hazard: leave, actor: splinter, month: 2020-09, destination: join_rival}\n",
        # An analyst's call on a hand question of the truce, which settles the hand
        # questions of that same event.
        "  - {id: call, kind: resolution, date: 2021-01-02, source: s, grade: B2,"
        " question: truce_breaks_12m, outcome: no}\n",
    )
    found = resolutions(kinds, items, as_of=dt.date(2021, 2, 1))
    assert found["grid_leave_splinter_12m"].outcome
    assert found["grid_leave_splinter_12m"].item_id == "gone"
    assert not found["grid_leave_splinter_6m"].outcome  # it left after the 6-month horizon
    assert found["grid_leave_splinter_to_join_rival_12m"].outcome
    assert not found["grid_leave_splinter_to_alone_12m"].outcome
    # The truce is not public: the call settles the hand question, but a grid question
    # of the same event only by the record (a dated event or a no_event), which is silent.
    assert not found["truce_breaks_12m"].outcome
    assert "grid_truce_breaks_12m" not in found and "grid_truce_breaks_6m" not in found
    # Raids are public with no lag: silence past the horizon closes both actors, and "any".
    assert not found["grid_raids_any_6m"].outcome
    assert found["grid_raids_any_6m"].date == dt.date(2020, 7, 1)


def test_a_public_grid_question_stays_open_until_its_horizon_passes(
    tmp_path: Path, kinds: ModelSpec
) -> None:
    found = resolutions(kinds, [], as_of=dt.date(2020, 10, 1))
    assert not found["grid_raids_any_6m"].outcome
    assert "grid_raids_any_12m" not in found


def test_any_event_is_yes_on_the_first_actor_event(tmp_path: Path, kinds: ModelSpec) -> None:
    items = _record(
        tmp_path,
        kinds,
        "  - {id: raid, kind: event, date: 2020-03-05, source: s, grade: B2,"
        " hazard: raids, actor: rival, month: 2020-03}\n",
    )
    found = resolutions(kinds, items, as_of=dt.date(2020, 4, 1))
    assert found["grid_raids_any_6m"].outcome and found["grid_raids_any_6m"].item_id == "raid"
    assert "grid_raids_parent_group_6m" not in found


def test_a_call_on_a_grid_question_is_refused_naming_the_key(
    tmp_path: Path, kinds: ModelSpec
) -> None:
    with pytest.raises(EvidenceError) as info:
        _record(
            tmp_path,
            kinds,
            "  - {id: call, kind: resolution, date: 2020-08-01, source: s, grade: B2,"
            " question: grid_raids_any_6m, outcome: yes}\n",
        )
    assert info.value.key == "items[0].question"
    assert "record's rules only" in info.value.problem and "kind: event" in info.value.fix


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ("horizons: [6, 12]", "horizons: [6, 6]", "question_grid.horizons[1]", "listed twice"),
        ("horizons: [6, 12]", "horizons: [0]", "question_grid.horizons[0]", ""),
        ("horizons: [6, 12]", "horizons: [601]", "question_grid.horizons[0]", "more than 600"),
        ("horizons: [6, 12]", "horizons: []", "question_grid.horizons", "non-empty"),
        (
            "horizons: [6, 12]",
            "horizons: [6]\n  hazards: [nope]",
            "question_grid.hazards[0]",
            "not a hazard",
        ),  # fmt: skip
        ("horizons: [6, 12]", "horizons: [6]\n  every: 2", "question_grid.every", "unknown key"),
        ("  - id: rival_raids_6m", "  - id: grid_mine", "questions.grid_mine", "grid's"),
        (
            "  rival: {name: Rival group, role: group}",
            "  rival: {name: Rival group, role: group, known_from: {date: 2020-01-02, source: s}}",
            "actors.rival.known_from.date",
            "after the analysis date",
        ),  # fmt: skip
    ],
)
def test_a_wrong_grid_or_provenance_is_refused(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    error = edited_spec_error(KINDS, old, new, tmp_path)
    assert error.key == key, str(error)
    assert words in str(error) and error.fix


def test_a_dated_provenance_on_or_before_the_analysis_date_is_kept(tmp_path: Path) -> None:
    text = KINDS.read_text().replace(
        "  rival: {name: Rival group, role: group}",
        "  rival: {name: Rival group, role: group, known_from: {date: 2020-01-01, source: s}}",
    )
    path = tmp_path / "kinds.yaml"
    path.write_text(text)
    rival = load_spec(path).actors["rival"]
    assert rival.known_from is not None and rival.known_from.date == dt.date(2020, 1, 1)


NEAR = [("2020-06-21", True), ("2020-07-31", True), ("2020-05-31", False), ("2020-08-01", False)]


@pytest.mark.parametrize(("when", "flagged"), NEAR)
def test_check_flags_a_hand_picked_horizon_near_an_event_on_record(
    tmp_path: Path, when: str, flagged: bool
) -> None:
    from typer.testing import CliRunner

    from allegiance.cli import app

    record = tmp_path / "record.yaml"
    record.write_text(
        "schema_version: 1\nmodel: kinds\nitems:\n"
        f"  - {{id: raid, kind: event, date: {when}, source: s, grade: B2,"
        f" hazard: raids, actor: rival, month: {when[:7]}}}\n"
    )
    result = CliRunner().invoke(app, ["check", str(KINDS), "--evidence", str(record)])
    assert result.exit_code == 0, result.output
    lines = [x for x in result.output.splitlines() if "hindsight" in x]
    # rival_raids_6m's horizon is 2020-07-01; the grid asks the same and is never flagged.
    expected = ["questions.rival_raids_6m.horizon"] if flagged else []
    assert [x.split()[0] for x in lines] == expected


def test_a_public_question_closes_no_at_its_horizon_even_when_the_event_comes_later(
    tmp_path: Path, kinds: ModelSpec
) -> None:
    items = _record(
        tmp_path,
        kinds,
        "  - {id: raid, kind: event, date: 2020-11-05, source: s, grade: B2,"
        " hazard: raids, actor: rival, month: 2020-11}\n",
    )
    found = resolutions(kinds, items, as_of=dt.date(2021, 2, 1))
    # Raids are public with no lag: by the 6-month horizon's silence the question was no,
    # known on 1 July, not on the day of the later raid.
    late = found["grid_raids_rival_6m"]
    assert not late.outcome and late.date == dt.date(2020, 7, 1)
    assert found["grid_raids_rival_12m"].outcome and found["grid_raids_rival_12m"].date == (
        dt.date(2020, 11, 5)
    )


def test_a_forecast_says_which_questions_the_grid_asked(kinds: ModelSpec) -> None:
    import csv
    import json

    import numpy as np

    from allegiance.forecast.summary import summarise
    from allegiance.posterior import Diagnostics

    per_draw = {q: np.full(4, 0.3) for q in kinds.questions}
    ids = {"model_sha256": "m", "evidence_sha256": "e"}
    shown = summarise(
        kinds, per_draw, Diagnostics(1.0, 1000.0, 1000.0, 0), ids, method="mcmc", reason="t",
        resolved=resolutions(kinds, [], dt.date(2020, 8, 1)), as_of=dt.date(2020, 8, 1),
    )  # fmt: skip
    expected = {q.id: q.origin for q in kinds.questions.values()}
    assert {q["id"]: q["origin"] for q in json.loads(shown.to_json())["questions"]} == expected
    rows = csv.DictReader(shown.to_csv().splitlines())
    assert {r["question"]: r["origin"] for r in rows} == expected
    assert set(expected.values()) == {"grid", "hand"}


def test_check_reads_the_model_s_own_record_for_hindsight(tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from allegiance.cli import app

    model = tmp_path / "kinds.yaml"
    shutil.copy(KINDS, model)
    (tmp_path / "kinds.record.yaml").write_text(
        "schema_version: 1\nmodel: kinds\nitems:\n"
        "  - {id: raid, kind: event, date: 2020-06-25, source: s, grade: B2,"
        " hazard: raids, actor: rival, month: 2020-06}\n"
    )
    result = CliRunner().invoke(app, ["check", str(model)])
    assert result.exit_code == 0, result.output
    assert "questions.rival_raids_6m.horizon 2020-07-01 is 6 days after raid" in result.output
