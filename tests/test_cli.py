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
    # Its horizon (2022) is before today and no --as-of was given: the user is told.
    assert "no --as-of: 1 question(s)" in " ".join(first.stderr.split())
    second = runner.invoke(app, args)
    again = json.loads(second.stdout)
    assert "stored MCMC fit of exactly this evidence" in again["method_reason"]
    assert again["questions"] == doc["questions"]


def test_forecast_csv_has_one_row_per_question(model):
    result = runner.invoke(
        app, ["forecast", str(model), "--format", "csv", "--draws", "500", "--tune", "500"]
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["question"] for r in rows] == ["leaves_24m"]
    assert float(rows[0]["lower90"]) <= float(rows[0]["probability"])


def test_failed_diagnostics_are_loud(model):
    result = runner.invoke(
        app, ["forecast", str(model), "--draws", "20", "--tune", "20", "--chains", "2"]
    )
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


@pytest.fixture
def minimal(tmp_path):
    path = tmp_path / "minimal.yaml"
    shutil.copy(FIXTURES / "models" / "minimal.yaml", path)
    return path


def add(model, *args):
    base = ["evidence", "add", str(model), "--source", "test", "--grade", "B2"]
    return runner.invoke(app, [*base, *args])


def report(
    item_id: str, *, target: str = "deal", date: str = "2020-02-01", **strength: str
) -> list[str]:
    """Arguments of `evidence add` for a report in favour of ``target``."""
    ((key, value),) = strength.items()
    return ["--id", item_id, "--kind", "report", "--date", date,
            "-f", f"target={target}", "-f", "favours=true", "-f", f"{key}={value}"]  # fmt: skip


def test_ledger_workflow(minimal, tmp_path):
    fast = ["--draws", "500", "--tune", "300"]
    first = runner.invoke(app, ["forecast", str(minimal), "--format", "json", *fast])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["method"] == "mcmc"
    noted = [*report("r1", strength="moderately"), "--note", "[b]x[/b]"]
    assert add(minimal, *noted).exit_code == 0
    second = json.loads(
        runner.invoke(app, ["forecast", str(minimal), "--format", "json", *fast]).stdout
    )
    assert second["method"] == "reweighted"
    assert (
        second["questions"][0]["probability"]
        > json.loads(first.stdout)["questions"][0]["probability"]
    )
    # As of a date before the report, the report is left out: the first fit answers.
    early = json.loads(
        runner.invoke(
            app, ["forecast", str(minimal), "--format", "json", "--as-of", "2020-01-15", *fast]
        ).stdout
    )
    assert early["questions"] == json.loads(first.stdout)["questions"]
    assert early["provenance"]["as_of"] == "2020-01-15" and not early["provenance"]["as_recorded"]
    assert json.loads(first.stdout)["provenance"]["as_of"] is None
    assert "calendar months" in early["provenance"]["month_convention"]
    assert early["questions"][0]["covers"] == "2020-01 to 2020-12 (12 months)"
    rows = runner.invoke(app, ["history", str(minimal), "splinter_leaves_12m"])
    assert rows.exit_code == 0 and "History" in rows.stdout
    record = json.loads(
        runner.invoke(
            app, ["history", str(minimal), "splinter_leaves_12m", "--format", "json"]
        ).stdout
    )
    assert [r["fit_method"] for r in record] == ["mcmc", "reweighted", "mcmc"]
    assert [r["as_of"] for r in record] == [None, None, "2020-01-15"]
    assert record[1]["probability"] == second["questions"][0]["probability"]
    why = runner.invoke(app, ["explain", str(minimal), "splinter_leaves_12m"])
    assert why.exit_code == 0 and "r1" in why.stdout
    assert "base: " in why.stderr and ".nc" in why.stderr
    assert "[b]x[/b]" in why.stdout  # analyst text shown, not obeyed as markup
    exported = tmp_path / "now.yaml"
    runner.invoke(app, ["evidence", "export", str(minimal), str(exported)])
    from_file = runner.invoke(
        app, ["explain", str(minimal), "splinter_leaves_12m", "--evidence", str(exported)]
    )
    assert from_file.exit_code == 0 and "r1" in from_file.stdout
    # As recorded on a day before anything was recorded: the prior, and it says so.
    prior = runner.invoke(
        app,
        ["forecast", str(minimal), "--format", "json", "--as-of", "2020-01-15", "--as-recorded",
         *fast],
    )  # fmt: skip
    assert prior.exit_code == 0 and "no item was on record by 2020-01-15" in prior.stderr
    # Bad items are refused and leave the ledger as it was.
    before = runner.invoke(app, ["evidence", "export", str(minimal), str(tmp_path / "a.csv")])
    assert before.exit_code == 0
    for bad in (
        report("r2", likelihood_ratio="0"),
        report("r1", strength="weakly"),  # a duplicate id
        report("r3", target="nothing", strength="weakly"),
        report("r4", date="2031-02-01", strength="weakly"),  # recorded before it happened
    ):
        result = add(minimal, *bad)
        assert result.exit_code == EXIT_BAD_INPUT, bad
        assert "error:" in result.stderr
    refused = runner.invoke(
        app, ["evidence", "retract", str(minimal), "ghost", "--source", "s", "--grade", "B2"]
    )
    assert refused.exit_code == EXIT_BAD_INPUT and "ghost" in refused.stderr
    runner.invoke(app, ["evidence", "export", str(minimal), str(tmp_path / "b.csv")])
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    # Retract, then export and import into a fresh ledger: the same items come back.
    assert (
        runner.invoke(
            app, ["evidence", "retract", str(minimal), "r1", "--source", "s", "--grade", "A1"]
        ).exit_code
        == 0
    )
    listing = runner.invoke(app, ["evidence", "list", str(minimal)]).stdout
    assert "retracted" in listing
    out = tmp_path / "all.yaml"
    runner.invoke(app, ["evidence", "export", str(minimal), str(out)])
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert (
        runner.invoke(
            app, ["evidence", "import", str(minimal), str(out), "--ledger", other]
        ).exit_code
        == 0
    )
    again = tmp_path / "again.yaml"
    runner.invoke(app, ["evidence", "export", str(minimal), str(again), "--ledger", other])
    assert again.read_text() == out.read_text()


