"""The forecasting workflow from Python: what it reuses, reweights, refits, and says it did."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import h5py
import pytest

from allegiance.errors import ProvenanceError
from allegiance.evidence import EvidenceSet
from allegiance.posterior import FitSettings, load_posterior
from allegiance.spec import ModelSpec, load_spec
from allegiance.workflow import FitStore, evidence_in_force, run_forecast

SETTINGS = FitSettings(draws=500, tune=500)


def test_fit_then_reuse_then_refuse_a_fit_from_another_engine(spec: ModelSpec) -> None:
    evidence = EvidenceSet.of([], as_of=dt.date(2020, 6, 1))
    first = run_forecast(spec, evidence, SETTINGS)
    assert first.forecast is not None and first.fit_path is not None
    assert first.forecast.method == "mcmc" and "no stored fit" in first.forecast.method_reason
    assert first.fit_path == FitStore(spec).path(evidence, SETTINGS) and first.fit_path.exists()
    assert first.forecast.provenance["as_of"] == "2020-06-01"
    assert any("posterior saved" in n for n in first.notes)

    again = run_forecast(spec, evidence, SETTINGS)
    assert again.forecast is not None
    assert "stored MCMC fit of exactly this evidence" in again.forecast.method_reason
    assert again.forecast.questions == first.forecast.questions
    assert not any("sampled" in n for n in again.notes)

    with h5py.File(first.fit_path, "r+") as f:  # as if written by an older engine
        f.attrs["engine_version"] = "0.0.1"
    with pytest.raises(ProvenanceError, match="engine_version 0.0.1"):
        load_posterior(first.fit_path, spec, evidence)
    third = run_forecast(spec, evidence, SETTINGS)
    assert third.forecast is not None and third.forecast.method == "mcmc"
    assert any("skipped stored fit" in n and "engine_version" in n for n in third.notes)
    assert any("sampled" in n for n in third.notes)
    assert load_posterior(first.fit_path, spec, evidence).attrs["engine_version"] != "0.0.1"


def test_evidence_in_force_says_where_it_came_from(spec: ModelSpec) -> None:
    none = evidence_in_force(spec, none=True, as_of=dt.date(2020, 3, 1))
    assert none.evidence is not None and none.evidence.items == ()
    assert none.ledger is None and none.evidence.as_of == dt.date(2020, 3, 1)
    ledger = evidence_in_force(spec)
    assert ledger.ledger is not None and ledger.evidence is not None
    assert Path(ledger.ledger.name).parent == spec.path.parent


def test_exact_never_reweights_another_fit(spec: ModelSpec) -> None:
    from allegiance.evidence import Item

    run_forecast(spec, EvidenceSet.of([]), SETTINGS)  # a stored fit of other evidence
    quiet = Item(
        "quiet", "no_event", dt.date(2020, 6, 1), "monitoring", "B2",
        {"hazard": "leave", "actor": "faction", "through": "2020-06-01"},
    )  # fmt: skip
    evidence = EvidenceSet.of([quiet])
    fast = run_forecast(spec, evidence, SETTINGS)
    assert fast.forecast is not None and fast.forecast.method == "reweighted"
    exact = run_forecast(spec, evidence, SETTINGS, exact=True)
    assert exact.forecast is not None and exact.forecast.method == "mcmc"
    assert "no stored fit of exactly this evidence" in exact.forecast.method_reason
    assert exact.fit_path == FitStore(spec).path(evidence, SETTINGS)
    again = run_forecast(spec, evidence, SETTINGS, exact=True)  # now stored: reused
    assert again.forecast is not None and "stored MCMC fit" in again.forecast.method_reason
    assert again.forecast.questions == exact.forecast.questions


def test_other_settings_stored_fits_are_named(spec: ModelSpec) -> None:
    run_forecast(spec, EvidenceSet.of([]), SETTINGS)
    other = FitSettings(draws=400, tune=500)
    done = run_forecast(spec, EvidenceSet.of([]), other)
    assert any("s20200229-4x500-t500-a0.8" in n and "--draws" in n for n in done.notes)


def test_a_fit_at_another_target_acceptance_is_not_reused(spec: ModelSpec) -> None:
    """Advice to refit at --target-accept 0.9 must not be answered with the fit at 0.8."""
    from dataclasses import replace

    first = run_forecast(spec, EvidenceSet.of([]), SETTINGS)
    again = run_forecast(spec, EvidenceSet.of([]), replace(SETTINGS, target_accept=0.9))
    assert again.forecast is not None and again.forecast.method == "mcmc"
    assert again.fit_path != first.fit_path and again.fit_path is not None


def test_messages_name_the_fix_and_this_models_ids(tmp_path: Path, spec: ModelSpec) -> None:
    from allegiance.errors import EvidenceError, SpecError

    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\ntitle: text: with a colon\n")
    with pytest.raises(SpecError) as info:
        load_spec(bad)
    assert "quote text that contains ': '" in info.value.fix
    report = tmp_path / "ev.yaml"
    report.write_text(
        "schema_version: 1\nmodel: beta_binomial\nitems:\n"
        "  - {id: r, kind: report, date: 2020-02-01, target: nothing, favours: true,\n"
        "     strength: weakly, source: s, grade: B2}\n"
    )
    from allegiance.evidence import read_items

    with pytest.raises(EvidenceError) as refused:
        read_items(report, spec)
    assert "haqqani" not in refused.value.fix and refused.value.key == "items[0].target"


def test_a_damaged_stored_fit_is_set_aside_and_refitted(spec: ModelSpec) -> None:
    first = run_forecast(spec, EvidenceSet.of([]), SETTINGS)
    assert first.fit_path is not None
    assert not list(first.fit_path.parent.glob(".*.partial"))  # saved whole, renamed into place
    first.fit_path.write_bytes(b"not a netcdf file")
    again = run_forecast(spec, EvidenceSet.of([]), SETTINGS)
    assert again.forecast is not None and again.forecast.method == "mcmc"
    assert any("skipped stored fit" in n for n in again.notes)
    assert again.forecast.questions == first.forecast.questions  # the same seed, refitted


def test_forecast_and_record_records_or_says_why_not(spec: ModelSpec) -> None:
    from allegiance.ledger import Ledger, default_url
    from allegiance.workflow import forecast_and_record

    evidence = EvidenceSet.of([], as_of=dt.date(2020, 6, 1))
    with Ledger(default_url(spec), spec) as book:
        made = forecast_and_record(
            spec, evidence, SETTINGS, book, as_of=dt.date(2020, 6, 1), report=True
        )
        assert made.forecast is not None
        (row,) = book.history("leaves_24m")
        assert row["probability"] == pytest.approx(made.forecast.questions[0].probability)
        assert row["as_of"] == dt.date(2020, 6, 1) and book.last_report() is not None
        assert not any("not recorded" in n for n in made.notes)
    path = default_url(spec).removeprefix("sqlite:///")
    before = Path(path).read_bytes()
    with Ledger(f"sqlite:///file:{path}?mode=ro&uri=true", spec) as read_only:
        again = forecast_and_record(spec, evidence, SETTINGS, read_only)
    assert again.forecast is not None and again.forecast.questions == made.forecast.questions
    (said,) = [n for n in again.notes if "not recorded" in n]
    assert said.startswith("warning: this forecast was not recorded in the ledger's history")
    assert Path(path).read_bytes() == before


def test_explain_uses_the_settings_it_is_given(spec: ModelSpec) -> None:
    from allegiance.evidence import Item
    from allegiance.workflow import explain

    quiet = Item("quiet", "no_event", dt.date(2020, 6, 1), "press", "A1",
                 {"hazard": "leave", "actor": "faction", "through": "2020-06-01"})  # fmt: skip
    evidence = EvidenceSet.of([quiet], as_of=dt.date(2020, 6, 1))
    other = FitSettings(draws=400, tune=400, seed=11)
    rows, used = explain(spec, evidence, "leaves_24m", other)
    assert used.fit_path == FitStore(spec).path(evidence, other) and used.fit_path.exists()
    (row,) = rows
    assert row.item_id == "quiet" and row.delta < 0  # months survived lower the chance
