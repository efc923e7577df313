"""Backtests: as-of, as-recorded replays scored against outcomes, with baselines and files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from allegiance.errors import ScoreError
from allegiance.evidence import Item
from allegiance.posterior import FitSettings
from allegiance.report import write_backtest
from allegiance.spec import ModelSpec, load_spec
from allegiance.update import ReplayStep
from allegiance.workflow.backtest import backtest, dates_between

SETTINGS = FitSettings(draws=500, tune=500)
UTC = dt.UTC


def test_dates_run_monthly_or_weekly() -> None:
    months = dates_between(dt.date(2020, 11, 10), dt.date(2021, 2, 10))
    assert months == [dt.date(2020, 11, 10), dt.date(2020, 12, 10), dt.date(2021, 1, 10),
                      dt.date(2021, 2, 10)]  # fmt: skip
    assert len(dates_between(dt.date(2020, 1, 1), dt.date(2020, 1, 29), "week")) == 5
    with pytest.raises(ScoreError):
        dates_between(dt.date(2020, 1, 1), dt.date(2020, 2, 1), "fortnight")


def _recorded(item: Item) -> Item:
    stamp = dt.datetime(item.date.year, item.date.month, item.date.day, 12, tzinfo=UTC)
    return Item(item.id, item.kind, item.date, item.source, item.grade, item.fields,
                recorded_at=stamp)  # fmt: skip


def test_backtest_scores_the_replay_beside_the_baselines(spec: ModelSpec, tmp_path: Path) -> None:
    quiet = [
        _recorded(Item(f"quiet_{m}", "no_event", dt.date(2020, m, 1), "monitoring", "B2",
                       {"hazard": "leave", "actor": "faction", "through": f"2020-{m:02d}-01"}))
        for m in range(2, 8)
    ]  # fmt: skip
    with pytest.raises(ScoreError, match="resolved"):
        backtest(spec, quiet, [dt.date(2020, 2, 1)], SETTINGS)
    outcome = _recorded(Item("stayed", "resolution", dt.date(2022, 1, 3), "UN", "B2",
                             {"question": "leaves_24m", "outcome": False}))  # fmt: skip
    dates = dates_between(dt.date(2020, 2, 1), dt.date(2020, 7, 1))
    seen: list[ReplayStep] = []
    result = backtest(spec, [*quiet, outcome], dates, SETTINGS, on_step=seen.append)
    assert [s.date for s in seen] == dates
    s = result.scores
    assert [p.date for p in s.pairs] == dates and {p.outcome for p in s.pairs} == {False}
    assert s.mean("0.5")["brier"] == pytest.approx(0.25)
    model = [p.forecasts["model"] for p in s.pairs]
    assert all(b < a for a, b in zip(model, model[1:], strict=False))  # months survived
    # Each date's evidence is that nothing happened through it, exactly what the time-only
    # baseline is given: the two agree up to Monte Carlo error (a replay of its own fits
    # against reweighting the prior fit; SE about 0.005 at these settings).
    for p in s.pairs:
        assert p.forecasts["model"] == pytest.approx(p.forecasts["time only"], abs=0.03)
        assert p.forecasts["prior only"] == pytest.approx(s.pairs[0].forecasts["prior only"])
        # Its hazard names no reference class: that baseline falls back on the prior.
        assert p.forecasts["reference class"] == p.forecasts["prior only"]
    assert s.mean("model")["brier"] < s.mean("prior only")["brier"]

    files = write_backtest(result, tmp_path / "out")
    names = {f.name for f in files}
    assert {"backtest.csv", "backtest.json", "score_over_time.png", "path_leaves_24m.png"} <= names
    rows = list(csv.DictReader((tmp_path / "out" / "backtest.csv").read_text().splitlines()))
    assert len(rows) == len(dates) and float(rows[0]["0.5: brier"]) == 0.25
    doc = json.loads((tmp_path / "out" / "backtest.json").read_text())
    assert doc["means"]["all"]["model"]["pair"]["brier"] == pytest.approx(s.mean("model")["brier"])
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in files if f.suffix == ".png")


@pytest.mark.slow
def test_the_reference_model_is_scored_on_its_real_record(tmp_path: Path) -> None:
    """The shipped evidence and the sourced record of what happened after the analysis
    date, replayed as recorded: 8 resolved questions (all no); a forecast after a
    12-month question's horizon is not scored."""
    from allegiance.workflow import record_of
    from conftest import REFERENCE

    path = tmp_path / REFERENCE.name
    shutil.copy(REFERENCE, path)  # stored fits go beside this copy, not into models/
    spec = load_spec(path)
    files = [
        REFERENCE.with_name(f"afghanistan_2020.{name}.yaml") for name in ("evidence", "record")
    ]
    dates = [dt.date(2019, 12, 1), dt.date(2020, 6, 1), dt.date(2021, 6, 1)]
    result = backtest(spec, record_of(spec, files), dates, SETTINGS)
    s = result.scores
    hand = [p for p in s.pairs if p.origin == "hand"]
    assert len(hand) == 8 + 8 + 4 and {p.outcome for p in s.pairs} == {False}
    # The grid: its 12 questions at each of the first two dates (a 6-month question closes
    # a month after its horizon), its four 24-month ones at the last.
    assert len(s.pairs) - len(hand) == 12 + 12 + 4
    assert {p.question for p in hand if p.date == dates[2]} == {
        "haqqani_leaves_24m", "north_shura_leaves_24m", "eastern_fronts_leave_24m", "alliance_24m"
    }  # fmt: skip
    for forecaster in ("model", "prior only", "time only"):
        assert s.mean(forecaster)["brier"] < s.mean("0.5")["brier"]
