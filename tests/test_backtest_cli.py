"""``allegiance backtest`` as a user steers it, and ``evidence list`` as of a date."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import allegiance.posterior
import allegiance.update.timeline
import allegiance.update.updater
import allegiance.workflow.backtest
from allegiance.cli import EXIT_BAD_INPUT, app
from allegiance.errors import ScoreError
from allegiance.posterior import FitSettings
from conftest import FIXTURES

runner = CliRunner()

SECOND_QUESTION = """
  - id: leaves_12m
    kind: leaves
    text: Does the faction leave within 12 months?
    resolution: It leaves by the horizon.
    horizon: 2021-01-01
    actor: faction
    hazard: leave
"""

RECORD = """schema_version: 1
model: beta_binomial
items:
  - {id: stayed_12m, kind: resolution, date: 2021-01-02, question: leaves_12m,
     outcome: no, source: UN, grade: B2, recorded_at: 2021-01-02T12:00:00Z}
  - {id: stayed_24m, kind: resolution, date: 2022-01-03, question: leaves_24m,
     outcome: no, source: UN, grade: B2, recorded_at: 2022-01-03T12:00:00Z}
"""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """The one-hazard model with a second question, and a record resolving both."""
    path = tmp_path / "beta_binomial.yaml"
    path.write_text((FIXTURES / "models" / "beta_binomial.yaml").read_text() + SECOND_QUESTION)
    (tmp_path / "record.yaml").write_text(RECORD)
    return path


def _no_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a fit started")

    monkeypatch.setattr(allegiance.workflow.backtest, "replay", fail)
    monkeypatch.setattr(allegiance.workflow.backtest, "add_baselines", fail)


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--from", "2000-01-01", "--to", "2020-01-01", "--every", "week"],
         ["1044 dates", "at most 600", "--every month", "shorter range"]),
        (["--from", "1900-01-01", "--to", "1990-01-01"], ["1081 dates", "shorter range"]),
        (["--from", "2020-04-01", "--to", "2020-02-01"], ["2020-04-01 is after", "2020-02-01"]),
        (["--out", "{tmp}/record.yaml"], ["record.yaml is a file", "give a folder"]),
        (["--out", "{tmp}/record.yaml/bt"], ["record.yaml is a file, not", "give a folder"]),
        (["--questions", "leaves_24m,nope"], ["'nope'", "leaves_24m, leaves_12m"]),
        (["--questions", "leaves_24m", "--questions", "nope"], ["'nope'"]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("source", ["ledger", "record"])
def test_backtest_refuses_up_front_and_writes_nothing(
    model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    said: list[str],
    source: str,
) -> None:
    _no_fit(monkeypatch)
    before = _files(tmp_path)
    dates = ["--from", "2020-02-01", "--to", "2020-04-01"]
    if source == "record":  # outcomes on record: only the refusal stops a fit
        dates += ["--evidence", str(tmp_path / "record.yaml")]
    given = [a.format(tmp=tmp_path) for a in args]
    done = runner.invoke(app, ["backtest", str(model), *dates, *given], catch_exceptions=False)
    assert done.exit_code == EXIT_BAD_INPUT, done.output
    message = " ".join(done.stderr.split())
    assert all(s in message for s in said), message
    assert _files(tmp_path) == before  # no ledger, no folder, no file


def test_the_sampler_options_reach_the_backtest(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    def spy(spec: object, items: object, dates: object, settings: FitSettings, **kw: Any) -> None:
        seen.append({"settings": settings, **kw})
        raise ScoreError("stopped here")

    monkeypatch.setattr(allegiance.workflow.backtest, "backtest", spy)
    args = ["backtest", str(model), "--from", "2020-02-01", "--to", "2020-04-01"]
    args += ["--evidence", str(model.parent / "record.yaml")]
    steer = ["--seed", "7", "--draws", "123", "--tune", "45", "--chains", "3"]
    steer += ["--target-accept", "0.93", "--questions", "leaves_12m"]
    assert runner.invoke(app, [*args, *steer]).exit_code == EXIT_BAD_INPUT
    assert runner.invoke(app, args).exit_code == EXIT_BAD_INPUT
    chosen, default = seen
    wanted = FitSettings(seed=7, draws=123, tune=45, chains=3, target_accept=0.93)
    assert chosen["settings"] == wanted and chosen["questions"] == ["leaves_12m"]
    assert default["settings"] == FitSettings() and not default["questions"]
    wrong = runner.invoke(app, [*args, "--draws", "0"])
    assert wrong.exit_code == EXIT_BAD_INPUT and len(seen) == 2


def _spy_fits(monkeypatch: pytest.MonkeyPatch) -> list[FitSettings]:
    """Record the settings of every fit, wherever it is made, and make it."""
    seen: list[FitSettings] = []
    real = allegiance.posterior.fit

    def spy(spec: Any, evidence: Any, settings: FitSettings, *a: Any, **kw: Any) -> Any:
        seen.append(settings)
        return real(spec, evidence, settings, *a, **kw)

    modules: list[Any] = [
        allegiance.posterior,
        allegiance.update.timeline,
        allegiance.update.updater,
    ]
    for module in modules:
        monkeypatch.setattr(module, "fit", spy)
    return seen


def test_a_steered_backtest_scores_the_chosen_questions_with_its_settings(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits = _spy_fits(monkeypatch)
    out = tmp_path / "bt"
    args = ["backtest", str(model), "--from", "2020-02-01", "--to", "2020-04-01", "--out", str(out)]
    args += ["--evidence", str(tmp_path / "record.yaml"), "--questions", "leaves_12m"]
    args += ["--seed", "11", "--draws", "300", "--tune", "300", "--chains", "2"]
    done = runner.invoke(app, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    wanted = FitSettings(seed=11, draws=300, tune=300, chains=2)
    assert len(fits) >= 2 and set(fits) == {wanted}  # the replay's fit and the prior-only one
    with (out / "backtest.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["question"], r["date"]) for r in rows] == [
        ("leaves_12m", f"2020-0{m}-01") for m in (2, 3, 4)
    ]
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["fit_settings"]["seed"] == 11 and doc["fit_settings"]["draws"] == 300
    assert "path_leaves_12m.png" in {p.name for p in out.iterdir()}
    assert "path_leaves_24m.png" not in {p.name for p in out.iterdir()}
    # a line per date on stderr, numbered; stdout keeps the table and what was written
    lines = [line for line in done.stderr.splitlines() if "/3)" in line]
    assert [re.findall(r"\d{4}-\d\d-\d\d", line) for line in lines] == [
        ["2020-02-01"],
        ["2020-03-01"],
        ["2020-04-01"],
    ]
    assert " mcmc " in lines[0] and all(" k=" in line for line in lines)
    assert [line.endswith(f"({i}/3)") for i, line in enumerate(lines, 1)] == [True] * 3
    assert "2020-03-01" not in done.stdout and "/3)" not in done.stdout
    assert "3 scored forecasts of 1 question," in " ".join(done.stdout.split())
    assert "wrote" in done.stdout and "wrote" not in done.stderr


def _import(tmp_path: Path, model: Path, body: str) -> None:
    path = tmp_path / "items.yaml"
    path.write_text("schema_version: 1\nmodel: beta_binomial\nitems:\n" + body)
    done = runner.invoke(app, ["evidence", "import", str(model), str(path)])
    assert done.exit_code == 0, done.output


def _listed(model: Path, *args: str) -> tuple[list[str], str]:
    done = runner.invoke(app, ["evidence", "list", str(model), *args], terminal_width=200)
    assert done.exit_code == 0, done.output
    ids = [line.split("│")[1].strip() for line in done.stdout.splitlines() if "no_event" in line]
    return ids, " ".join(done.stdout.split())


def test_evidence_list_as_of_a_date_as_recorded_then(tmp_path: Path) -> None:
    model = tmp_path / "beta_binomial.yaml"
    shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", model)
    item = (
        "  - {{id: {0}, kind: no_event, date: {1}, hazard: leave, actor: faction, through: {1},\n"
    )
    item += "     source: monitoring, grade: B2, recorded_at: {2}T12:00:00Z}}\n"
    _import(tmp_path, model, "".join([
        item.format("on_time", "2020-01-01", "2020-01-02"),
        item.format("late", "2020-03-01", "2020-06-01"),  # recorded three months after
        item.format("after", "2020-05-01", "2020-05-02"),
    ]))  # fmt: skip
    assert _listed(model)[0] == ["on_time", "late", "after"]
    ids, text = _listed(model, "--as-of", "2020-04-01")
    assert ids == ["on_time", "late"] and "2 items in force as of 2020-04-01" in text
    ids, text = _listed(model, "--as-of", "2020-04-01", "--as-recorded")
    assert ids == ["on_time"]
    assert "1 item in force as of 2020-04-01 as recorded then" in text
    assert "forecast --as-of 2020-04-01 --as-recorded" in text
    ids, _ = _listed(model, "--as-of", "2020-06-01", "--as-recorded")
    assert ids == ["on_time", "late", "after"]
    alone = runner.invoke(app, ["evidence", "list", str(model), "--as-recorded"])
    assert alone.exit_code == EXIT_BAD_INPUT and "needs --as-of" in alone.stderr


def test_at_most_600_dates_are_replayed() -> None:
    start = dt.date(2000, 1, 31)
    weeks = allegiance.workflow.backtest.dates_between(
        start, start + dt.timedelta(weeks=599), "week"
    )
    assert len(weeks) == 600 and weeks[-1] - weeks[0] == dt.timedelta(weeks=599)
    with pytest.raises(ScoreError, match="601 dates"):
        allegiance.workflow.backtest.dates_between(start, start + dt.timedelta(weeks=600), "week")
    months = allegiance.workflow.backtest.dates_between(start, dt.date(2049, 12, 28))
    assert len(months) == 600 and months[1:3] == [dt.date(2000, 2, 28), dt.date(2000, 3, 28)]
    assert months[-1] == dt.date(2049, 12, 28)
    with pytest.raises(ScoreError, match="601 dates"):
        allegiance.workflow.backtest.dates_between(start, dt.date(2050, 1, 28))
    assert len(allegiance.workflow.backtest.dates_between(start, dt.date(2050, 1, 27))) == 600
