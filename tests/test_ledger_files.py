"""A ledger's file as it may be found: damaged, edited by hand, locked, read-only; and imports.

Every fault gives exit 2 with the ledger's path, what is wrong (the table,
row and column of a bad value) and a fix, and leaves the file as it was. An
import records what the ledger lacks: an export reads back into a new ledger,
and a file may retract what the ledger holds.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from allegiance.cli import EXIT_BAD_INPUT, app
from conftest import FIXTURES
from helpers_spec import MINIMAL, MINIMAL_EVIDENCE

runner = CliRunner()
NEW_ITEM = ["--kind", "no_event", "--id", "x1", "--date", "2020-01-01", "--source", "s",
            "--grade", "B2", "-f", "hazard=leave", "-f", "through=2020-01-31",
            "-f", "actor=splinter"]  # fmt: skip


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """The minimal model, its shipped evidence, and its ledger filled from it."""
    path = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, path)
    shutil.copy(MINIMAL_EVIDENCE, tmp_path / "minimal.evidence.yaml")
    assert runner.invoke(app, ["evidence", "list", str(path)]).exit_code == 0
    return path


def _ledger(model: Path) -> Path:
    return model.with_name("minimal.ledger.sqlite")


def _edit(model: Path, sql: str) -> bytes:
    conn = sqlite3.connect(_ledger(model))
    conn.execute(sql)
    conn.commit()
    conn.close()
    return _ledger(model).read_bytes()


def _refused(model: Path, args: list[str], *fragments: str) -> str:
    result = runner.invoke(app, args)
    said = " ".join(result.output.split())
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert "Traceback" not in result.output, result.output
    assert f"{_ledger(model)}:" in said and "Fix:" in said, said
    for fragment in fragments:
        assert fragment in said, said
    return said


@pytest.mark.parametrize(
    ("sql", "where", "what"),
    [
        ("UPDATE items SET fields = '{not json' WHERE seq = 2", "row seq=2, column fields", "JSON"),
        ("UPDATE items SET fields = '[1, 2]' WHERE seq = 3", "row seq=3, column fields", "object"),
        ("UPDATE items SET recorded_at = 'yesterday' WHERE seq = 3", "column recorded_at", "yest"),
        ("UPDATE items SET date = '2020-13-45' WHERE seq = 4", "row seq=4, column date", "month"),
    ],
    ids=["fields-not-json", "fields-not-object", "timestamp", "date"],
)
def test_a_bad_stored_value_is_named_by_row_and_column(
    model: Path, sql: str, where: str, what: str
) -> None:
    before = _edit(model, sql)
    for args in (["evidence", "list", str(model)], ["forecast", str(model)]):
        _refused(model, args, "table items", where, what, "changed outside this package")
    _refused(model, ["evidence", "add", str(model), *NEW_ITEM], where)
    assert _ledger(model).read_bytes() == before


def test_a_bad_value_in_the_forecast_history_is_named(model: Path, tmp_path: Path) -> None:
    from allegiance.ledger import Ledger
    from allegiance.spec import load_spec

    spec = load_spec(model)
    with Ledger(f"sqlite:///{_ledger(model)}", spec) as book:
        book.record_judgment("splinter_leaves_12m", 0.3, as_of=spec.analysis_date)
    _edit(model, "UPDATE forecasts SET diagnostics = 'oops' WHERE seq = 1")
    with Ledger(f"sqlite:///{_ledger(model)}", spec) as book:
        with pytest.raises(Exception, match="table forecasts, row seq=1, column diagnostics"):
            book.history("splinter_leaves_12m")


def test_a_missing_column_is_refused(model: Path) -> None:
    before = _edit(model, "ALTER TABLE items DROP COLUMN note")
    _refused(model, ["evidence", "list", str(model)], "tables are not as this package writes")
    assert _ledger(model).read_bytes() == before


def test_a_damaged_page_is_refused(model: Path) -> None:
    page = sqlite3.connect(_ledger(model)).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(_ledger(model).read_bytes())
    root = sqlite3.connect(_ledger(model)).execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'items'"
    )
    (number,) = root.fetchone()
    start = (number - 1) * page
    data[start : start + page] = b"\xff" * page  # the items table's first page
    _ledger(model).write_bytes(bytes(data))
    _refused(model, ["evidence", "list", str(model)], "the ledger file is damaged", "malformed")
    assert _ledger(model).read_bytes() == bytes(data)


def test_a_lock_held_too_long_is_explained(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("allegiance.ledger.connection.BUSY_TIMEOUT_S", 0.5)
    holder = sqlite3.connect(_ledger(model), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(5.0, holder.rollback)  # held 10x the patience
    release.start()
    began = time.monotonic()
    try:
        said = _refused(model, ["evidence", "add", str(model), *NEW_ITEM], "held the ledger's lock")
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
    assert time.monotonic() - began < 5.0
    assert "nothing was written" in said
    listed = runner.invoke(app, ["evidence", "list", str(model)])
    assert listed.exit_code == 0 and "x1" not in listed.output


def _read_only(model: Path) -> str:
    return f"sqlite:///file:{_ledger(model)}?mode=ro&uri=true"


def test_a_read_only_ledger_refuses_writes_and_still_forecasts(tmp_path: Path) -> None:
    model = tmp_path / "beta_binomial.yaml"
    shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", model)
    ledger = model.with_name("beta_binomial.ledger.sqlite")
    fast = ["--format", "json", "--draws", "500", "--tune", "300"]
    first = runner.invoke(app, ["forecast", str(model), *fast])
    assert first.exit_code == 0, first.output
    before = ledger.read_bytes()
    url = f"sqlite:///file:{ledger}?mode=ro&uri=true"
    item = [a.replace("actor=splinter", "actor=faction") for a in NEW_ITEM]
    assert runner.invoke(app, ["check", str(model)]).exit_code == 0
    added = runner.invoke(app, ["evidence", "add", str(model), "--ledger", url, *item])
    assert added.exit_code == EXIT_BAD_INPUT
    assert "cannot be written" in " ".join(added.output.split())
    again = runner.invoke(app, ["forecast", str(model), "--ledger", url, *fast])
    assert again.exit_code == 0, again.output
    shown = json.loads(again.stdout)
    assert shown["questions"] == json.loads(first.stdout)["questions"]
    warned = " ".join(again.stderr.split())
    assert "not recorded in the ledger's history" in warned and "cannot be written" in warned
    assert ledger.read_bytes() == before


# -- imports ------------------------------------------------------------------


def _export(model: Path, out: Path, *ledger: str) -> str:
    done = runner.invoke(app, ["evidence", "export", str(model), str(out), *ledger])
    assert done.exit_code == 0, done.output
    return out.read_text()


@pytest.mark.parametrize("suffix", [".yaml", ".csv"])
def test_an_export_imports_into_a_new_ledger_as_it_was(
    model: Path, tmp_path: Path, suffix: str
) -> None:
    assert runner.invoke(app, ["evidence", "add", str(model), *NEW_ITEM]).exit_code == 0
    retracted = runner.invoke(
        app, ["evidence", "retract", str(model), "deal_signed", "--source", "c", "--grade", "B2"]
    )
    assert retracted.exit_code == 0, retracted.output
    exported = _export(model, tmp_path / f"out{suffix}")
    fresh = ["--ledger", f"sqlite:///{tmp_path / 'new.sqlite'}"]
    done = runner.invoke(
        app, ["evidence", "import", str(model), str(tmp_path / f"out{suffix}"), *fresh]
    )
    assert done.exit_code == 0, done.output
    assert "imported 7 items" in done.output
    assert _export(model, tmp_path / f"back{suffix}", *fresh) == exported  # recorded times too
    again = runner.invoke(
        app, ["evidence", "import", str(model), str(tmp_path / f"out{suffix}"), *fresh]
    )
    assert again.exit_code == 0, again.output
    assert "imported 0 items" in again.output and "7 the ledger already held" in again.output
    assert _export(model, tmp_path / f"back{suffix}", *fresh) == exported


def test_a_new_ledger_starts_with_the_shipped_items_and_the_file(
    model: Path, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.yaml"
    batch.write_text(
        "schema_version: 1\nmodel: minimal\nitems:\n"
        "  - {id: x2, kind: no_event, date: 2020-01-01, source: s, grade: B2,\n"
        "     hazard: leave, actor: splinter, through: 2020-01-31}\n"
    )
    fresh = ["--ledger", f"sqlite:///{tmp_path / 'new.sqlite'}"]
    done = runner.invoke(app, ["evidence", "import", str(model), str(batch), *fresh])
    assert done.exit_code == 0, done.output
    assert "imported 1 items" in done.output and "started with 5 shipped items" in done.output
    listed = _export(model, tmp_path / "now.yaml", *fresh)
    assert "x2" in listed and "deal_signed" in listed


def test_a_file_may_retract_an_item_of_the_ledger(model: Path, tmp_path: Path) -> None:
    batch = tmp_path / "retraction.yaml"
    batch.write_text(
        "schema_version: 1\nmodel: minimal\nitems:\n"
        "  - {id: r1, kind: retraction, date: 2020-02-01, retracts: deal_signed,\n"
        "     source: correction, grade: B2}\n"
    )
    done = runner.invoke(app, ["evidence", "import", str(model), str(batch)])
    assert done.exit_code == 0, done.output
    shown = runner.invoke(app, ["evidence", "show", str(model), "deal_signed"])
    assert "retracted by: r1" in shown.output
    twice = tmp_path / "retraction_again.yaml"
    twice.write_text(batch.read_text().replace("id: r1", "id: r2"))
    refused = runner.invoke(app, ["evidence", "import", str(model), str(twice)])
    assert refused.exit_code == EXIT_BAD_INPUT
    said = " ".join(refused.output.split())
    assert (
        f"{twice}:" in said and "items.r2.retracts" in said and "already retracted by 'r1'" in said
    )


def test_an_id_the_ledger_holds_with_other_content_is_refused(model: Path, tmp_path: Path) -> None:
    exported = _export(model, tmp_path / "out.yaml")
    changed = tmp_path / "changed.yaml"
    changed.write_text(exported.replace("grade: B2", "grade: A1", 1))
    assert changed.read_text() != exported
    before = _ledger(model).read_bytes()
    refused = runner.invoke(app, ["evidence", "import", str(model), str(changed)])
    assert refused.exit_code == EXIT_BAD_INPUT, refused.output
    said = " ".join(refused.output.split())
    assert f"{changed}:" in said and ".id'" in said and "says something else" in said
    assert _ledger(model).read_bytes() == before
