"""Reweighting against full refits, the refit fallback, and attribution."""

from __future__ import annotations

import numpy as np
import pytest

from allegiance.forecast import forecast, question_draws
from allegiance.posterior import FitSettings
from allegiance.update import K_MAX, Updater
from helpers import item, with_items

Z = 4.0


@pytest.fixture(scope="module")
def updater(reference_spec, reference_evidence, fitted):
    return Updater(fitted(reference_spec, reference_evidence, FitSettings()))


def weak_items():
    return (
        item("r1", "report", "2019-11-20", target="isk_capacity", favours=True,
             strength="moderately"),
        item("r2", "report", "2019-11-21", target="aligns_with_isk.haqqani", favours=True,
             likelihood_ratio=3.0),
    )


@pytest.mark.slow
def test_weak_evidence_reweighted_matches_a_refit(reference_spec, reference_evidence,
                                                  updater, fitted):
    import arviz as az

    evidence = with_items(reference_evidence, *weak_items())
    rw = updater.reweight(evidence)
    assert rw.accepted and rw.pareto_k <= K_MAX
    fast = updater.forecast(evidence)
    assert fast.method == "reweighted" and fast.trustworthy
    refit = fitted(reference_spec, evidence, FitSettings(seed=11))
    slow = forecast(refit)
    per_draw = question_draws(refit)
    for a, b in zip(fast.questions, slow.questions, strict=True):
        x = per_draw[b.id]
        se_refit = np.std(x) / np.sqrt(float(az.ess(x, method="mean")))
        se_fast = np.std(x) / np.sqrt(rw.ess)
        assert abs(a.probability - b.probability) < Z * np.hypot(se_refit, se_fast), a.id
    # The report on IS-K capacity moved the condition the way it favours.
    assert fast.condition_probability["isk_capacity"] > (
        updater.forecast(reference_evidence).condition_probability["isk_capacity"]
    )


@pytest.mark.slow
def test_strong_evidence_triggers_a_refit(reference_spec, reference_evidence, updater):
    months = ("2019-06", "2019-07", "2019-08", "2019-09", "2019-10", "2019-11")
    flood = [item(f"flood_{m}", "count", f"{m}-28", series="defectors_to_isk",
                  category="taliban", month=m, count=2000) for m in months]
    strong = with_items(reference_evidence, *flood,
                        drop=lambda i: i.kind == "count" and i.fields["category"] == "taliban")
    rw = updater.reweight(strong)
    assert not rw.accepted and rw.pareto_k > K_MAX
    result = updater.forecast(strong)
    assert result.method == "mcmc" and "refitted" in result.method_reason
    assert result.provenance["evidence_sha256"] == strong.sha256
    assert result.trustworthy
    without_refit = updater.forecast(strong, allow_refit=False)
    assert not without_refit.trustworthy and "Pareto k" in without_refit.method_reason


@pytest.mark.slow
def test_attribution_finds_the_item_that_moved_the_forecast(reference_evidence, updater):
    ties = item("ties", "report", "2019-11-25", target="aligns_with_isk.haqqani",
                favours=True, likelihood_ratio=200.0)
    ties = type(ties)(**{**ties.__dict__, "grade": "A1"})
    # Without the shipped reports, whose pull on the deal moves every faction at once.
    counts_only = with_items(reference_evidence, drop=lambda i: i.kind == "report")
    evidence = with_items(counts_only, ties)
    rows = updater.explain(evidence, "alliance_24m")
    assert {r.item_id for r in rows} == {i.id for i in evidence.items}
    top = rows[0]
    assert top.item_id == "ties" and top.delta > 0 and top.delta_log_odds > 0
    assert top.without_item == pytest.approx(
        next(q.probability for q in updater.forecast(counts_only).questions
             if q.id == "alliance_24m"), abs=1e-12)
    assert all(abs(r.delta_log_odds) <= abs(top.delta_log_odds) for r in rows)


def test_grade_tempers_a_report(reference_spec, reference_evidence):
    from allegiance.evidence import EvidenceSet, model_data, report_log_ratio

    strong = item("a", "report", "2019-11-20", target="isk_capacity", favours=True,
                  likelihood_ratio=10.0)
    weak = type(strong)(**{**strong.__dict__, "id": "b", "grade": "E5"})
    assert report_log_ratio(strong) == pytest.approx(0.8 * 0.8 * np.log(10.0))
    assert report_log_ratio(weak) == pytest.approx(0.2 * 0.2 * np.log(10.0))
    b = reference_spec.binary_conditions.index("isk_capacity")
    for it in (strong, weak):
        d = model_data(reference_spec, EvidenceSet.of([it]))
        assert d.condition_loglik[b, 1] == pytest.approx(report_log_ratio(it))
        assert d.condition_loglik[b, 0] == 0.0
