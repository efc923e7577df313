"""Loading and validating evidence files, and turning items into the model's arrays."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import yaml

from allegiance.errors import EvidenceError
from allegiance.evidence import (
    EvidenceSet,
    Item,
    in_force,
    load_evidence,
    model_data,
    no_evidence,
    parse_item,
    read_items,
)
from allegiance.evidence.kinds.base import HARD
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec, load_spec
from helpers_spec import (
    EVIDENCE,
    MINIMAL,
    MINIMAL_EVIDENCE,
    REFERENCE,
    REFERENCE_EVIDENCE,
    expect_error,
    wrong_files,
)

# file → (expected key path, fragment of the problem text)
WRONG_EVIDENCE: dict[str, tuple[str, str]] = {
    "wrong_yaml_syntax.yaml": ("", "not valid YAML"),
    "wrong_top_level_list.yaml": ("(top level)", "expected a mapping, got list"),
    "wrong_schema_version.yaml": ("schema_version", "version 2 is not supported"),
    "wrong_missing_items.yaml": ("items", "missing required key"),
    "wrong_items_not_list.yaml": ("items", "expected a list of items"),
    "wrong_model_id.yaml": ("model", "evidence is for model 'afghanistan_2020', not 'minimal'"),
    "wrong_unknown_kind.yaml": ("items[0].kind", "'rumour' is not one of condition, count"),
    "wrong_unknown_item_key.yaml": ("items[1].notes", "unknown key"),
    "wrong_missing_source.yaml": ("items[0].source", "missing required key"),
    "wrong_unknown_condition.yaml": ("items[0].condition", "unknown condition 'dael'"),
    "wrong_binary_value.yaml": ("items[0].value", "'deal' is yes/no; got 1"),
    "wrong_level_value.yaml": ("items[1].value", "'spoils' is a level in [0, 1]; got 1.5"),
    "wrong_unknown_series.yaml": ("items[2].series", "unknown series 'defectorz'"),
    "wrong_unknown_category.yaml": (
        "items[2].category",
        "'commanders' is not a category of 'defectors'",
    ),
    "wrong_month_before_window.yaml": (
        "items[2].month",
        "2019-06 is outside the model's count window",
    ),
    "wrong_month_after_window.yaml": (
        "items[3].month",
        "2021-01 is outside the model's count window",
    ),
    "wrong_month_format.yaml": ("items[2].month", "'October 2019' is not a month"),
    "wrong_negative_count.yaml": ("items[2].count", "expected a whole number >= 0, got -3"),
    "wrong_fractional_count.yaml": ("items[2].count", "expected a whole number >= 0, got 12.5"),
    "wrong_grade.yaml": ("items[0].grade", "'G7' is not an Admiralty grade"),
    "wrong_duplicate_id.yaml": ("items[1].id", "duplicate id 'deal_signed' (first at items[0])"),
    "wrong_bad_id.yaml": ("items[1].id", "'spoils-reported' is not a valid id"),
    "wrong_date.yaml": ("items[0].date", "'shortly before Christmas' is not a date"),
    # YAML itself rejects 2019-02-30 while reading it as a timestamp.
    "wrong_date_impossible.yaml": ("items[0].date", "day is out of range for month"),
    "wrong_contradiction.yaml": ("items.deal_denied", "contradicts item 'deal_signed' on 'deal'"),
    "wrong_count_contradiction.yaml": (
        "items.defectors_2019_10_revised",
        "contradicts item 'defectors_2019_10'",
    ),
    "wrong_no_event_chance.yaml": ("items[4].hazard", "'lobby' is not a hazard of the model"),
    "wrong_no_event_actor.yaml": ("items[4].actor", "'parent_group' is not at risk under 'leave'"),
    "wrong_no_event_outside.yaml": ("items[4].through", "outside the forecast window"),
    "wrong_event_then_no_event.yaml": (
        "items.splinter_still_in",
        "says the event had not happened by a date after",
    ),
}


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(MINIMAL)


@pytest.fixture(scope="module")
def evidence(spec: ModelSpec) -> EvidenceSet:
    return load_evidence(MINIMAL_EVIDENCE, spec)


def item(item_id: str, kind: str, **fields: object) -> Item:
    return Item(item_id, kind, dt.date(2020, 1, 15), "test", "B2", dict(fields))


# --- broken files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "fragment"), [(n, k, f) for n, (k, f) in WRONG_EVIDENCE.items()]
)
def test_wrong_evidence_file_is_rejected_with_file_key_and_problem(
    spec: ModelSpec, name: str, key: str, fragment: str
) -> None:
    path = EVIDENCE / name
    expect_error(lambda: load_evidence(path, spec), EvidenceError, path, key, fragment)


def test_every_broken_evidence_file_is_in_the_table() -> None:
    assert wrong_files(EVIDENCE) == set(WRONG_EVIDENCE)


@pytest.mark.parametrize("name", sorted(WRONG_EVIDENCE))
def test_broken_evidence_file_states_its_defect(name: str) -> None:
    assert (EVIDENCE / name).read_text(encoding="utf-8").startswith("# Defect: ")


def test_missing_evidence_file_is_an_evidence_error(spec: ModelSpec, tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    expect_error(lambda: load_evidence(path, spec), EvidenceError, path, "", "cannot read the file")


# --- the valid file ---------------------------------------------------------------------


def test_valid_evidence_loads_every_item(evidence: EvidenceSet) -> None:
    assert [i.id for i in evidence.items] == [
        "deal_signed",
        "spoils_reported",
        "defectors_2019_10",
        "defectors_2020_02",
        "splinter_still_in",
    ]
    assert [i.kind for i in evidence.items] == [
        "condition",
        "condition",
        "count",
        "count",
        "no_event",
    ]
    deal, spoils, october, february, still_in = evidence.items
    assert deal.fields == {"condition": "deal", "value": True}
    assert deal.date == dt.date(2019, 12, 20)
    assert deal.grade == "B2"
    assert spoils.fields == {"condition": "spoils", "value": 0.7}
    assert spoils.note == "The splinter kept its district posts."
    assert october.fields == {
        "series": "defectors",
        "category": "rank_and_file",
        "month": "2019-10",
        "count": 12,
    }
    assert october.author == "test analyst"
    assert february.fields["count"] == 0
    assert still_in.fields == {"hazard": "leave", "actor": "splinter", "through": "2020-03-15"}
    assert evidence.path == MINIMAL_EVIDENCE


def test_reference_evidence_loads_against_the_reference_model() -> None:
    reference = load_spec(REFERENCE)
    loaded = load_evidence(REFERENCE_EVIDENCE, reference)
    on_file = [i for i in loaded.items if not i.id.startswith("time_passing_")]
    assert len(on_file) == 35
    assert {i.kind for i in on_file} == {"count", "report"}


def test_lower_case_grade_is_normalised(spec: ModelSpec, tmp_path: Path) -> None:
    path = tmp_path / "grade.yaml"
    text = MINIMAL_EVIDENCE.read_text(encoding="utf-8").replace(
        "grade: B2\n  - id: spoils", "grade: b2\n  - id: spoils"
    )
    path.write_text(text, encoding="utf-8")
    assert load_evidence(path, spec).items[0].grade == "B2"


def test_repeating_an_observation_is_not_a_contradiction(spec: ModelSpec) -> None:
    again = [
        item("a", "condition", condition="deal", value=True),
        item("b", "condition", condition="deal", value=True),
    ]
    data = model_data(spec, EvidenceSet.of(again))
    off, on = data.condition_loglik[0]  # counted once, as one B2 observation
    assert on - off == pytest.approx(np.log((1 + 0.64) / (1 - 0.64)), rel=1e-12)


def test_every_observation_is_weighed_by_its_grade(spec: ModelSpec) -> None:
    """A hard observation from a source right with probability r = grade weight says its
    state with likelihood (1 + r) / 2 and the other with (1 - r) / 2; counts and levels
    enter as power likelihoods with the grade's weight; only an A1 observation is certain."""
    certain = dataclasses.replace(item("a", "condition", condition="deal", value=False), grade="A1")
    assert model_data(spec, EvidenceSet.of([certain])).condition_loglik[0].tolist() == [0.0, HARD]
    c3 = dataclasses.replace(certain, grade="C3")
    off, on = model_data(spec, EvidenceSet.of([c3])).condition_loglik[0]
    assert np.exp(off - on) == pytest.approx((1 + 0.36) / (1 - 0.36), rel=1e-12)
    count = item("n", "count", series="defectors", category="rank_and_file", month="2019-10",
                 count=12)  # fmt: skip
    level = item("s", "condition", condition="spoils", value=0.7)
    data = model_data(spec, EvidenceSet.of([dataclasses.replace(count, grade="C3"), level]))
    assert (
        data.count_mask.max() == pytest.approx(0.36)
        and data.count_mask.sum() == data.count_mask.max()
    )
    assert data.level_mask.tolist() == [pytest.approx(0.64)]


