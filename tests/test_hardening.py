"""Hostile or careless input: a clean refusal naming the file, the key and the problem."""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from allegiance.cli import EXIT_BAD_INPUT, app
from allegiance.errors import EvidenceError, SpecError
from allegiance.evidence import dump_csv, read_items
from allegiance.spec import load_spec
from conftest import FIXTURES
from helpers_spec import MINIMAL, MINIMAL_EVIDENCE, edited_spec_error

runner = CliRunner()

HUGE = "1" + "0" * 400  # an integer no float can hold
PRIOR = "propensities.leave.baseline.prior"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("parent: parent}", "parent: [parent, x]}", "actors.faction.parent"),
        ("actors: [faction]", "actors: [[faction]]", "propensities.leave.actors[0]"),
        ("    actor: faction\n", "    actor: {faction: 1}\n", "questions.leaves_24m.actor"),
        ("    hazard: leave\n", "    hazard: [leave]\n", "questions.leaves_24m.hazard"),
        ("role: faction,", f"role: faction, fighters: {HUGE},", "actors.faction.fighters"),
        ("probability: 0.1,", f"probability: {HUGE},", f"{PRIOR}.probability"),
        ("range: [0.02, 0.25]", f"range: [0.02, {HUGE}]", f"{PRIOR}.range"),
        ("range: [0.02, 0.25]", "range: [0.02, .inf]", f"{PRIOR}.range"),
    ],
)  # fmt: skip
def test_a_malformed_model_is_refused_cleanly(tmp_path: Path, old: str, new: str, key: str) -> None:
    error = edited_spec_error(FIXTURES / "models" / "beta_binomial.yaml", old, new, tmp_path)
    assert error.key == key
    assert len(str(error)) < 600  # never the whole of a huge value


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ("kind: condition, condition: [deal], value: true", "items[0].condition"),
        ("kind: no_event, hazard: {leave: 1}, actor: splinter, through: 2020-03-01",
         "items[0].hazard"),
        ("kind: count, series: defectors, category: rank_and_file, month: 2019-10, "
         f"count: {HUGE}", "items[0].count"),
        (f"kind: report, target: deal, favours: true, likelihood_ratio: {HUGE}",
         "items[0].likelihood_ratio"),
        ("kind: condition, condition: deal, value: true, recorded_at: '20200302T000000'",
         "items[0].recorded_at"),
        ("kind: condition, condition: deal, value: true, recorded_at: '2020-W10-1T00:00'",
         "items[0].recorded_at"),
        ("kind: no_event, hazard: leave, actor: splinter, through: 20200601",
         "items[0].through"),
        ("kind: condition, condition: spoils, value: .inf", "items[0].value"),
    ],
)  # fmt: skip
def test_a_malformed_item_is_refused_cleanly(tmp_path: Path, fields: str, key: str) -> None:
    path = tmp_path / "ev.yaml"
    path.write_text(
        "schema_version: 1\nmodel: minimal\nitems:\n"
        f"  - {{id: x, date: 2020-03-01, source: s, grade: B2, {fields}}}\n"
    )
    with pytest.raises(EvidenceError) as info:
        read_items(path, load_spec(MINIMAL))
    assert info.value.key == key and len(str(info.value)) < 600


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [
        ("id: beta_binomial", "id: b" + "x" * 300, "id", "301 characters"),
        ("history_months: 0", "history_months: 1000000000000", "history_months", "more than"),
        ("horizon: 2022-01-01", "horizon: 9999-01-01", "questions.leaves_24m.horizon", "months"),
    ],
)
def test_sizes_the_engine_allocates_from_are_bounded(
    tmp_path: Path, old: str, new: str, key: str, fragment: str
) -> None:
    text = (FIXTURES / "models" / "beta_binomial.yaml").read_text()
    path = tmp_path / "big.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.key == key and fragment in info.value.problem


@pytest.mark.parametrize(
    "value",
    [
        "value=[unclosed",
        "value=!!python/object:os.system x",
        "value=" + "[" * 700 + "]" * 700,
        "value=&a [1]",
        "value=1" + "0" * 5000,
    ],
)
def test_an_unreadable_field_value_names_the_field(tmp_path: Path, value: str) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    args = ["evidence", "add", str(model), "--id", "c1", "--kind", "condition"]
    args += ["--date", "2020-02-01", "--source", "s", "--grade", "B2", "-f", "condition=deal"]
    result = runner.invoke(app, [*args, "-f", value])
    assert result.exit_code == EXIT_BAD_INPUT
    said = " ".join(result.output.split())
    assert "command line: at 'item.value'" in said and "Fix:" in said and len(said) < 600
    assert not (tmp_path / "minimal.ledger.sqlite").exists()  # refused before the ledger opened


