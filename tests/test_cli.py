"""The command line as a user runs it: output formats, stored posteriors, errors, exit codes."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from typer.testing import CliRunner

from allegiance.cli import EXIT_BAD_INPUT, EXIT_UNTRUSTWORTHY, app
from conftest import FIXTURES

runner = CliRunner()


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "beta_binomial.yaml"
    shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", path)
    return path


def test_forecast_json_then_reuses_the_stored_posterior(model):
    args = ["forecast", str(model), "--format", "json", "--draws", "500", "--tune", "500"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    (q,) = doc["questions"]
    assert q["id"] == "leaves_24m"
    assert 0.0 < q["lower"] <= q["probability"] <= q["upper"] < 1.0
    assert doc["trustworthy"] is True
    assert doc["provenance"]["model_sha256"] and doc["provenance"]["versions"]["pymc"]
    assert "posterior saved" in first.stderr
    second = runner.invoke(app, args)
    assert "reusing the stored posterior" in second.stderr
    assert json.loads(second.stdout)["questions"] == doc["questions"]


def test_forecast_csv_has_one_row_per_question(model):
    result = runner.invoke(app, ["forecast", str(model), "--format", "csv", "--draws", "500",
                                 "--tune", "500"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["question"] for r in rows] == ["leaves_24m"]
    assert float(rows[0]["lower90"]) <= float(rows[0]["probability"])


def test_failed_diagnostics_are_loud(model):
    result = runner.invoke(app, ["forecast", str(model), "--draws", "20", "--tune", "20",
                                 "--chains", "2"])
    assert result.exit_code == EXIT_UNTRUSTWORTHY
    assert "DIAGNOSTICS FAILED" in result.stdout
    assert "Do not use these numbers" in result.stderr


def test_bad_model_file_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (FIXTURES / "models" / "beta_binomial.yaml").read_text()
    bad.write_text(text.replace("probability: 0.1,", "probability: 1.3,"))
    result = runner.invoke(app, ["forecast", str(bad)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "bad.yaml" in result.stderr
    assert "propensities.leave.baseline.prior.probability" in result.stderr


def test_bad_evidence_file_names_item_and_field(model, tmp_path):
    ev = tmp_path / "ev.yaml"
    ev.write_text(
        "schema_version: 1\nmodel: beta_binomial\nitems:\n"
        "  - {id: a, kind: no_event, date: 2020-03-01, source: s, grade: B2,\n"
        "     hazard: leave, actor: nobody, through: 2020-03-01}\n"
    )
    result = runner.invoke(app, ["check", str(model), "--evidence", str(ev)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "items[0].actor" in result.stderr and "nobody" in result.stderr


def test_priors_shows_what_was_chosen(model):
    result = runner.invoke(app, ["priors", str(model)])
    assert result.exit_code == 0
    assert "Beta(alpha=" in result.stdout and "analyst judgment" in result.stdout