# --- the hash ---------------------------------------------------------------------------


def test_evidence_hash_does_not_depend_on_item_order(evidence: EvidenceSet) -> None:
    shuffled = EvidenceSet.of([evidence.items[i] for i in (3, 0, 4, 2, 1)])
    assert shuffled.sha256 == evidence.sha256
    assert EvidenceSet.of(evidence.items[::-1]).sha256 == evidence.sha256


def test_evidence_hash_depends_on_the_items(evidence: EvidenceSet) -> None:
    fewer = EvidenceSet.of(evidence.items[:-1])
    assert fewer.sha256 != evidence.sha256
    october = evidence.items[2]
    changed = Item(
        october.id,
        october.kind,
        october.date,
        october.source,
        october.grade,
        {**october.fields, "count": 13},
    )
    other = EvidenceSet.of([*evidence.items[:2], changed, *evidence.items[3:]])
    assert other.sha256 != evidence.sha256
    assert EvidenceSet.of([]).sha256 != evidence.sha256


# --- model data -------------------------------------------------------------------------


def test_model_data_shapes_follow_the_spec(spec: ModelSpec, evidence: EvidenceSet) -> None:
    data = model_data(spec, evidence)
    assert data.condition_loglik.shape == (2, 2)
    assert data.level_value.shape == data.level_mask.shape == (1,)
    assert data.slot_events.shape == data.slot_nonevents.shape == (2,)
    assert data.counts.shape == data.count_mask.shape == (1, 18)
    from allegiance.model import DATA_NAMES

    assert set(data.arrays()) == set(DATA_NAMES)