def test_user_text_is_shown_not_obeyed_by_the_terminal(tmp_path: Path) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    note = "\x1b[31mred\x1b[0m [bold red]loud[/] \u202eevil"
    args = ["evidence", "add", str(model), "--id", "c1", "--kind", "condition"]
    args += ["--date", "2020-02-01", "--source", "[link]s", "--grade", "B2"]
    added = runner.invoke(app, [*args, "-f", "condition=deal", "-f", "value=true", "--note", note])
    assert added.exit_code == 0, added.output
    shown = runner.invoke(app, ["evidence", "show", str(model), "c1"])
    assert "\x1b" not in shown.stdout and "\u202e" not in shown.stdout
    assert "[bold red]loud[/]" in shown.stdout and "[link]s" in shown.stdout
    marked = tmp_path / "[bold]m\x1b[2J.yaml"
    shutil.copy(MINIMAL, marked)
    checked = runner.invoke(app, ["check", str(marked)])
    assert "[bold]m\\x1b[2J.yaml: valid" in checked.stdout
    bad = runner.invoke(app, ["evidence", "show", str(model), "\x1b[2J[bold]x"])
    assert bad.exit_code == EXIT_BAD_INPUT and "\x1b" not in bad.output


def test_a_package_hint_in_brackets_keeps_its_text() -> None:
    from allegiance.cli.shared import shown

    console = Console(file=io.StringIO(), width=200)
    console.print(shown("install allegiance[postgres] (psycopg)"))
    assert "allegiance[postgres]" in console.file.getvalue()  # type: ignore[attr-defined]


def test_csv_export_neutralises_formulas_and_reads_back_exactly(tmp_path: Path) -> None:
    spec = load_spec(MINIMAL)
    (first, *_) = read_items(MINIMAL_EVIDENCE, spec)
    notes = ["=1+1", "-3", "+x", "@SUM(A1)", "'quoted", "''x", "'=x", "plain", "a\tb"]
    items = [
        dataclasses.replace(first, id=f"i{n}", note=text, source='=HYPERLINK("x")')
        for n, text in enumerate(notes)
    ]
    items = [
        dataclasses.replace(i, kind="report", fields={"target": "deal", "favours": True,
                                                      "likelihood_ratio": 2.0})
        for i in items
    ]  # fmt: skip
    text = dump_csv(items)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["note"] for r in rows][:4] == ["'=1+1", "'-3", "'+x", "'@SUM(A1)"]
    assert all(r["source"].startswith("'=") for r in rows)
    path = tmp_path / "ev.csv"
    path.write_text("\ufeff" + text, encoding="utf-8")  # as a spreadsheet saves it
    assert read_items(path, spec) == items


def test_spreadsheet_text_is_undone_exactly() -> None:
    from allegiance.spreadsheet import from_spreadsheet_text, spreadsheet_text

    for text in ["=1", "-", "+", "@", "\tx", "\rx", "'", "''=", "x", ""]:
        assert from_spreadsheet_text(spreadsheet_text(text)) == text
        assert not spreadsheet_text(text).startswith(("=", "+", "-", "@", "\t", "\r"))


ADD = "import sys; from allegiance.cli import app; sys.argv[0] = 'allegiance'; app()"


@pytest.mark.slow  # processes started and killed: 10-30 s
def test_first_use_seeding_races_lose_no_items(tmp_path: Path) -> None:
    import subprocess
    import sys

    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    shutil.copy(MINIMAL_EVIDENCE, tmp_path / "minimal.evidence.yaml")
    shipped = read_items(MINIMAL_EVIDENCE, load_spec(model))
    adds = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                ADD,
                "evidence",
                "add",
                str(model),
                "--id",
                f"r{n}",
                "--kind",
                "report",
                "--date",
                "2020-02-01",
                "--source",
                "s",
                "--grade",
                "B2",
                "-f",
                "target=deal",
                "-f",
                "favours=true",
                "-f",
                "likelihood_ratio=1.5",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for n in range(8)
    ]
    said = [p.communicate() for p in adds]
    assert [p.returncode for p in adds] == [0] * 8, said
    from allegiance.ledger import Ledger, default_url

    spec = load_spec(model)
    with Ledger(default_url(spec), spec) as ledger:
        ids = [i.id for i in ledger.items()]
    assert sorted(ids) == sorted([*(i.id for i in shipped), *(f"r{n}" for n in range(8))])


