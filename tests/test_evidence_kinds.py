"""An evidence kind is one object, and the evidence arrays one table: the recipe, proved.

A toy kind, a poll (a share of those polled favours a binary condition's being
true by the odds of the share), is registered the way ARCHITECTURE.md says and
goes through every stage: read and checked, filled, written to CSV and back,
hashed, and updated on. The table of arrays is checked whole, and its midpoint
against the formula it replaced.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import special

from allegiance.errors import EvidenceError
from allegiance.evidence import EvidenceSet, Item, dump_csv, model_data, no_evidence, read_items
from allegiance.evidence.kinds import EVIDENCE_KINDS, EvidenceKind
from allegiance.forecast.questions import EVIDENCE_READ
from allegiance.model import ModelData, numpy_ops
from allegiance.model.data import (
    DATA_NAMES,
    ESTIMATES,
    MIDPOINT_RULES,
    NOTHING,
    READS,
    ROLES,
    STOCKS,
    graph_names,
    midway,
)
from allegiance.model.structure import structure
from allegiance.model.terms import terms
from allegiance.posterior import FitSettings, Posterior
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec, load_spec
from allegiance.update import Updater
from allegiance.words import grade_weight
from helpers import assert_patch_reaches, item, prior_draws, with_items

# --- A toy kind, defined here as a new kind's module would define it ------------------------


def _poll_fields(r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec) -> dict:
    condition = r.member(
        body["condition"], f"{key}.condition", spec.binary_conditions, "binary condition"
    )
    share = body["share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise r.fail(
            f"{key}.share",
            f"a poll's share must lie strictly between 0 and 1, got {share!r}.",
            "write the share of those polled who say it is true, e.g. share: 0.6.",
        )
    return {"condition": condition, "share": float(share)}


def _fill_poll(arrays: Any, found: Item) -> None:
    f = found.fields
    b = arrays.spec.binary_conditions.index(f["condition"])
    odds = f["share"] / (1 - f["share"])
    arrays.data.condition_loglik[b, 1] += grade_weight(found.grade) * math.log(odds)


POLL = EvidenceKind("poll", ("condition", "share"), (), _poll_fields, _fill_poll)


@pytest.fixture
def poll(monkeypatch: pytest.MonkeyPatch) -> EvidenceKind:
    """The poll, registered for one test."""
    monkeypatch.setitem(EVIDENCE_KINDS, POLL.name, POLL)
    return POLL


def _poll(item_id: str, share: float, grade: str = "B2") -> Item:
    found = item(item_id, "poll", "2020-01-15", condition="deal_signed", share=share)
    return dataclasses.replace(found, grade=grade)


def _file(tmp_path: Path, spec: ModelSpec, share: object) -> Path:
    path = tmp_path / "polls.yaml"
    path.write_text(
        f"schema_version: 1\nmodel: {spec.id}\nitems:\n"
        "  - {id: p1, kind: poll, date: 2020-01-15, source: a poll, grade: B2,\n"
        f"     condition: deal_signed, share: {share}}}\n"
    )
    return path


def test_a_registered_kind_is_read_and_its_bad_field_named(
    reference_spec: ModelSpec, tmp_path: Path, poll: EvidenceKind
) -> None:
    (got,) = read_items(_file(tmp_path, reference_spec, 0.75), reference_spec)
    assert (got.kind, dict(got.fields)) == ("poll", {"condition": "deal_signed", "share": 0.75})
    bad = _file(tmp_path, reference_spec, 1.5)
    with pytest.raises(EvidenceError, match=r"items\[0\]\.share.*between 0 and 1") as caught:
        read_items(bad, reference_spec)
    assert str(bad) in str(caught.value)


def test_an_unregistered_kind_is_refused(reference_spec: ModelSpec, tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match=r"items\[0\]\.kind"):
        read_items(_file(tmp_path, reference_spec, 0.75), reference_spec)


def test_a_registered_kind_fills_the_arrays_as_the_item_it_amounts_to(
    reference_spec: ModelSpec, reference_evidence: EvidenceSet, poll: EvidenceKind
) -> None:
    """A poll at a share of 3/4, graded C3, is a report favouring the condition at odds of 3."""
    report = item("r", "report", "2020-01-15", target="deal_signed", favours=True,
                  likelihood_ratio=3.0)  # fmt: skip
    report = dataclasses.replace(report, grade="C3")
    got = model_data(reference_spec, with_items(reference_evidence, _poll("p", 0.75, "C3")))
    want = model_data(reference_spec, with_items(reference_evidence, report))
    for name in DATA_NAMES:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    before = model_data(reference_spec, reference_evidence).condition_loglik
    b = reference_spec.binary_conditions.index("deal_signed")
    assert got.condition_loglik[b, 1] - before[b, 1] == pytest.approx(0.36 * math.log(3.0))


def test_a_registered_kind_round_trips_through_csv(
    reference_spec: ModelSpec, tmp_path: Path, poll: EvidenceKind
) -> None:
    """Its new field gets a column, and every item reads back as it was written."""
    items = [
        _poll("p1", 0.75),
        _poll("p2", 0.125, "A1"),
        item("r", "report", "2020-01-20", target="deal_signed", favours=False, strength="weakly"),
    ]
    path = tmp_path / "evidence.csv"
    path.write_text(dump_csv(items), encoding="utf-8")
    assert "share" in path.read_text().splitlines()[0].split(",")
    assert read_items(path, reference_spec) == items


def test_a_registered_kind_is_hashed_into_the_evidence(poll: EvidenceKind) -> None:
    hashes = {
        EvidenceSet.of([]).sha256,
        EvidenceSet.of([_poll("p", 0.75)]).sha256,
        EvidenceSet.of([_poll("p", 0.6)]).sha256,
        EvidenceSet.of([_poll("p", 0.75, "A1")]).sha256,
    }
    assert len(hashes) == 4


def test_an_update_on_a_registered_kind_equals_a_full_evaluation(
    reference_spec: ModelSpec, poll: EvidenceKind
) -> None:
    """The fast patch and the updater both reach the terms evaluated afresh."""
    spec, st = reference_spec, structure(reference_spec)
    draws = prior_draws(spec, 60, seed=12)
    polled = EvidenceSet.of([_poll("p", 0.8, "A2")])
    data = model_data(spec, polled)
    full = terms(draws, data.arrays(), st, numpy_ops())
    assert_patch_reaches(spec, draws, no_evidence(spec), data, full)

    samples = {k: v.reshape(2, 30, -1) for k, v in draws.items() if v.shape[1]}
    settings, fitted = FitSettings(draws=30, chains=2), EvidenceSet.of([])
    posterior = Posterior(spec, fitted, samples, settings, {"evidence_sha256": fitted.sha256})
    weights = special.softmax(full["log_joint"], axis=-1)
    b = spec.binary_conditions.index("deal_signed")
    expected = weights @ st.configurations[b]
    got = Updater(posterior, settings).per_draw(polled)["condition:deal_signed"]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    prior = special.softmax(terms(draws, no_evidence(spec).arrays(), st, numpy_ops())["log_joint"])
    assert np.all(got > prior @ st.configurations[b])  # the poll moved every draw up


# --- The table of evidence arrays -----------------------------------------------------------

DIMENSIONS = {
    "binary_condition", "level_condition", "slot", "channel", "month", "state", "pattern",
    "exit", "stock", "estimate", "stock_estimate",
}  # fmt: skip


def test_every_array_declares_its_shape_midpoint_role_and_read() -> None:
    for f in dataclasses.fields(ModelData):
        a = f.metadata["array"]
        assert a.shape and set(a.shape) <= DIMENSIONS, f.name
        assert a.role in ROLES and a.read in READS, f.name
        assert a.midpoint.rule in MIDPOINT_RULES and set(a.midpoint.by) <= set(DATA_NAMES), f.name
        assert a.group in (None, ESTIMATES, STOCKS) and math.isfinite(a.fill), f.name


def test_the_derived_lists_cover_the_arrays_exactly() -> None:
    from allegiance.model import patch

    by_role = [
        *patch.SLOT_ARRAYS, *patch.CHANNEL_ARRAYS, *patch.ESTIMATE_ARRAYS, patch.ESTIMATE_CHANNEL,
        *patch.EXIT_ARRAYS, *patch.CONDITION_ARRAYS, *patch.LEVEL_ARRAYS, *patch.STOCK_ARRAYS,
    ]  # fmt: skip
    assert sorted(by_role) == sorted(DATA_NAMES) == sorted(patch.PATCHED)
    assert graph_names(estimates=True, stocks=True) == list(DATA_NAMES)
    # The optional groups are what the names' prefixes used to pick out.
    left_out = set(DATA_NAMES) - set(graph_names(estimates=False, stocks=False))
    assert left_out == {n for n in DATA_NAMES if n.startswith(("estimate_", "stock_"))}
    assert set(DATA_NAMES) - set(graph_names(estimates=True, stocks=False)) == {
        n for n in DATA_NAMES if n.startswith("stock_")
    }
    read = {f.name for f in dataclasses.fields(ModelData) if f.metadata["array"].read != NOTHING}
    assert list(EVIDENCE_READ) == [n for n in DATA_NAMES if n in read]


@pytest.mark.parametrize(
    "module", ["model/patch.py", "model/build.py", "update/timeline.py", "forecast/questions.py"]
)
def test_the_generic_code_lists_no_array_by_name(module: str) -> None:
    """The update, the graph, the replay and the questions' reads take the arrays from the table:
    a new array needs none of them edited."""
    import ast

    path = Path(__file__).parents[1] / "src" / "allegiance" / module
    named = {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not named & set(DATA_NAMES)
    assert not {n for n in named if n.startswith(("estimate_", "stock_estimate_"))}


def test_the_empty_arrays_take_the_declared_shapes(reference_spec: ModelSpec) -> None:
    spec = load_spec(Path(__file__).parent / "fixtures" / "models" / "stocks.yaml")
    for s in (reference_spec, spec):
        empty = ModelData.empty(s, structure(s).shift_pattern.shape[2])
        filled = no_evidence(s)
        for name in DATA_NAMES:
            assert getattr(empty, name).shape == getattr(filled, name).shape, name
        assert np.all(empty.level_value == 0.5) and np.all(empty.stock_estimate_sd == 1.0)


def _todays_midway(a: ModelData, b: ModelData) -> ModelData:
    """The replay's midpoint as update/timeline.py wrote it out before the table."""
    mask = (a.count_mask + b.count_mask) / 2
    total = a.count_mask * a.counts + b.count_mask * b.counts
    level_mask = (a.level_mask + b.level_mask) / 2
    level_total = a.level_mask * a.level_value + b.level_mask * b.level_value
    same = (
        (a.estimate_low == b.estimate_low)
        & (a.estimate_high == b.estimate_high)
        & (a.estimate_post == b.estimate_post)
        & np.all(a.estimate_channel == b.estimate_channel, axis=1)
    )
    same_stock = (a.stock_estimate_month == b.stock_estimate_month) & (
        a.stock_estimate_log_mid == b.stock_estimate_log_mid
    )
    same_stock &= a.stock_estimate_sd == b.stock_estimate_sd
    same_stock &= np.all(a.stock_estimate_stock == b.stock_estimate_stock, axis=1)
    same_stock &= np.all(a.stock_estimate_seen == b.stock_estimate_seen, axis=1)
    same_stock &= np.all(a.stock_estimate_unseen == b.stock_estimate_unseen, axis=1)
    same_stock &= a.stock_estimate_merged == b.stock_estimate_merged
    reported = b.slot_outcome_log_lr != 0
    return ModelData(
        condition_loglik=(a.condition_loglik + b.condition_loglik) / 2,
        slot_log_lr=(a.slot_log_lr + b.slot_log_lr) / 2,
        level_value=np.divide(
            level_total, 2 * level_mask, out=np.zeros_like(level_total), where=level_mask > 0
        ),
        level_mask=level_mask,
        level_log_lr=(a.level_log_lr + b.level_log_lr) / 2,
        slot_events=(a.slot_events + b.slot_events) / 2,
        slot_nonevents=(a.slot_nonevents + b.slot_nonevents) / 2,
        slot_outcome_log_lr=(a.slot_outcome_log_lr + b.slot_outcome_log_lr) / 2,
        slot_outcome_months=np.where(reported, b.slot_outcome_months, a.slot_outcome_months),
        slot_pattern_events=(a.slot_pattern_events + b.slot_pattern_events) / 2,
        slot_pattern_nonevents=(a.slot_pattern_nonevents + b.slot_pattern_nonevents) / 2,
        slot_pattern_ahead=np.where(reported[:, None], b.slot_pattern_ahead, a.slot_pattern_ahead),
        counts=np.divide(total, 2 * mask, out=np.zeros_like(total), where=mask > 0),
        count_mask=mask,
        exit_observed=(a.exit_observed + b.exit_observed) / 2,
        estimate_low=b.estimate_low,
        estimate_high=b.estimate_high,
        estimate_weight=np.where(
            same, (a.estimate_weight + b.estimate_weight) / 2, b.estimate_weight / 2
        ),
        estimate_channel=b.estimate_channel,
        estimate_post=b.estimate_post,
        count_pattern=b.count_pattern,
        estimate_pattern=b.estimate_pattern,
        stock_estimate_stock=b.stock_estimate_stock,
        stock_estimate_month=b.stock_estimate_month,
        stock_estimate_log_mid=b.stock_estimate_log_mid,
        stock_estimate_sd=b.stock_estimate_sd,
        stock_estimate_weight=np.where(
            same_stock,
            (a.stock_estimate_weight + b.stock_estimate_weight) / 2,
            b.stock_estimate_weight / 2,
        ),
        stock_estimate_seen=b.stock_estimate_seen,
        stock_estimate_unseen=b.stock_estimate_unseen,
        stock_estimate_merged=b.stock_estimate_merged,
    )


