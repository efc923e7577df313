"""`check` warns of a question that would be costly, and of calls the record contradicts."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from allegiance.cli import app
from conftest import FIXTURES

runner = CliRunner()


def _model(tmp_path: Path, threshold: int) -> Path:
    text = (FIXTURES / "models" / "switches.yaml").read_text()
    path = tmp_path / "switches.yaml"
    path.write_text(text.replace("threshold: 50\n", f"threshold: {threshold}\n"))
    return path


def _evidence(tmp_path: Path, *items: str) -> Path:
    path = tmp_path / "ev.yaml"
    path.write_text("schema_version: 1\nmodel: switches\nitems:\n" + "".join(items))
    return path


def test_check_warns_of_a_count_past_the_exact_sum(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(_model(tmp_path, 50_000))])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "questions.clashes_50_9m: a sum of at least 50,000 on clashes.parent_rival" in said
    assert "moved by switches" in said and "approximated" in said
    quiet = runner.invoke(app, ["check", str(_model(tmp_path, 50))])
    assert "clashes_50_9m" not in quiet.stderr


def test_check_flags_a_yes_whose_event_is_on_record_after_the_horizon(tmp_path: Path) -> None:
    model = _model(tmp_path, 50)  # splinter_leaves_12m: horizon 1 January 2021
    called = (
        "  - {id: said_left, kind: resolution, date: 2020-11-20, source: s, grade: B2,"
        " question: splinter_leaves_12m, outcome: yes}\n"
    )
    late = (
        "  - {id: split, kind: event, date: 2021-01-10, source: wire, grade: A1,"
        " hazard: leave, actor: splinter, month: 2021-01}\n"
    )
    result = runner.invoke(
        app, ["check", str(model), "--evidence", str(_evidence(tmp_path, called, late))]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "items.said_left resolves splinter_leaves_12m yes, but item 'split'" in said
    assert "2021-01-10" in said and "makes it no" in said
    alone = runner.invoke(
        app, ["check", str(model), "--evidence", str(_evidence(tmp_path, called))]
    )
    assert "said_left" not in alone.stderr  # nothing on record says otherwise
    # The reverse: a no while a departure is on record by the horizon.
    denied = called.replace("2020-11-20", "2021-01-05").replace("outcome: yes", "outcome: no")
    early = late.replace("2021-01-10", "2020-06-10").replace("2021-01}", "2020-06}")
    result = runner.invoke(
        app, ["check", str(model), "--evidence", str(_evidence(tmp_path, denied, early))]
    )
    assert "items.said_left resolves splinter_leaves_12m no, but item 'split'" in " ".join(
        result.stderr.split()
    )