def test_model_data_puts_counts_in_their_channel_and_month(
    spec: ModelSpec, evidence: EvidenceSet
) -> None:
    data = model_data(spec, evidence)
    channel = spec.channels.index(("defectors", "rank_and_file"))
    # The window starts history_months (6) before the analysis date (2020-01):
    # 2019-10 is column 3, 2020-02 is column 7.
    assert data.counts[channel, 3] == 12
    assert data.count_mask[channel, 3] == pytest.approx(0.36)  # a C3 count: weight 0.36
    assert data.counts[channel, 7] == 0
    assert data.count_mask[channel, 7] == pytest.approx(0.36)  # an observed zero is observed
    assert np.count_nonzero(data.count_mask) == 2
    assert data.counts.sum() == 12


def test_model_data_puts_hard_evidence_on_the_excluded_state(
    spec: ModelSpec, evidence: EvidenceSet
) -> None:
    data = model_data(spec, evidence)
    deal, funding = spec.binary_conditions.index("deal"), spec.binary_conditions.index("funding")
    off, on = data.condition_loglik[deal]  # true observed (B2): false made less likely
    assert off < on and HARD == -50.0
    assert data.condition_loglik[funding].tolist() == [0.0, 0.0]  # unobserved
    sure = dataclasses.replace(item("x", "condition", condition="deal", value=False), grade="A1")
    false = model_data(spec, EvidenceSet.of([sure]))
    assert false.condition_loglik[deal].tolist() == [0.0, HARD]  # A1: true excluded


def test_model_data_sets_observed_levels_only(spec: ModelSpec, evidence: EvidenceSet) -> None:
    data = model_data(spec, evidence)
    assert data.level_value.tolist() == [0.7]
    assert data.level_mask.tolist() == [pytest.approx(0.36)]  # C3
    empty = no_evidence(spec)
    assert empty.level_value.tolist() == [0.5]
    assert empty.level_mask.tolist() == [0.0]
    assert not empty.condition_loglik.any() and not empty.counts.any()
    assert not empty.count_mask.any() and not empty.slot_nonevents.any()


