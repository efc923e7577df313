"""Resolutions: what happened, on record, and forecasts that show it instead of a probability."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from allegiance.errors import EvidenceError
from allegiance.evidence import Item, in_force, read_items
from allegiance.evidence.outcomes import resolutions
from allegiance.forecast import PAST_HORIZON, Forecast, QuestionForecast, summarise
from allegiance.posterior import Diagnostics
from allegiance.spec import ModelSpec, load_spec
from helpers_spec import MINIMAL

QUESTION = "splinter_leaves_12m"  # a `leaves` question of the minimal model, horizon 2021-01-01


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(MINIMAL)


def _write(tmp_path: Path, *items: str) -> Path:
    path = tmp_path / "ev.yaml"
    path.write_text("schema_version: 1\nmodel: minimal\nitems:\n" + "".join(items))
    return path


def _resolution(item_id: str, date: str, outcome: str, question: str = QUESTION) -> str:
    return (
        f"  - {{id: {item_id}, kind: resolution, date: {date}, question: {question},\n"
        f"     outcome: {outcome}, source: wire report, grade: B2}}\n"
    )


@pytest.mark.parametrize(
    ("item", "key", "fragment"),
    [
        (_resolution("r", "2020-05-01", "yes", "nothing"), "items[0].question", "unknown question"),
        (_resolution("r", "2020-05-01", "maybe"), "items[0].outcome", "yes or no"),
        (_resolution("r", "2021-02-01", "yes"), "items[0].date", "after the question's horizon"),
        (_resolution("r", "2020-12-01", "no"), "items[0].date", "horizon (2021-01-01) has passed"),
    ],
)
def test_a_malformed_resolution_is_refused(
    tmp_path: Path, spec: ModelSpec, item: str, key: str, fragment: str
) -> None:
    with pytest.raises(EvidenceError) as info:
        read_items(_write(tmp_path, item), spec)
    assert info.value.key == key and fragment in info.value.problem


def test_two_resolutions_that_disagree_are_refused(tmp_path: Path, spec: ModelSpec) -> None:
    path = _write(
        tmp_path, _resolution("a", "2020-05-01", "yes"), _resolution("b", "2021-01-02", "no")
    )
    with pytest.raises(EvidenceError, match="otherwise than item 'a'"):
        read_items(path, spec)


def test_resolutions_come_from_resolution_items_and_departures(
    tmp_path: Path, spec: ModelSpec
) -> None:
    called = read_items(_write(tmp_path, _resolution("r", "2021-01-05", "no")), spec)
    (found,) = resolutions(spec, called).values()
    assert (found.question, found.outcome, found.item_id) == (QUESTION, False, "r")
    assert found.date == dt.date(2021, 1, 5) and found.source == "wire report"

    def left(when: str) -> Item:
        return Item(
            "split", "event", dt.date.fromisoformat(when), "press", "A1",
            {"hazard": "leave", "actor": "splinter", "month": when[:7]},
        )  # fmt: skip

    (by_event,) = resolutions(spec, [left("2020-06-15")]).values()
    assert by_event.outcome and by_event.item_id == "split"
    (late,) = resolutions(spec, [left("2021-01-02")]).values()  # after the horizon: a no
    assert not late.outcome and late.date == dt.date(2021, 1, 2) and late.item_id == "split"
    retract = Item("x", "retraction", dt.date(2020, 7, 1), "press", "A1", {"retracts": "split"})
    assert resolutions(spec, in_force([left("2020-06-15"), retract])) == {}


def test_a_resolved_question_shows_its_outcome_not_a_probability(
    tmp_path: Path, spec: ModelSpec
) -> None:
    (item,) = read_items(_write(tmp_path, _resolution("r", "2020-05-01", "yes")), spec)
    per_draw = {q: np.full(10, 0.3) for q in spec.questions}
    diagnostics = Diagnostics(1.0, 1000.0, 1000.0, 0)
    result = summarise(
        spec, per_draw, diagnostics, {}, method="mcmc", reason="test",
        resolved=resolutions(spec, [item]),
    )  # fmt: skip
    shown = {q.id: q for q in result.questions}
    assert shown[QUESTION].resolved == "yes" and shown[QUESTION].resolved_on == "2020-05-01"
    assert (shown[QUESTION].probability, shown[QUESTION].lower, shown[QUESTION].upper) == (1, 1, 1)
    assert shown[QUESTION].resolved_by == "r" and shown[QUESTION].word == "resolved yes"
    others = [q for q in result.questions if q.id != QUESTION]
    assert all(q.resolved == "" and q.probability == pytest.approx(0.3) for q in others)


def test_a_question_past_its_horizon_and_unresolved_gets_no_forecast(
    tmp_path: Path, spec: ModelSpec
) -> None:
    past = next(q for q in spec.questions.values() if q.horizon < dt.date(2020, 9, 1))
    per_draw = {q: np.full(10, 0.3) for q in spec.questions}
    diagnostics = Diagnostics(1.0, 1000.0, 1000.0, 0)

    def shown(as_of: dt.date | None, *items: Item) -> dict[str, QuestionForecast]:
        result = summarise(
            spec, per_draw, diagnostics, {}, method="mcmc", reason="test",
            resolved=resolutions(spec, list(items), as_of), as_of=as_of,
        )  # fmt: skip
        return {q.id: q for q in result.questions}

    after = shown(dt.date(2020, 9, 1))
    assert after[past.id].probability is None and after[past.id].lower is None
    assert after[past.id].word == PAST_HORIZON and after[past.id].resolved == ""
    assert after[QUESTION].probability == pytest.approx(0.3)  # its horizon is still ahead
    assert shown(None)[past.id].probability == pytest.approx(0.3)  # no as-of date: forecast
    assert shown(past.horizon)[past.id].probability == pytest.approx(0.3)  # on the day: forecast
    (called,) = read_items(_write(tmp_path, _resolution("r", "2020-07-01", "no", past.id)), spec)
    assert shown(dt.date(2020, 9, 1), called)[past.id].resolved == "no"
    assert (
        json.loads(Forecast("m", list(after.values()), diagnostics, {}).to_json())["questions"][
            [q.id for q in spec.questions.values()].index(past.id)
        ]["probability"]
        is None
    )


def test_the_reference_record_resolves_its_questions_with_sources() -> None:
    from allegiance.workflow import record_of
    from helpers_spec import REFERENCE

    spec = load_spec(REFERENCE)
    files = [
        REFERENCE.with_name(f"afghanistan_2020.{name}.yaml") for name in ("evidence", "record")
    ]
    items = record_of(spec, files)
    assert all(i.source and i.recorded_at is not None for i in items)
    assert all(i.date <= i.recorded_at.date() for i in items if i.recorded_at is not None)
    outcomes = resolutions(spec, in_force(items), dt.date(2022, 6, 1))
    hand = [q for q in outcomes if spec.questions[q].origin == "hand"]
    assert len(hand) == 8 and all(o.source for o in outcomes.values())
    # Every grid question closes no: no faction's split is on record, and splits are public.
    grid = [q for q in spec.questions if spec.questions[q].origin == "grid"]
    assert grid and all(not outcomes[q].outcome for q in grid)
    assert {"isk_absorbs_1000_12m", "fighting_escalates_12m"}.isdisjoint(outcomes)


def test_a_departure_and_an_observed_alliance_resolve_the_alliance_questions() -> None:
    from allegiance.evidence import EvidenceSet, model_data
    from allegiance.evidence.kinds.base import HARD, observed_log_likelihood
    from helpers_spec import REFERENCE

    spec = load_spec(REFERENCE)

    def it(item_id: str, kind: str, when: str, grade: str = "A1", **fields: object) -> Item:
        return Item(item_id, kind, dt.date.fromisoformat(when), "wire", grade, fields)

    left = it("split", "event", "2020-05-10", hazard="leave", actor="haqqani", month="2020-05")
    allied = it("allied", "outcome", "2020-09-01", target="aligns_with_isk.haqqani", value=True)
    found = resolutions(spec, [left, allied], dt.date(2020, 10, 1))
    assert found["alliance_12m"].outcome and found["alliance_12m"].item_id == "allied"
    assert found["alliance_12m"].date == dt.date(2020, 9, 1)
    assert found["alliance_24m"].outcome  # the same event answers the later horizon too
    assert "alliance_12m" not in resolutions(spec, [left], dt.date(2020, 10, 1))
    late = dataclasses.replace(allied, date=dt.date(2021, 3, 1))
    assert "alliance_12m" not in resolutions(spec, [left, late], dt.date(2021, 4, 1))
    # Observed outcomes weigh as observed conditions: certain at A1, a ratio of 4.6 at B2.
    k = spec.slots.index(("aligns_with_isk", "haqqani"))
    assert model_data(spec, EvidenceSet.of([allied])).slot_log_lr[k] == -HARD
    b2 = dataclasses.replace(allied, grade="B2", fields={**allied.fields, "value": False})
    seen, other = observed_log_likelihood("B2")
    assert model_data(spec, EvidenceSet.of([b2])).slot_log_lr[k] == pytest.approx(other - seen)
    with pytest.raises(EvidenceError, match="contradicts item 'allied'"):
        model_data(spec, EvidenceSet.of([allied, dataclasses.replace(b2, id="denied")]))


def test_an_outcome_names_a_chance_outcome_of_the_model(tmp_path: Path, spec: ModelSpec) -> None:
    path = _write(
        tmp_path,
        "  - {id: o, kind: outcome, date: 2020-03-01, target: leave.splinter, value: true,\n"
        "     source: wire, grade: B2}\n",
    )
    with pytest.raises(EvidenceError) as info:
        read_items(path, spec)
    assert info.value.key == "items[0].target" and "not a chance outcome" in info.value.problem


def test_counts_on_record_and_a_merger_resolve_an_absorption_question() -> None:
    """Eastern fronts (800 fighters) left, allied and merged; 150 + 100 Taliban defectors
    were counted in the question's months (a count before them does not count)."""
    from helpers_spec import REFERENCE

    spec = load_spec(REFERENCE)
    qid = "isk_absorbs_1000_12m"

    def it(item_id: str, kind: str, when: str, **fields: object) -> Item:
        return Item(item_id, kind, dt.date.fromisoformat(when), "wire", "C3", fields)

    def counted(item_id: str, month: str, n: int) -> Item:
        return it(item_id, "count", f"{month}-28", series="defectors_to_isk",
                  category="taliban", month=month, count=n)  # fmt: skip

    merger = [
        it("split", "event", "2020-02-10", hazard="leave", actor="eastern_fronts", month="2020-02"),
        it("ally", "outcome", "2020-03-01", target="aligns_with_isk.eastern_fronts", value=True),
        it("merge", "outcome", "2020-04-01", target="joins_isk.eastern_fronts", value=True),
    ]
    early, may, june = (counted("nov", "2019-11", 500), counted("may", "2020-05", 150),
                        counted("june", "2020-06", 100))  # fmt: skip
    found = resolutions(spec, [*merger, early, may, june], dt.date(2020, 7, 1))[qid]
    assert found.outcome and found.item_id == "june" and found.date == dt.date(2020, 6, 28)
    assert qid not in resolutions(spec, [*merger, early, may], dt.date(2020, 7, 1))
    assert qid not in resolutions(spec, [*merger[:2], early, may, june], dt.date(2020, 7, 1))


