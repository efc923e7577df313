"""Leave-one-theatre-out validation: what the other theatres teach, and the pooled scores."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from allegiance.cli import app
from allegiance.errors import ScoreError
from allegiance.spec.reference import Extra
from allegiance.workflow.forecasting import record_of
from allegiance.workflow.validation import class_counts, climatology, theatres
from conftest import FIXTURES

SMALL = ["--draws", "200", "--tune", "200", "--chains", "2"]


def _theatre(folder: Path, name: str, event: str | None = None, horizons: str = "[6, 12]") -> None:
    text = (FIXTURES / "models" / "beta_binomial.yaml").read_text()
    text = text.replace("id: beta_binomial", f"id: {name}")
    text = text.replace(
        "    within_months: 1\n",
        "    within_months: 1\n    public: true\n    reference_class: splinter_ucdp_all\n",
    )
    (folder / f"{name}.yaml").write_text(text + f"question_grid:\n  horizons: {horizons}\n")
    items = "items: []\n"
    if event:
        items = (
            f"items:\n  - {{id: gone, kind: event, date: {event}, source: s, grade: A1,"
            f" hazard: leave, actor: faction, month: {event[:7]},"
            f" recorded_at: '{event}T12:00:00Z'}}\n"
        )
    (folder / f"{name}.evidence.yaml").write_text(f"schema_version: 1\nmodel: {name}\n{items}")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _theatre(tmp_path, "early", event="2020-04-10")
    _theatre(tmp_path, "late", event="2020-10-20")
    _theatre(tmp_path, "never")
    (tmp_path / "no_grid.yaml").write_text(
        (FIXTURES / "models" / "beta_binomial.yaml").read_text().replace("beta_binomial", "no_grid")
    )
    return tmp_path


def test_theatres_are_the_models_with_a_grid_and_their_records(folder: Path) -> None:
    found = theatres(folder)
    assert [t.spec.id for t in found] == ["early", "late", "never"]
    assert all(t.records == (folder / f"{t.spec.id}.evidence.yaml",) for t in found)
    with pytest.raises(ScoreError, match="'nope' is not a theatre"):
        theatres(folder, ["nope"])
    for name in ("late", "never"):
        for path in folder.glob(f"{name}.*"):
            path.unlink()
    with pytest.raises(ScoreError, match="at least two"):
        theatres(folder)


def test_the_climatology_of_a_held_out_theatre_is_the_others_grid_outcomes(folder: Path) -> None:
    loaded = {t.spec.id: (t, record_of(t.spec, list(t.records))) for t in theatres(folder)}
    # early: left in April (yes at 6 and 12 months); late: left in October (no at 6,
    # yes at 12); never: no at both. The hand question (24 months) is not the grid's.
    held_early = climatology([loaded["late"], loaded["never"]])
    assert held_early.by_horizon == {6: 0.0, 12: 0.5} and held_early.overall == 0.25
    held_never = climatology([loaded["early"], loaded["late"]])
    assert held_never.by_horizon == {6: 0.5, 12: 1.0} and held_never.of(9) == 0.75
    with pytest.raises(ScoreError, match="no other theatre"):
        climatology([])


def test_other_theatres_teach_the_reference_classes_only_what_came_before(folder: Path) -> None:
    loaded = {t.spec.id: (t, record_of(t.spec, list(t.records))) for t in theatres(folder)}
    spec, items = loaded["late"][0].spec, loaded["late"][1]
    cls = "splinter_ucdp_all"
    # It left on 20 October 2020, nine months in (recorded that day).
    assert class_counts(spec, items, dt.date(2021, 6, 1)) == [Extra(cls, 1, 9.0)]
    # Held out from June 2020: five quiet months, the departure not yet known.
    assert class_counts(spec, items, dt.date(2020, 6, 1)) == [Extra(cls, 0, 5.0)]
    assert class_counts(spec, items, dt.date(2019, 6, 1)) == []
    never, quiet = loaded["never"]
    assert class_counts(never.spec, quiet, dt.date(2030, 1, 1)) == [Extra(cls, 0, 24.0)]


@pytest.mark.slow
def test_validate_backtests_each_theatre_and_pools_them(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["validate", str(folder), "--out", str(out), "--theatres", "early,never", *SMALL]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "validation.json").read_text())
    rows = {(r["theatre"], r["questions"], r["forecaster"]): r for r in doc["rows"]}
    # Only the held-out theatres are backtested; all three teach the climatology.
    assert {r["theatre"] for r in doc["rows"]} == {"early", "never", "pooled"}
    assert doc["climatology"]["early"]["by_horizon"] == {"6": 0.0, "12": 0.5}
    early = json.loads((out / "early" / "backtest.json").read_text())
    n_early = sum(p["origin"] == "grid" for p in early["pairs"])
    assert rows[("early", "grid", "model")]["forecasts"] == n_early
    # The climatology forecasts its constant: its Brier is the mean of (c - outcome)^2.
    pairs = [p for p in early["pairs"] if p["origin"] == "grid"]
    expected = sum((p["climatology: p"] - p["outcome"]) ** 2 for p in pairs) / len(pairs)
    assert rows[("early", "grid", "climatology")]["brier"] == pytest.approx(expected)
    pooled = rows[("pooled", "grid", "model")]
    never = rows[("never", "grid", "model")]
    assert pooled["forecasts"] == n_early + never["forecasts"]
    weighted = (rows[("early", "grid", "model")]["brier"] * n_early
                + never["brier"] * never["forecasts"]) / pooled["forecasts"]  # fmt: skip
    assert pooled["brier"] == pytest.approx(weighted)
    assert (out / "reliability_grid.png").stat().st_size > 0
    # The outside view: the class's rate with the others' counts before 2020-01-01 (none).
    from allegiance.forecast.reference import reference_forecast
    from allegiance.spec import load_spec, months_between

    spec = load_spec(folder / "early.yaml")
    for p in pairs:
        survived = months_between(spec.analysis_date, dt.date.fromisoformat(p["date"]))
        exact = reference_forecast(spec, spec.questions[p["question"]], survived)
        assert p["reference class: p"] == pytest.approx(exact)


def test_a_theatre_is_recalibrated_only_on_the_others_grids() -> None:
    import numpy as np

    from allegiance.forecast.scores import recalibration
    from allegiance.workflow.backtest import Backtest
    from allegiance.workflow.scoring import Pair, Scores
    from allegiance.workflow.validation import RECALIBRATED, recalibrate

    rng = np.random.default_rng(3)

    def theatre(flip: bool) -> Backtest:
        pairs = []
        for i in range(300):
            p = float(rng.random())
            y = bool(rng.random() < min(1.0, 1.5 * p)) != flip
            pairs.append(Pair(f"q{i}", dt.date(2020, 1, 1), y, {"model": p},
                              "grid" if i % 4 else "hand"))  # fmt: skip
        return Backtest([], Scores(pairs, ["model"]))

    runs = {}
    for flip in (False, True):
        rng = np.random.default_rng(3)
        backtests = {"a": theatre(flip), "b": theatre(False), "c": theatre(False)}
        fits = recalibrate(backtests)
        runs[flip] = (backtests, fits)
        others = [p for n in ("b", "c") for p in backtests[n].scores.pairs if p.origin == "grid"]
        expected = recalibration(
            np.array([p.forecasts["model"] for p in others]), np.array([p.outcome for p in others])
        )
        assert fits["a"] == expected
        assert all(
            p.forecasts[RECALIBRATED] == pytest.approx(float(expected(p.forecasts["model"])))
            for p in backtests["a"].scores.pairs
        )
        assert backtests["a"].scores.forecasters == ["model", RECALIBRATED]
    # Theatre a's own outcomes move the others' recalibrations, never its own.
    assert runs[False][1]["a"] == runs[True][1]["a"]
    assert runs[False][1]["b"] != runs[True][1]["b"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--theatres", "early,nope"], "'nope' is not a theatre"),
        (["--every", "day"], "--every 'day'"),
    ],
)
def test_validate_refuses_before_anything_runs(
    folder: Path, tmp_path: Path, args: list[str], words: str
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["validate", str(folder), "--out", str(out), *args])
    assert result.exit_code == 2 and words in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_validate_refuses_an_out_that_is_a_file(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.write_text("mine")
    result = CliRunner().invoke(app, ["validate", str(folder), "--out", str(out)])
    assert result.exit_code == 2 and "is a file" in result.output
    assert out.read_text() == "mine"