def test_model_data_counts_months_without_the_event(spec: ModelSpec, evidence: EvidenceSet) -> None:
    data = model_data(spec, evidence)
    k = spec.slots.index(("leave", "splinter"))
    assert data.slot_nonevents[k] == 2  # from 2020-01 through 2020-03
    assert data.slot_events[k] == 0
    assert data.slot_nonevents[spec.slots.index(("lobby", "splinter"))] == 0


def test_model_data_records_an_event_and_its_month(spec: ModelSpec) -> None:
    left = EvidenceSet.of(
        [item("left", "event", hazard="leave", actor="splinter", month="2020-04")]
    )
    data = model_data(spec, left)
    k = spec.slots.index(("leave", "splinter"))
    assert data.slot_events[k] == 1.0
    assert data.slot_nonevents[k] == 3


# --- round trips ------------------------------------------------------------------------


def test_item_to_dict_round_trips_through_parse(spec: ModelSpec, evidence: EvidenceSet) -> None:
    r = KeyReader(MINIMAL_EVIDENCE, EvidenceError)
    for i, original in enumerate(evidence.items):
        assert parse_item(r, original.to_dict(), f"items[{i}]", spec) == original


def test_items_written_back_as_yaml_load_to_the_same_set(
    spec: ModelSpec, evidence: EvidenceSet, tmp_path: Path
) -> None:
    path = tmp_path / "written.yaml"
    doc = {"schema_version": 1, "model": spec.id, "items": [i.to_dict() for i in evidence.items]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    again = load_evidence(path, spec)
    assert again.items == evidence.items
    assert again.sha256 == evidence.sha256


def test_model_data_is_unchanged_by_item_order(spec: ModelSpec, evidence: EvidenceSet) -> None:
    forward = model_data(spec, evidence).arrays()
    backward = model_data(spec, EvidenceSet.of(evidence.items[::-1])).arrays()
    for name, array in forward.items():
        np.testing.assert_array_equal(array, backward[name], err_msg=name)


def test_yaml_and_csv_export_round_trip(tmp_path):
    import datetime as dt

    from allegiance.evidence import Item, dump_csv, dump_yaml, read_items
    from helpers import item

    spec = load_spec(REFERENCE)
    shipped = read_items(REFERENCE_EVIDENCE, spec)
    stamp = dt.datetime(2020, 3, 2, 9, 30, tzinfo=dt.UTC)
    extra = [
        item(
            "r1", "report", "2020-02-01", target="isk_capacity", favours=True, likelihood_ratio=2.5
        ),
        item(
            "r2", "report", "2020-02-02", target="lobby.haqqani", favours=False, strength="strongly"
        ),
        item("lvl", "condition", "2020-02-03", condition="spoils_haqqani", value=0.25),
        item(
            "split",
            "faction_event",
            "2020-03-01",
            event="public_split",
            actor="eastern_fronts",
            hazard="leave",
            month="2020-03",
        ),
        item("x", "retraction", "2020-03-01", retracts="r1"),
    ]
    extra = [
        Item(
            **{
                **i.__dict__,
                "note": 'a note, with "quotes": and 12',
                "author": "ana",
                "recorded_at": stamp,
            }
        )
        for i in extra
    ]
    items = [*shipped, *extra]
    for name, text in (("out.yaml", dump_yaml(items, spec.id)), ("out.csv", dump_csv(items))):
        path = tmp_path / name
        path.write_text(text)
        back = read_items(path, spec)
        assert back == items, name


def test_shipped_evidence_is_on_record_as_of_the_analysis_date() -> None:
    """Shipped items carry their own recording time, so an as-recorded forecast on the
    analysis date sees them (imported today, they would count as recorded today)."""
    spec = load_spec(REFERENCE)
    shipped = read_items(REFERENCE.with_name("afghanistan_2020.evidence.yaml"), spec)
    assert shipped and all(i.recorded_at is not None and i.source and i.grade for i in shipped)
    seen = in_force(shipped, spec.analysis_date, as_recorded=True)
    assert [i.id for i in seen] == [i.id for i in shipped]


def test_a_report_on_a_level_favours_a_high_or_low_share(spec: ModelSpec, tmp_path: Path) -> None:
    path = tmp_path / "level.yaml"
    path.write_text(
        "schema_version: 1\nmodel: minimal\nitems:\n"
        "  - {id: post, kind: report, date: 2020-01-10, target: spoils, favours: true,\n"
        "     strength: strongly, source: wire, grade: B2}\n"
        "  - {id: doubt, kind: report, date: 2020-01-11, target: spoils, favours: false,\n"
        "     likelihood_ratio: 2, source: wire, grade: A1}\n"
    )
    data = model_data(spec, load_evidence(path, spec))
    assert data.level_log_lr.tolist() == [pytest.approx(0.64 * np.log(10.0) - np.log(2.0))]
    assert data.level_mask.tolist() == [0.0]  # a report is not an observed value


def test_reports_of_a_departure_must_share_a_month(spec: ModelSpec, tmp_path: Path) -> None:
    path = tmp_path / "said.yaml"
    body = (
        "schema_version: 1\nmodel: minimal\nitems:\n"
        "  - {id: first, kind: report, date: 2020-04-10, target: leave.splinter, favours: true,\n"
        "     strength: strongly, source: wire, grade: B2}\n"
        "  - {id: again, kind: report, date: 2020-04-20, target: leave.splinter, favours: true,\n"
        "     likelihood_ratio: 3, source: radio, grade: C3}\n"
    )
    path.write_text(body)
    data = model_data(spec, load_evidence(path, spec))
    k = spec.slots.index(("leave", "splinter"))
    assert data.slot_outcome_log_lr[k] == pytest.approx(0.64 * np.log(10) + 0.36 * np.log(3))
    assert data.slot_outcome_months[k] == 4  # by the end of April: months 0..3 from January
    path.write_text(body.replace("date: 2020-04-20", "date: 2020-05-20"))
    with pytest.raises(EvidenceError, match="must share a month") as info:
        model_data(spec, load_evidence(path, spec))
    assert info.value.key == "items.again"


def test_an_estimated_total_is_read_as_a_range(spec: ModelSpec, tmp_path: Path) -> None:
    path = tmp_path / "est.yaml"
    head = "schema_version: 1\nmodel: minimal\nitems:\n"

    def one(count: str, kind: str = "count", extra: str = "") -> Path:
        path.write_text(
            head + f"  - {{id: e, kind: {kind}, date: 2020-02-29, series: defectors,\n"
            f"     category: rank_and_file, month: 2020-02, count: {count},{extra}\n"
            "     source: local reporting, grade: C3}\n"
        )
        return path

    (got,) = read_items(one("{about: 20, range: [5, 50]}"), spec)
    assert got.fields["count"] == {"about": 20, "range": [5, 50]}
    data = model_data(spec, load_evidence(path, spec))
    assert (data.estimate_low[0], data.estimate_high[0]) == (5, 50)
    assert data.estimate_weight[0] == pytest.approx(0.36) and data.estimate_post[0] == 1.0
    assert data.estimate_channel[0].tolist() == [1.0] and not data.count_mask.any()
    for bad, key in [
        ("{range: [50, 5]}", "items[0].count.range"),
        ("{about: 60, range: [5, 50]}", "items[0].count.about"),
        ("{range: [5.5, 50]}", "items[0].count.range"),
        ("{about: 20}", "items[0].count.range"),
    ]:
        with pytest.raises(EvidenceError) as info:
            read_items(one(bad), spec)
        assert info.value.key == key, bad
    with pytest.raises(EvidenceError, match="whole number"):  # added counts stay exact
        read_items(
            one("{range: [5, 50]}", "faction_event", " event: clash, actor: splinter,"), spec
        )


def test_at_most_so_many_estimates_are_in_force() -> None:
    from allegiance.model.data import MAX_ESTIMATES

    spec = load_spec(REFERENCE)
    months = [f"{2018 + (k // 12)}-{k % 12 + 1:02d}" for k in range(MAX_ESTIMATES + 1)]
    many = [
        item(f"e{k}", "count", series="defectors_to_isk", category="taliban", month=m,
             count={"range": [0, 9]})
        for k, m in enumerate(months)
    ]  # fmt: skip
    assert model_data(spec, EvidenceSet.of(many[:-1])).estimate_weight.all()
    with pytest.raises(EvidenceError, match=f"more than {MAX_ESTIMATES} estimated"):
        model_data(spec, EvidenceSet.of(many))