def test_counts_on_record_resolve_an_escalation_at_the_past_rate(spec: ModelSpec) -> None:
    """Past months on record 12 and 8 (rate 10): twice 6 months at that rate is 120,
    reached by 70 in February and 60 in April; an estimate does not set the past rate."""
    qid = "defections_double_6m"

    def counted(item_id: str, month: str, n: object) -> Item:
        return Item(item_id, "count", dt.date.fromisoformat(f"{month}-27"), "wire", "C3",
                    {"series": "defectors", "category": "rank_and_file", "month": month,
                     "count": n})  # fmt: skip

    past = [counted("oct", "2019-10", 12), counted("nov", "2019-11", 8)]
    feb, apr = counted("feb", "2020-02", 70), counted("apr", "2020-04", 60)
    found = resolutions(spec, [*past, feb, apr], dt.date(2020, 5, 1))[qid]
    assert found.outcome and found.item_id == "apr" and found.date == dt.date(2020, 4, 27)
    assert qid not in resolutions(spec, [*past, feb], dt.date(2020, 5, 1))
    assert qid not in resolutions(spec, [feb, apr], dt.date(2020, 5, 1))  # no past rate
    guess = counted("dec", "2019-12", {"range": [0, 1000]})
    assert resolutions(spec, [*past, guess, feb, apr], dt.date(2020, 5, 1))[qid].outcome
