"""Replay: forecasts as of a sequence of dates, reweighted from the latest fit or refitted."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from allegiance.evidence import EvidenceSet, Item, in_force
from allegiance.evidence.outcomes import with_time_passing
from allegiance.forecast import forecast, question_draws
from allegiance.posterior import FitSettings, Posterior
from allegiance.spec import load_spec
from allegiance.update import K_MAX, ReplayStep, replay
from conftest import FIXTURES, REFERENCE
from helpers import item

Z = 4.0  # safety factor on Monte Carlo standard errors, as in test_update and test_inference
D = dt.date.fromisoformat


def on(items: list[Item], when: dt.date, as_recorded: bool = False) -> EvidenceSet:
    """The evidence in force on a day, with the survival the public hazard implies."""
    spec = load_spec(REFERENCE)
    items = with_time_passing(spec, in_force(items, when, as_recorded), when)
    return EvidenceSet.of(items, as_of=when, as_recorded=as_recorded)


def recorded(it: Item, when: str) -> Item:
    return dataclasses.replace(
        it, recorded_at=dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
    )


def probabilities(step: ReplayStep) -> dict[str, float]:
    return {q.id: q.probability for q in step.forecast.questions}


@pytest.fixture(scope="module")
def base(reference_spec, reference_evidence, fitted) -> Posterior:
    """The fit of the shipped evidence, shared with test_update and test_inference."""
    return fitted(reference_spec, reference_evidence, FitSettings())


@pytest.fixture(scope="module")
def base_probabilities(base) -> dict[str, float]:
    return {q.id: q.probability for q in forecast(base).questions}


def test_dates_must_be_in_order(reference_spec):
    with pytest.raises(ValueError, match="in order"):
        replay(reference_spec, [], [D("2020-02-01"), D("2020-01-01")])


def test_no_dates_no_fit(reference_spec, monkeypatch):
    import allegiance.update.timeline as timeline

    def refuse(*args, **kwargs):
        raise AssertionError("replay fitted with no date to forecast")

    monkeypatch.setattr(timeline, "fit", refuse)
    assert replay(reference_spec, [], []) == []
    with pytest.raises(AssertionError, match="no date"):  # the guard bites when a date is asked
        replay(reference_spec, [], [D("2020-01-01")])


def test_base_of_another_model_is_refused(reference_spec, reference_evidence):
    other = load_spec(FIXTURES / "models" / "beta_binomial.yaml")
    stranger = Posterior(other, EvidenceSet.of([]), samples={}, settings=FitSettings())
    with pytest.raises(ValueError, match="base fit is of model"):
        replay(reference_spec, reference_evidence.items, [D("2020-01-01")], base=stranger)


@pytest.mark.slow
def test_items_dated_after_a_date_do_not_move_its_forecast(
    reference_spec, reference_evidence, base, base_probabilities
):
    presence = item(
        "presence_2020_03", "condition", "2020-03-01", condition="us_presence", value=True
    )
    presence = dataclasses.replace(presence, grade="A1")  # certain: the condition is settled
    items = [*reference_evidence.items, presence]
    first, second = replay(reference_spec, items, [D("2020-01-01"), D("2020-04-01")], base=base)
    # As of January the March item is not in force: exactly the base fit's evidence and numbers.
    assert first.forecast.provenance["evidence_sha256"] == reference_evidence.sha256
    assert [first.forecast.provenance["as_of"], second.forecast.provenance["as_of"]] == [
        "2020-01-01",
        "2020-04-01",
    ]
    assert first.method == "reweighted" and first.pareto_k == 0.0
    # The same numbers up to round-off: the fast path sums in another order.
    assert probabilities(first) == pytest.approx(base_probabilities, rel=1e-12, abs=1e-15)
    assert first.forecast.condition_probability["us_presence"] < 0.9
    # As of April it is, and it was absorbed by reweighting the same base.
    assert second.forecast.provenance["evidence_sha256"] == on(items, D("2020-04-01")).sha256
    assert second.forecast.provenance["fitted_evidence_sha256"] == reference_evidence.sha256
    assert second.method == "reweighted" and second.pareto_k <= K_MAX
    assert second.forecast.condition_probability["us_presence"] > 0.99
    assert probabilities(second) != probabilities(first)


@pytest.mark.slow
def test_as_recorded_leaves_out_what_was_recorded_later(
    reference_spec, reference_evidence, base, base_probabilities
):
    shipped = [recorded(i, "2019-12-01") for i in reference_evidence.items]
    late = recorded(
        item(
            "capacity_2019_12",
            "report",
            "2019-12-15",
            target="isk_capacity",
            favours=True,
            strength="strongly",
        ),
        "2020-02-03",
    )
    items = [*shipped, late]
    dates = [D("2020-01-01"), D("2020-03-01")]
    as_was = replay(reference_spec, items, dates, as_recorded=True, base=base)
    as_now = replay(reference_spec, items, dates, base=base)
    assert as_was[0].forecast.provenance["evidence_sha256"] == on(shipped, dates[0]).sha256
    assert as_now[0].forecast.provenance["evidence_sha256"] == on(items, dates[0]).sha256
    assert as_was[1].forecast.provenance["evidence_sha256"] == on(items, dates[1]).sha256
    # Recording times do not change the likelihood: the base's own numbers, equal weights.
    assert as_was[0].pareto_k == 0.0
    assert probabilities(as_was[0]) == pytest.approx(base_probabilities, abs=1e-9)
    capacity = [s.forecast.condition_probability["isk_capacity"] for s in (*as_was, *as_now)]
    # January as recorded lacks the late report; as known now, and by March, it has it.
    assert capacity[0] < capacity[2] and capacity[0] < capacity[1]
    assert capacity[3] == pytest.approx(capacity[1], abs=1e-9)  # March: recorded by then


@pytest.mark.slow
def test_strong_evidence_forces_a_refit_that_becomes_the_base(
    reference_spec, reference_evidence, base
):
    """Revised Taliban defector counts, 100 times the first estimates, replace them in January."""
    shipped = [recorded(i, "2019-12-01") for i in reference_evidence.items]
    old = [i for i in shipped if i.kind == "count" and i.fields["category"] == "taliban"]
    assert len(old) == 6
    revised = [
        recorded(
            dataclasses.replace(i, id=f"revised_{i.id}", fields={**i.fields, "count": 2000}),
            "2020-01-15",
        )
        for i in old
    ]
    retractions = [
        recorded(item(f"retract_{i.id}", "retraction", "2020-01-15", retracts=i.id), "2020-01-15")
        for i in old
    ]
    weak = recorded(
        item(
            "capacity_2020_02",
            "report",
            "2020-02-10",
            target="isk_capacity",
            favours=True,
            strength="weakly",
        ),
        "2020-02-12",
    )
    items = [*shipped, *revised, *retractions, weak]
    dates = [D("2019-12-15"), D("2020-02-01"), D("2020-03-01")]
    # A stiff posterior (counts a hundred times the first estimates): its refit samples with
    # smaller steps, as a fit reporting divergences is told to.
    careful = dataclasses.replace(FitSettings(), target_accept=0.95)
    before, flood, after = replay(
        reference_spec, items, dates, careful, as_recorded=True, base=base
    )

    assert before.method == "reweighted"
    assert before.forecast.provenance["fitted_evidence_sha256"] == reference_evidence.sha256

    flooded = on(items, dates[1], as_recorded=True)
    assert {i.id for i in flooded.items} & {i.id for i in old} == set()
    assert flood.method == "mcmc" and flood.pareto_k > K_MAX
    assert "refitted" in flood.forecast.method_reason
    assert flood.forecast.provenance["evidence_sha256"] == flooded.sha256
    assert flood.forecast.provenance["fitted_evidence_sha256"] == flooded.sha256
    assert flood.forecast.trustworthy

    # The refit is the new base: the next date is reweighted from it, not from the first fit.
    assert after.method == "reweighted" and after.pareto_k <= K_MAX
    assert after.forecast.provenance["fitted_evidence_sha256"] == flooded.sha256
    assert (
        after.forecast.provenance["evidence_sha256"] == on(items, dates[2], as_recorded=True).sha256
    )
    absorbs = [probabilities(s)["isk_absorbs_1000_12m"] for s in (before, flood, after)]
    assert absorbs[1] > absorbs[0] + 0.3


def monthly_evidence(reference_evidence) -> list[Item]:
    """Three months of counts near the historical rates and quiet factions; the deal in February."""
    rates = {
        ("defectors_to_isk", "ttp"): 128,
        ("defectors_to_isk", "imu"): 42,
        ("defectors_to_isk", "taliban"): 19,
        ("clashes", "taliban_isk"): 16,
    }
    out = list(reference_evidence.items)
    for month, end, through in (
        ("2019-12", "2019-12-31", "2020-01-01"),
        ("2020-01", "2020-01-31", "2020-02-01"),
        ("2020-02", "2020-02-29", "2020-03-01"),
    ):
        for (series, category), rate in rates.items():
            out.append(
                item(
                    f"{category}_{month}",
                    "count",
                    end,
                    series=series,
                    category=category,
                    month=month,
                    count=rate,
                )
            )
        for actor in ("haqqani", "north_shura", "eastern_fronts"):
            out.append(
                item(
                    f"quiet_{actor}_{month}",
                    "no_event",
                    through,
                    hazard="leave",
                    actor=actor,
                    through=through,
                )
            )
    out.append(item("deal", "condition", "2020-02-29", condition="deal_signed", value=True))
    out.append(
        item(
            "lobby", "report", "2020-01-20", target="lobby.haqqani", favours=True, strength="weakly"
        )
    )
    return out


@pytest.mark.slow
def test_replay_agrees_with_independent_refits(reference_spec, reference_evidence, base, fitted):
    import arviz as az

    items = monthly_evidence(reference_evidence)
    dates = [D("2020-01-10"), D("2020-02-10"), D("2020-03-10")]
    steps = replay(reference_spec, items, dates, base=base)
    assert [s.date for s in steps] == dates
    assert any(s.method == "reweighted" for s in steps)
    for step in steps:
        evidence = on(items, step.date)
        assert step.forecast.provenance["evidence_sha256"] == evidence.sha256
        refit = fitted(reference_spec, evidence, FitSettings(seed=11))
        per_draw = question_draws(refit)
        d = step.forecast.diagnostics
        ess = (
            step.forecast.provenance["importance_ess"]
            if step.method == "reweighted"
            else min(d.min_ess_bulk, d.min_ess_tail)
        )
        for a, b in zip(step.forecast.questions, forecast(refit).questions, strict=True):
            x = per_draw[b.id]
            if np.ptp(x) == 0:
                assert a.probability == pytest.approx(b.probability, abs=1e-9), (step.date, a.id)
                continue
            se_refit = np.std(x) / np.sqrt(float(az.ess(x, method="mean")))
            se_replay = np.std(x) / np.sqrt(ess)
            assert abs(a.probability - b.probability) < Z * np.hypot(se_refit, se_replay), (
                step.date,
                a.id,
                step.method,
            )


def test_midway_evidence_halves_each_likelihood_term(reference_spec, reference_evidence):
    """The proposal's log-likelihood is the mean of the two it bridges (terms linear in data)."""
    from allegiance.evidence import model_data
    from allegiance.model import numpy_ops
    from allegiance.model.data import midway
    from allegiance.model.structure import structure
    from allegiance.model.terms import terms
    from helpers import prior_draws, with_items

    quiet = item(
        "quiet", "no_event", "2020-06-01", hazard="leave", actor="haqqani", through="2020-06-01"
    )
    split = item(
        "split", "event", "2020-03-01", hazard="leave", actor="north_shura", month="2020-03"
    )
    deal = item("deal", "condition", "2020-02-29", condition="deal_signed", value=True)
    a = model_data(reference_spec, with_items(reference_evidence, quiet))
    b = model_data(reference_spec, with_items(reference_evidence, quiet, split, deal))
    mid = midway(a, b)
    st, draws = structure(reference_spec), prior_draws(reference_spec, 30, seed=9)

    def parts(d):
        t = terms(draws, d.arrays(), st, numpy_ops())
        return t["row_ll"][..., : st.n_slots, :], t["config_prior"], t["constant"]

    for got, x, y in zip(parts(mid), parts(a), parts(b), strict=True):
        np.testing.assert_allclose(got, (x + y) / 2, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mid.counts, a.counts, rtol=1e-12)  # the same counts stay