def test_stored_and_reweighted_forecasts_need_no_pymc_arviz_or_numba(model, tmp_path):
    """The command line's fast paths read a stored fit with numpy and h5netcdf only."""
    import subprocess
    import sys

    args = ["forecast", str(model), "--format", "json", "--draws", "500", "--tune", "500"]
    assert runner.invoke(app, args).exit_code == 0  # fits and stores
    heavy = tmp_path / "heavy.json"
    code = (
        "import json, sys\n"
        "from allegiance.cli import app\n"
        f"sys.argv = ['allegiance', *{args!r}]\n"
        "try:\n    app()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "names = ('pymc', 'arviz', 'numba', 'pytensor', 'nutpie', 'xarray')\n"
        f"open({str(heavy)!r}, 'w').write(json.dumps([m for m in names if m in sys.modules]))\n"
    )

    def run() -> dict:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert json.loads(heavy.read_text()) == []
        return json.loads(done.stdout)

    assert "stored MCMC fit of exactly this evidence" in run()["method_reason"]
    ok = add(model, "--id", "n1", "--kind", "no_event", "--date", "2020-06-01",
             "-f", "hazard=leave", "-f", "actor=faction", "-f", "through=2020-06-01")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert run()["method"] == "reweighted"


def test_resolve_then_forecasts_show_the_outcome(model):
    fast = ["--format", "json", "--draws", "500", "--tune", "500"]
    before = json.loads(runner.invoke(app, ["forecast", str(model), *fast]).stdout)
    assert before["questions"][0]["resolved"] == ""
    done = runner.invoke(
        app, ["resolve", str(model), "leaves_24m", "no", "--date", "2022-01-03", "--source", "UN"]
    )
    assert done.exit_code == 0, done.output
    after = json.loads(runner.invoke(app, ["forecast", str(model), *fast]).stdout)
    (q,) = after["questions"]
    assert (q["resolved"], q["resolved_on"], q["probability"]) == ("no", "2022-01-03", 0.0)
    assert after["method"] == "reweighted"  # the same likelihood: no refit for an outcome
    early = runner.invoke(app, ["forecast", str(model), "--as-of", "2021-12-31", *fast])
    assert json.loads(early.stdout)["questions"][0] == before["questions"][0]
    judged = runner.invoke(app, ["judge", str(model), "leaves_24m", "0.3", "--date", "2021-12-31"])
    assert judged.exit_code == 0, judged.output
    refused = runner.invoke(app, ["judge", str(model), "leaves_24m", "1.3"])
    assert refused.exit_code == EXIT_BAD_INPUT and "not in [0, 1]" in refused.stderr
    scored = runner.invoke(app, ["score", str(model)])
    assert scored.exit_code == 0, scored.output
    assert "prior only" in scored.stdout and "time only" in scored.stdout
    assert "analyst" in scored.stdout and "pooled" in scored.stdout
    assert "0.250" in scored.stdout  # the constant 0.5's Brier score
    listed = runner.invoke(app, ["resolutions", str(model)])
    assert listed.exit_code == 0 and "leaves_24m" in listed.stdout and "2022-01-03" in listed.stdout
    wrong = runner.invoke(
        app, ["resolve", str(model), "leaves_24m", "yes", "--date", "2021-03-01", "--source", "x"]
    )
    assert wrong.exit_code == EXIT_BAD_INPUT and "otherwise than item" in wrong.stderr