def _graded(found: Item, grade: str) -> Item:
    return dataclasses.replace(found, grade=grade)


def _reference_pair(spec: ModelSpec, evidence: EvidenceSet) -> tuple[ModelData, ModelData]:
    """Earlier and later evidence on the reference model touching every rule but stocks'."""
    quiet = item("quiet", "no_event", "2020-06-01", hazard="leave", actor="haqqani",
                 through="2020-06-01")  # fmt: skip
    split = item("split", "event", "2020-03-01", hazard="leave", actor="north_shura",
                 month="2020-03")  # fmt: skip
    deal = item("deal", "condition", "2020-02-29", condition="deal_signed", value=True)
    level = item("lvl", "condition", "2020-02-01", condition=spec.level_conditions[0], value=0.7)
    revised = dataclasses.replace(level, fields={**level.fields, "value": 0.4})
    heard = item("heard", "report", "2020-08-10", target="leave.haqqani", favours=True,
                 strength="moderately")  # fmt: skip

    def estimate(item_id: str, month: str, low: int, high: int) -> Item:
        return item(item_id, "count", f"{month}-28", series="defectors_to_isk", category="ttp",
                    month=month, count={"range": [low, high]})  # fmt: skip

    first, second = estimate("e1", "2020-02", 5, 50), estimate("e2", "2020-04", 10, 90)
    a = model_data(spec, with_items(evidence, quiet, first, _graded(level, "C3")))
    later = (quiet, split, deal, revised, heard, _graded(first, "A2"), second)
    return a, model_data(spec, with_items(evidence, *later))


def test_the_midpoint_is_the_formula_it_replaced(
    reference_spec: ModelSpec, reference_evidence: EvidenceSet
) -> None:
    from test_stocks import ESTIMATES, FLOWS, JOINED, STOCKS

    stocks = load_spec(STOCKS)
    pairs = [
        _reference_pair(reference_spec, reference_evidence),
        (
            model_data(stocks, EvidenceSet.of([*FLOWS, *ESTIMATES[:2]])),
            model_data(stocks, EvidenceSet.of([*FLOWS, JOINED, *ESTIMATES])),
        ),
    ]
    for a, b in pairs:
        got, want = midway(a, b), _todays_midway(a, b)
        for name in DATA_NAMES:
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    # The pairs differ where each rule has something to decide.
    (a, b), (c, d) = pairs
    for name in ("level_value", "slot_outcome_months", "slot_pattern_ahead", "estimate_weight"):
        assert not np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(c.stock_estimate_weight, d.stock_estimate_weight)
    assert 0.36 < midway(a, b).estimate_weight[0] < b.estimate_weight[0]  # the mean of two
    assert midway(a, b).estimate_weight[1] == b.estimate_weight[1] / 2 > 0  # only the later's
