"""Scenario sweeps: each theatre's named scenarios from its own evidence, serial or on Dask."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from allegiance.cli import EXIT_BAD_INPUT, app
from allegiance.errors import SpecError
from allegiance.posterior import FitSettings
from allegiance.report.sweep import write_sweep
from allegiance.spec import load_spec
from allegiance.workflow import evidence_in_force
from allegiance.workflow.fanout import Fanout
from allegiance.workflow.scenarios import run_scenario
from allegiance.workflow.sweep import Sweep, sweep
from helpers_spec import MINIMAL, MINIMAL_EVIDENCE, MODELS

SMALL = FitSettings(draws=1000, tune=1000, chains=2, seed=11)
DAY = dt.date(2019, 12, 31)


def _theatres(folder: Path) -> Path:
    """Two theatres of the minimal model: ``quiet`` without evidence, ``busy`` with it.

    Beside them, a model without scenarios and a record file, neither swept.
    """
    folder.mkdir(parents=True, exist_ok=True)
    text = MINIMAL.read_text(encoding="utf-8")
    for name in ("quiet", "busy"):
        (folder / f"{name}.yaml").write_text(text.replace("id: minimal", f"id: {name}", 1))
    shipped = MINIMAL_EVIDENCE.read_text(encoding="utf-8").replace("model: minimal", "model: busy")
    (folder / "busy.evidence.yaml").write_text(shipped, encoding="utf-8")
    shutil.copy(MODELS / "beta_binomial.yaml", folder / "beta_binomial.yaml")
    return folder


def _probabilities(result: Sweep) -> list[tuple[str, str, str, float | None, float | None]]:
    return [(r.theatre, r.scenario, r.question, r.stands, r.under) for r in result.rows()]


def test_each_theatre_is_swept_from_its_own_evidence_as_one_scenario_at_a_time(
    tmp_path: Path,
) -> None:
    folder = _theatres(tmp_path / "models")
    result = sweep([folder], SMALL, as_of=DAY)
    assert [t.theatre for t in result.theatres] == ["busy", "quiet"]  # the folder's order
    assert result.skipped == ["beta_binomial: no scenarios"]
    assert result.trustworthy
    for theatre in result.theatres:
        spec = load_spec(folder / f"{theatre.theatre}.yaml")
        assert list(theatre.scenarios) == list(spec.scenarios) == ["no_deal", "funded"]
        evidence = evidence_in_force(spec, as_of=DAY).evidence
        for name, s in spec.scenarios.items():  # the scenario command's path, one by one
            base, alone = run_scenario(spec, evidence, s.setting, mode=s.mode, settings=SMALL)
            assert [q.probability for q in theatre.base.questions] == [
                q.probability for q in base.questions
            ]
            assert [q.probability for q in theatre.scenarios[name].questions] == [
                q.probability for q in alone.questions
            ]
    rows = {(r.theatre, r.scenario, r.question): r for r in result.rows()}
    assert len(rows) == 2 * 2 * 2  # theatres x scenarios x questions
    leave = "splinter_leaves_12m"
    # The busy theatre's evidence (a signed deal among it) moves its forecasts: had the
    # theatres' evidence been mixed up, both would show the same numbers.
    assert rows["busy", "no_deal", leave].stands != rows["quiet", "no_deal", leave].stands
    for r in rows.values():
        assert r.as_of == DAY.isoformat() and r.trustworthy
        if r.stands is not None and r.under is not None:
            assert r.change == pytest.approx((r.under - r.stands) * 100)


def test_only_the_scenarios_asked_for_are_run(tmp_path: Path) -> None:
    folder = _theatres(tmp_path / "models")
    result = sweep([folder / "quiet.yaml"], SMALL, names=["funded"], as_of=DAY)
    assert [list(t.scenarios) for t in result.theatres] == [["funded"]]
    assert {r.setting for r in result.rows()} == {"funding=true"}
    assert {r.mode for r in result.rows()} == {"observe"}


def test_a_sweep_refuses_before_any_fit(tmp_path: Path) -> None:
    folder = _theatres(tmp_path / "models")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(SpecError, match="no theatre declares 'peace'") as caught:
        sweep([folder], SMALL, names=["no_deal", "peace"])
    assert "funded, no_deal" in str(caught.value)
    with pytest.raises(SpecError, match="no theatre has a scenario"):
        sweep([folder / "beta_binomial.yaml"], SMALL)
    (folder / "broken.yaml").write_text("id: broken\nschema_version: 1\n", encoding="utf-8")
    with pytest.raises(SpecError, match="broken.yaml"):
        sweep([folder], SMALL)
    after = sorted(p.name for p in folder.iterdir())
    assert after == sorted([*before, "broken.yaml"])  # no ledger, no stored fit


def test_the_sweep_command_prints_and_writes_every_row(tmp_path: Path) -> None:
    folder = _theatres(tmp_path / "models")
    out = tmp_path / "out" / "sweep.csv"
    args = ["sweep", str(folder / "busy.yaml"), str(folder / "beta_binomial.yaml"), "--as-of",
            DAY.isoformat(), "--out", str(out), "--draws", "1000", "--tune", "1000", "--seed", "11",
            "--chains", "2"]  # fmt: skip
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "left out beta_binomial: no scenarios" in done.stderr
    with out.open(encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    expected = sweep([folder / "busy.yaml"], SMALL, as_of=DAY)  # the stored fit serves again
    assert [(r["scenario"], r["question"]) for r in written] == [
        (r.scenario, r.question) for r in expected.rows()
    ]
    for row, r in zip(written, expected.rows(), strict=True):
        assert float(row["under_scenario"]) == r.under and row["checks"] == "passed"
        shown = f"{r.under:.0%}"
        assert shown in done.stdout
    both = CliRunner().invoke(app, ["sweep", str(folder), "--as-of", "2020-01-01",
                                    "--at-analysis"])  # fmt: skip
    assert both.exit_code == EXIT_BAD_INPUT and "not both" in both.stderr


@pytest.mark.slow  # a local cluster, and each theatre fitted twice (serial, then on Dask)
def test_a_sweep_on_two_workers_gives_the_serial_numbers(tmp_path: Path) -> None:
    results, tables = [], []
    for name, fanout in (("serial", None), ("dask", Fanout(workers=2))):
        folder = _theatres(tmp_path / name / "models")  # each run fits afresh
        result = sweep([folder], SMALL, at_analysis=True, fanout=fanout)
        results.append(result)
        tables.append(write_sweep(result, tmp_path / name / "sweep.csv").read_bytes())
    assert _probabilities(results[0]) == _probabilities(results[1])
    assert tables[0] == tables[1]
    assert {r.as_of for r in results[0].rows()} == {"2020-01-01"}  # the analysis date
