"""Time passing is evidence: a public hazard's event would be on record, so none is survival."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from allegiance.errors import SpecError
from allegiance.evidence import Item
from allegiance.evidence.outcomes import resolutions, time_passing
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec, load_spec
from allegiance.workflow import evidence_in_force, run_forecast
from conftest import FIXTURES

D = dt.date.fromisoformat


def _model(tmp_path: Path, public: str) -> Path:
    text = (FIXTURES / "models" / "beta_binomial.yaml").read_text()
    path = tmp_path / "beta_binomial.yaml"
    path.write_text(text.replace("    kind: hazard\n", f"    kind: hazard\n{public}", 1))
    return path


@pytest.fixture
def public(tmp_path: Path) -> ModelSpec:
    return load_spec(_model(tmp_path, "    public: true\n"))


def test_public_is_read_and_checked(tmp_path: Path, public: ModelSpec) -> None:
    assert public.propensities["leave"].public_after_months == 0
    lagged = load_spec(_model(tmp_path, "    public_after_months: 2\n"))
    assert lagged.propensities["leave"].public_after_months == 2
    with pytest.raises(SpecError) as info:
        load_spec(_model(tmp_path, "    public: maybe\n"))
    assert info.value.key == "propensities.leave.public"
    with pytest.raises(SpecError):
        load_spec(_model(tmp_path, "    public_after_months: -1\n"))


def test_no_record_is_survival_through_the_date_less_the_lag(
    tmp_path: Path, public: ModelSpec
) -> None:
    (implied,) = time_passing(public, [], D("2020-07-15"))
    assert implied.kind == "no_event" and implied.fields["through"] == "2020-07-15"
    lagged = load_spec(_model(tmp_path, "    public_after_months: 2\n"))
    assert time_passing(lagged, [], D("2020-07-15"))[0].fields["through"] == "2020-05-15"
    assert time_passing(public, [], D("2019-12-01")) == []  # before the analysis date
    (capped,) = time_passing(public, [], D("2030-01-01"))
    assert capped.fields["through"] == "2022-01-01"  # the end of the forecast window
    left = Item("left", "event", D("2020-03-10"), "press", "A1",
                {"hazard": "leave", "actor": "faction", "month": "2020-03"})  # fmt: skip
    assert time_passing(public, [left], D("2020-07-15")) == []
    plain = load_spec(FIXTURES / "models" / "beta_binomial.yaml")
    assert time_passing(plain, [], D("2020-07-15")) == []  # not public: nothing implied


def test_a_public_question_closes_no_after_its_horizon(public: ModelSpec) -> None:
    assert resolutions(public, [], D("2021-12-31")) == {}
    (closed,) = resolutions(public, [], D("2022-01-01")).values()
    assert (closed.question, closed.outcome, closed.date) == ("leaves_24m", False, D("2022-01-01"))
    assert "public" in closed.source


def test_forecasts_count_the_months_that_passed(public: ModelSpec) -> None:
    settings = FitSettings(draws=500, tune=500)
    early = evidence_in_force(public, as_of=D("2020-01-15"))
    late = evidence_in_force(public, as_of=D("2021-06-01"))
    assert early.evidence is not None and late.evidence is not None
    assert [i.id for i in late.evidence.items] == ["time_passing_leave_faction"]
    first = run_forecast(public, early.evidence, settings).forecast
    second = run_forecast(public, late.evidence, settings).forecast
    assert first is not None and second is not None
    assert second.questions[0].probability < first.questions[0].probability