def test_backtest_command_writes_its_files(model, tmp_path):
    ok = runner.invoke(
        app, ["resolve", str(model), "leaves_24m", "no", "--date", "2022-01-03", "--source", "UN"]
    )
    assert ok.exit_code == 0, ok.output
    out = tmp_path / "bt"
    done = runner.invoke(
        app,
        ["backtest", str(model), "--from", "2020-02-01", "--to", "2020-04-01", "--out", str(out)],
    )
    assert done.exit_code == 0, done.output
    assert "3 scored" in " ".join(done.stdout.split())
    assert {p.name for p in out.iterdir()} >= {
        "backtest.csv",
        "backtest.json",
        "path_leaves_24m.png",
    }
    bad = runner.invoke(app, ["backtest", str(model), "--from", "2020-02-01", "--to", "x"])
    assert bad.exit_code == EXIT_BAD_INPUT


def test_backtest_replays_files_without_touching_the_ledger(model, tmp_path):
    record = tmp_path / "record.yaml"
    record.write_text(
        "schema_version: 1\nmodel: beta_binomial\nitems:\n"
        "  - {id: stayed, kind: resolution, date: 2022-01-03, question: leaves_24m,\n"
        "     outcome: no, source: UN, grade: B2, recorded_at: 2022-01-03T12:00:00Z}\n"
    )
    args = ["backtest", str(model), "--from", "2020-02-01", "--to", "2020-04-01"]
    done = runner.invoke(app, [*args, "--evidence", str(record), "--out", str(tmp_path / "bt")])
    assert done.exit_code == 0, done.output
    assert "3 scored" in " ".join(done.stdout.split())
    listed = runner.invoke(app, ["resolutions", str(model)])
    assert "unresolved" in listed.stdout and "2022-01-03" not in listed.stdout  # ledger untouched
    twice = runner.invoke(app, [*args, "--evidence", str(record), "--evidence", str(record)])
    assert twice.exit_code == EXIT_BAD_INPUT and "stayed" in twice.output


@pytest.mark.parametrize("value", ["value=[unclosed", "value=!!python/object:os.system x"])
def test_an_unreadable_field_value_is_refused(minimal, value):
    args = ["--id", "c1", "--kind", "condition", "--date", "2020-02-01", "-f", "condition=deal"]
    result = add(minimal, *args, "-f", value)
    assert result.exit_code == EXIT_BAD_INPUT and "cannot be read" in result.output
    listed = runner.invoke(app, ["evidence", "list", str(minimal)])
    assert "c1" not in listed.stdout  # nothing was recorded


def test_check_prints_the_months_each_question_covers(minimal):
    text = minimal.read_text()
    minimal.write_text(text.replace("horizon: 2021-01-01", "horizon: 2020-12-31", 1))
    result = runner.invoke(app, ["check", str(minimal)])
    assert result.exit_code == 0, result.output
    assert "calendar months from the analysis date's month" in result.stdout
    assert "2020-01 to 2020-11 (11 months)" in result.stdout
    assert "does not cover December 2020: date it 2021-01-01" in " ".join(result.stderr.split())
    assert "pin down their combined effect" not in result.stderr  # one condition per channel


def test_check_names_the_channels_that_two_conditions_move():
    """Counts there fix only the combined effect: the analyst is told which, and why."""
    from allegiance.spec import load_spec
    from helpers_spec import REFERENCE

    spec = load_spec(REFERENCE)
    result = runner.invoke(app, ["check", str(REFERENCE)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    named = 0
    for series, category in spec.channels:
        conditions = {
            e.condition
            for e in spec.effects
            if e.kind == "shift" and e.condition in spec.binary_conditions
            for t in e.targets
            if t.node == series and t.member in (None, category)
        }
        shared = f"{series}.{category} is moved by effects of"
        assert (shared in said) == (len(conditions) > 1), (series, category, conditions)
        named += len(conditions) > 1
        if len(conditions) > 1:
            line = said[said.index(shared) :].split(":")[0]
            assert all(c in line for c in conditions)
    assert named == 2  # defectors_to_isk.taliban and clashes.taliban_isk
