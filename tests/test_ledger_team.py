"""A team's ledger: theatres sharing one database, authors, concurrent analysts on
PostgreSQL, and a theatre's record moved from an SQLite file into a shared database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, insert, text
from typer.testing import CliRunner

from allegiance.cli import EXIT_BAD_INPUT, app
from allegiance.errors import EvidenceError, LedgerError
from allegiance.evidence import EvidenceSet, Item
from allegiance.ledger import MIGRATIONS, OWNER, SCHEMA, Ledger
from allegiance.ledger.authors import UNKNOWN, author_of, os_user
from allegiance.ledger.migrate import migrate
from allegiance.ledger.schema import _items_v1
from allegiance.spec import ModelSpec, load_spec
from test_ledger import (  # noqa: F401 - fixtures
    MINIMAL,
    NOW,
    forecast,
    pg_url,
    postgres,
    report,
    run_workers,
    sqlite_url,
    url,
)

runner = CliRunner()
UTC = dt.UTC


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(MINIMAL)


def other_theatre(folder: Path) -> Path:
    """A second theatre: the minimal model under another id."""
    path = folder / "other.yaml"
    path.write_text(MINIMAL.read_text().replace("id: minimal", "id: other_theatre", 1))
    return path


def populate(ledger: Ledger, spec: ModelSpec) -> None:
    """Items by two analysts, a retraction, forecasts and a report."""
    ledger.append([report("r1"), report("r2", "2020-02-03")], now=NOW)
    ledger.append([Item("r3", "report", dt.date(2020, 2, 4), "wire", "C3",
                        {"target": "funding", "favours": True, "likelihood_ratio": 2.0},
                        author="bea")], now=NOW + dt.timedelta(hours=1))  # fmt: skip
    ledger.retract("r2", source="desk", grade="A1", author="carl", now=NOW + dt.timedelta(hours=2))
    for n, p in enumerate((0.2, 0.35)):
        ledger.record_forecast(forecast(spec, p), as_of=dt.date(2020, 3, 1), as_recorded=n == 1,
                               fit_method="mcmc", created_at=NOW + dt.timedelta(n))  # fmt: skip
    ledger.record_report(forecast(spec, 0.35), ledger.evidence(), created_at=NOW)


def everything(ledger: Ledger, spec: ModelSpec) -> dict[str, object]:
    report_ = ledger.last_report()
    return {
        "items": ledger.items(),
        "history": {q: ledger.history(q) for q in spec.questions},
        "evidence": ledger.evidence().sha256,
        "report": report_,
    }


# -- theatres and authors -----------------------------------------------------


def test_the_evidence_hash_leaves_out_who_recorded_an_item(spec: ModelSpec) -> None:
    """The same evidence recorded by two analysts is the same evidence: one fit serves both."""
    a = report("r1")
    signed = Item(a.id, a.kind, a.date, a.source, a.grade, a.fields, author="alice")
    other = Item(a.id, a.kind, a.date, a.source, a.grade, a.fields, author="bob")
    assert EvidenceSet.of([signed]).sha256 == EvidenceSet.of([other]).sha256
    assert EvidenceSet.of([signed]).sha256 == EvidenceSet.of([a]).sha256
    changed = Item(a.id, a.kind, a.date, a.source, "A1", a.fields, author="alice")
    assert EvidenceSet.of([changed]).sha256 != EvidenceSet.of([signed]).sha256


def test_an_author_is_the_name_given_or_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "dana")
    assert os_user() == "dana" and author_of(None) == "dana" and author_of("  ") == "dana"
    assert author_of(" eve ") == "eve"

    def nobody() -> str:
        raise OSError("no user")

    monkeypatch.setattr("getpass.getuser", nobody)
    assert os_user() == UNKNOWN


def test_a_version_4_ledger_is_migrated_in_place_to_its_theatre(
    url: str,  # noqa: F811
    spec: ModelSpec,
    tmp_path: Path,
) -> None:
    """Its items go to the model that claimed it; ids then repeat freely in another theatre."""
    engine = create_engine(url)
    with engine.begin() as conn:
        SCHEMA.create(conn)
        for version in range(1, 5):
            MIGRATIONS[version](conn)
            conn.execute(insert(SCHEMA).values(version=version, applied_at=NOW))
        conn.execute(insert(OWNER).values(model_id="minimal", claimed_at=NOW))
        conn.execute(insert(_items_v1(MetaData())), [
            {"id": "r1", "kind": "report", "date": dt.date(2020, 2, 1), "source": "s",
             "grade": "B2", "note": "", "author": "ann", "recorded_at": NOW,
             "fields": '{"favours": true, "likelihood_ratio": 2.0, "target": "lobby.splinter"}'},
        ])  # fmt: skip
    with Ledger(url, spec) as ledger:
        assert ledger.schema_version == 5 and ledger.theatres() == ["minimal"]
        (only,) = ledger.items()
        assert (only.id, only.author, only.recorded_at) == ("r1", "ann", NOW)
        with pytest.raises(EvidenceError, match="duplicate id 'r1'"):
            ledger.append([report("r1")], now=NOW)
        ledger.append([report("r2")], now=NOW)  # new rows number on after the old ones
    with Ledger(url, load_spec(other_theatre(tmp_path))) as other:
        other.append([report("r1")], now=NOW)  # the same id, in another theatre
        assert [i.author for i in other.items()] == [""]
    with engine.connect() as conn:
        rows = sorted(conn.execute(text("SELECT model_id, id, author FROM items")).all())
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("minimal", "r1", "ann"),
        ("minimal", "r2", ""),
        ("other_theatre", "r1", ""),
    ]


def test_the_command_line_records_and_shows_authors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "fatima")
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    add = ["evidence", "add", str(model), "--kind", "report", "--date", "2020-02-01",
           "--source", "s", "--grade", "B2", "-f", "target=lobby.splinter", "-f", "favours=true",
           "-f", "likelihood_ratio=2"]  # fmt: skip
    assert runner.invoke(app, [*add, "--id", "mine"]).exit_code == 0
    assert runner.invoke(app, [*add, "--id", "theirs", "--author", "gus"]).exit_code == 0
    retract = ["evidence", "retract", str(model), "theirs", "--source", "s", "--grade", "A1"]
    assert runner.invoke(app, [*retract, "--author", "hana"]).exit_code == 0
    resolve = ["resolve", str(model), "splinter_leaves_12m", "no", "--date", "2021-01-02"]
    assert runner.invoke(app, [*resolve, "--source", "desk"]).exit_code == 0
    judge = ["judge", str(model), "splinter_leaves_12m", "0.3", "--date", "2021-01-01"]
    judged = runner.invoke(app, judge)
    assert judged.exit_code == 0 and "recorded fatima's 30%" in judged.stdout, judged.output
    with Ledger(f"sqlite:///{tmp_path / 'minimal.ledger.sqlite'}", load_spec(model)) as book:
        authors = {i.id: i.author for i in book.items()}
        judges = [h["diagnostics"] for h in book.history("splinter_leaves_12m")]
    assert judges == [{"author": "fatima"}]
    assert authors["mine"] == "fatima" and authors["theirs"] == "gus"
    assert [a for i, a in authors.items() if i.startswith("resolve_")] == ["fatima"]
    assert [a for i, a in authors.items() if i.startswith("retract_theirs")] == ["hana"]
    listed = runner.invoke(app, ["evidence", "list", str(model)], env={"COLUMNS": "80"})
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    (mine,) = [line for line in lines if line.startswith("│mine ")]
    assert "fatima" in mine and "yes" in mine
    (theirs,) = [line for line in lines if line.startswith("│theirs ")]
    assert "gus" in theirs and theirs.rstrip("│ ").endswith("retracted")
    assert lines[lines.index(theirs) + 1].rstrip("│ ").endswith("by hana")  # folded at 80 columns
    shown = runner.invoke(app, ["evidence", "show", str(model), "theirs"])
    assert shown.exit_code == 0, shown.output
    assert "author: gus" in shown.stdout
    assert re.search(r"^retracted by: retract_theirs_\w+ \(hana\)$", shown.stdout, re.M)


# -- concurrent analysts on PostgreSQL -------------------------------------------


@pytest.mark.slow  # 4 processes: about 10 s
def test_two_theatres_in_one_postgresql_database_lose_nothing(
    pg_url: str,  # noqa: F811
    spec: ModelSpec,
    tmp_path: Path,
) -> None:
    """Four analysts, two per theatre, append at once into one database, with the same ids."""
    other = other_theatre(tmp_path)
    models = [MINIMAL, MINIMAL, other, other]
    results = run_workers(pg_url, ["w0", "w1", "w0", "w1"], 20, models=models)
    reports = []
    for code, stdout, stderr in results:
        assert code == 0, stderr
        reports.append(json.loads(stdout))
        assert reports[-1]["results"] == ["ok"] * 20
    assert max(r["began"] for r in reports) < min(r["ended"] for r in reports)  # they overlapped
    expected = {f"w{w}_{n}" for w in range(2) for n in range(20)}
    for model in (spec, load_spec(other)):
        with Ledger(pg_url, model) as ledger:
            ids = [i.id for i in ledger.items()]
            assert set(ledger.theatres()) == {"minimal", "other_theatre"}
        assert len(ids) == 40 and set(ids) == expected
        for w in range(2):
            assert [i for i in ids if i.startswith(f"w{w}_")] == [f"w{w}_{n}" for n in range(20)]


# -- a theatre's record moved ---------------------------------------------------


@pytest.mark.parametrize("into", ["sqlite", "postgresql"])
def test_a_sqlite_ledger_moves_into_a_shared_database_with_nothing_lost(
    into: str, spec: ModelSpec, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source = f"sqlite:///{tmp_path / 'minimal.ledger.sqlite'}"
    dest = f"sqlite:///{tmp_path / 'team.sqlite'}"
    if into == "postgresql":
        dest = str(request.getfixturevalue("pg_url"))
    with Ledger(source, spec) as ledger:
        populate(ledger, spec)
        before = everything(ledger, spec)
    with Ledger(dest, load_spec(other_theatre(tmp_path))) as neighbour:  # another theatre's r1
        neighbour.append([report("r1", note="theirs")], now=NOW)
    source_bytes = (tmp_path / "minimal.ledger.sqlite").read_bytes()
    moved = migrate(source, dest, spec)
    assert (moved.items, moved.forecasts, moved.reports, moved.already) == (4, 4, 1, 0)
    assert (tmp_path / "minimal.ledger.sqlite").read_bytes() == source_bytes  # not changed
    with Ledger(dest, spec) as shared:
        after = everything(shared, spec)
    assert after == before
    items = after["items"]
    assert isinstance(items, list)
    assert [i.author for i in items] == ["", "", "bea", "carl"]
    again = migrate(source, dest, spec)
    assert again.nothing_to_do and again.already == 4
    with Ledger(dest, spec) as shared:
        assert everything(shared, spec) == before


def test_items_appended_as_recorded_keep_their_times_order_and_authors(
    url: str,  # noqa: F811
    spec: ModelSpec,
) -> None:
    """What a move and an import rely on: the record as kept elsewhere, once, or nothing of it."""
    hour = dt.timedelta(hours=1)
    kept = [
        dataclasses.replace(report("r2", "2020-02-03"), author="bea", recorded_at=NOW - 3 * hour),
        dataclasses.replace(report("r1"), author="carl", recorded_at=NOW - 2 * hour),
        report("r3"),  # no time of its own: stamped now
    ]
    with Ledger(url, spec) as ledger:
        done = ledger.append_recorded(kept, now=NOW)
        recorded = ledger.items()
        assert [(i.id, i.author, i.recorded_at) for i in recorded] == [
            ("r2", "bea", NOW - 3 * hour), ("r1", "carl", NOW - 2 * hour), ("r3", "", NOW)
        ]  # fmt: skip
        assert done.recorded == recorded and done.already == 0
        again = ledger.append_recorded(kept, now=NOW + hour)
        assert again.recorded == [] and again.already == 3
        other = dataclasses.replace(report("r1"), grade="A1")
        ran: list[object] = []
        with pytest.raises(EvidenceError, match="says something else") as info:
            ledger.append_recorded([report("r4"), other], now=NOW + hour, then=ran.append)
        assert info.value.key == "items[1].id" and ran == []
        backdated = dataclasses.replace(report("r5"), recorded_at=NOW - hour)
        with pytest.raises(EvidenceError, match="before the latest item") as info:
            ledger.append_recorded([backdated], now=NOW + hour)
        assert info.value.key == "items[0].recorded_at"

        def refuse(conn: object) -> None:
            raise LedgerError("elsewhere", "the other rows could not be written.")

        with pytest.raises(LedgerError, match="other rows"):  # one transaction with the items
            ledger.append_recorded([backdated], now=NOW + hour, backdated=True, then=refuse)
        assert ledger.items() == recorded
        taken = ledger.append_recorded([backdated], now=NOW + hour, backdated=True)
        assert [i.recorded_at for i in taken.recorded] == [NOW - hour]


def test_a_move_onto_a_conflicting_item_changes_nothing(spec: ModelSpec, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'minimal.ledger.sqlite'}"
    dest = f"sqlite:///{tmp_path / 'team.sqlite'}"
    with Ledger(source, spec) as ledger:
        populate(ledger, spec)
    with Ledger(dest, spec) as shared:
        shared.append([report("r3", note="another r3")], now=NOW)
        before = everything(shared, spec)
    with pytest.raises(EvidenceError, match="already holds an item 'r3'") as info:
        migrate(source, dest, spec)
    assert info.value.key == "items.r3"
    with Ledger(dest, spec) as shared:
        assert everything(shared, spec) == before
    with pytest.raises(LedgerError, match="no such ledger file"):
        migrate(str(tmp_path / "missing.sqlite"), dest, spec)
    assert not (tmp_path / "missing.sqlite").exists()


def test_the_migrate_command_moves_a_ledger_beside_its_model(tmp_path: Path) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    spec = load_spec(model)
    with Ledger(f"sqlite:///{tmp_path / 'minimal.ledger.sqlite'}", spec) as ledger:
        populate(ledger, spec)
    source, dest = str(tmp_path / "minimal.ledger.sqlite"), f"sqlite:///{tmp_path / 'team.db'}"
    first = runner.invoke(app, ["ledger", "migrate", source, dest])
    assert first.exit_code == 0, first.output
    assert "4 items, 4 forecast rows, 1 reports" in first.stdout
    second = runner.invoke(app, ["ledger", "migrate", source, dest, "--theatre", str(model)])
    assert second.exit_code == 0 and "nothing to do" in second.stdout, second.output
    elsewhere = tmp_path / "elsewhere.sqlite"
    shutil.copy(tmp_path / "minimal.ledger.sqlite", elsewhere)
    unnamed = runner.invoke(app, ["ledger", "migrate", str(elsewhere), dest])
    assert unnamed.exit_code == EXIT_BAD_INPUT and "--theatre" in unnamed.output
    wrong = runner.invoke(
        app, ["ledger", "migrate", str(elsewhere), dest, "--theatre", str(other_theatre(tmp_path))]
    )
    assert wrong.exit_code == EXIT_BAD_INPUT, wrong.output
    assert "holds the evidence of 'minimal', not of 'other_theatre'" in " ".join(
        wrong.output.split()
    )