def _add(model: Path, *extra: str) -> list[str]:
    args = ["evidence", "add", str(model), "--id", "c1", "--kind", "condition", "--source", "s"]
    return [*args, "-f", "condition=deal", "-f", "value=true", *extra]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (["--date", "2020-02-01", "--grade", "B2\n"], "item.grade"),
        (["--date", "2020-02-01", "--grade", " B2"], "item.grade"),
        (["--date", "2020-02-01", "--grade", "B2 "], "item.grade"),
        (["--date", "20200201", "--grade", "B2"], "item.date"),
        (["--date", "2020-W05-6", "--grade", "B2"], "item.date"),
    ],
)
def test_a_grade_or_date_not_written_exactly_is_refused(
    tmp_path: Path, extra: list[str], key: str
) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    result = runner.invoke(app, _add(model, *extra))
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    said = " ".join(result.output.split())
    assert f"command line: at '{key}'" in said and "Fix:" in said
    listed = runner.invoke(app, ["evidence", "list", str(model)])
    assert "c1" not in listed.stdout


def test_an_option_date_is_only_yyyy_mm_dd(tmp_path: Path) -> None:
    from allegiance.reading import iso_date

    assert iso_date("2020-01-01").isoformat() == "2020-01-01"
    for text in ["20200101", "2020-W01-3", "2020-001", "\uff12020-01-01", "2020-01-01 "]:
        with pytest.raises(ValueError):
            iso_date(text)
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    result = runner.invoke(app, ["evidence", "list", str(model), "--as-of", "20200101"])
    assert result.exit_code == EXIT_BAD_INPUT and "YYYY-MM-DD" in result.output


@pytest.mark.parametrize(
    ("pair", "key"), [("recorded_at=2019-01-01T00:00:00Z", "recorded_at"), ("id=c2", "id")]
)
def test_evidence_add_refuses_a_field_the_ledger_or_an_option_sets(
    tmp_path: Path, pair: str, key: str
) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    result = runner.invoke(app, _add(model, "--date", "2020-02-01", "--grade", "B2", "-f", pair))
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    said = " ".join(result.output.split())
    assert f"command line: at 'item.{key}'" in said and "Fix:" in said
    listed = runner.invoke(app, ["evidence", "list", str(model)])
    assert "c1" not in listed.stdout and "c2" not in listed.stdout


BACKDATED = (
    "schema_version: 1\nmodel: minimal\nitems:\n"
    "  - {id: late_news, kind: condition, date: 2019-12-20, condition: funding, value: false,\n"
    "     source: s, grade: B2, recorded_at: 2020-01-02T00:00:00Z}\n"
)


def test_an_import_cannot_backdate_the_ledger(tmp_path: Path) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    path = tmp_path / "late.yaml"
    path.write_text(BACKDATED)
    into_empty = runner.invoke(app, ["evidence", "import", str(model), str(path)])
    assert into_empty.exit_code == 0, into_empty.output  # an empty ledger takes its history

    shutil.copy(MINIMAL_EVIDENCE, tmp_path / "minimal.evidence.yaml")  # stamped now
    (tmp_path / "minimal.ledger.sqlite").unlink()
    listed = runner.invoke(app, ["evidence", "list", str(model)])
    assert listed.exit_code == 0 and "deal_signed" in listed.stdout
    refused = runner.invoke(app, ["evidence", "import", str(model), str(path)])
    assert refused.exit_code == EXIT_BAD_INPUT, refused.output
    said = " ".join(refused.output.split())
    assert f"{path}: at 'items[0].recorded_at'" in said and "Fix:" in said
    assert "late_news" not in runner.invoke(app, ["evidence", "list", str(model)]).stdout
    stamped = tmp_path / "stamped.yaml"
    stamped.write_text(BACKDATED.replace(", recorded_at: 2020-01-02T00:00:00Z", ""))
    later = runner.invoke(app, ["evidence", "import", str(model), str(stamped)])
    assert later.exit_code == 0, later.output


@pytest.mark.parametrize(
    "content",
    [b"hello, not a database\n", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, bytes(4096)],
    ids=["text", "png", "zeros"],
)
def test_a_file_that_is_not_a_ledger_is_refused_and_kept(tmp_path: Path, content: bytes) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    ledger = tmp_path / "minimal.ledger.sqlite"
    ledger.write_bytes(content)
    for args in (["evidence", "list", str(model)], ["forecast", str(model)]):
        result = runner.invoke(app, args)
        said = " ".join(result.output.split())
        assert result.exit_code == EXIT_BAD_INPUT, result.output
        assert f"{ledger}:" in said and "the ledger file is damaged" in said, said
        assert "Traceback" not in result.output and "Fix:" in said
    assert ledger.read_bytes() == content  # nothing written over it
