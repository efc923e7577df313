"""The evidence ledger: schema and migrations, append-only validation, round-trips,
forecast history, concurrent writers (real processes), and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import glob
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from allegiance.errors import AllegianceError, EvidenceError, LedgerError
from allegiance.evidence import EVIDENCE_KINDS, Item, in_force, load_evidence
from allegiance.forecast import Forecast, QuestionForecast
from allegiance.ledger import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Ledger,
    default_url,
)
from allegiance.posterior import Diagnostics
from allegiance.spec import ModelSpec, load_spec
from allegiance.words import estimative_word
from helpers import item

TESTS = Path(__file__).resolve().parent
MINIMAL = TESTS / "fixtures" / "models" / "minimal.yaml"
MINIMAL_EVIDENCE = TESTS / "fixtures" / "evidence" / "minimal.yaml"
WORKER = TESTS / "ledger_worker.py"
UTC = dt.UTC
NOW = dt.datetime(2021, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


# -- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(MINIMAL)


def _unavailable(reason: str) -> NoReturn:
    """Skip a PostgreSQL test, or fail it where ALLEGIANCE_REQUIRE_POSTGRES=1 (CI)."""
    if os.environ.get("ALLEGIANCE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (ALLEGIANCE_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL cluster on a unix socket in a temp dir, for the session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'allegiance[postgres]')")
    bindir = _postgres_bindir()
    if bindir is None:
        _unavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) under "
            "/usr/lib/postgresql/*/bin or on PATH; apt-get install postgresql"
        )
    # The server refuses to run as root: run it as an unprivileged user then.
    user = None
    if os.geteuid() == 0:
        user = next((u for u in ("postgres", "nobody") if _uid(u) is not None), None)
        if user is None:
            _unavailable("running as root and no unprivileged user to run PostgreSQL as")
    root = Path(tempfile.mkdtemp(prefix="alg-pg-"))  # short: unix socket paths are limited
    if user is not None:
        os.chown(root, _uid(user) or 0, -1)
    data = root / "data"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, user=user, capture_output=True, text=True, timeout=30, check=False
        )

    started = False
    try:
        init = run(
            str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "ledger",
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        if init.returncode != 0:
            _unavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        options = f"-c listen_addresses='' -k {root} -c fsync=off -c full_page_writes=off"
        start = run(
            str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
            "-l", str(root / "log"), "-w", "-t", "20", "start",
        )  # fmt: skip
        if start.returncode != 0:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            _unavailable(f"PostgreSQL did not start: {start.stderr.strip()} {log[-500:]}")
        started = True
        yield {"host": str(root), "user": "ledger"}
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _postgres_bindir() -> Path | None:
    def version(d: str) -> int:
        part = Path(d).parent.name
        return int(part) if part.isdigit() else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for d in candidates:
        if all((Path(d) / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return Path(d)
    return None


def _uid(user: str) -> int | None:
    import pwd

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


_DATABASES = iter(range(1, 10_000))


@pytest.fixture
def pg_url(postgres: dict[str, str]) -> str:
    """A new, empty database on the throwaway cluster."""
    import psycopg

    name = f"ledger_{next(_DATABASES)}"
    with psycopg.connect(
        host=postgres["host"], user=postgres["user"], dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://{postgres['user']}@/{name}?host={postgres['host']}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """The URL of a new ledger, on each backend."""
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def ledger(url: str, spec: ModelSpec) -> Iterator[Ledger]:
    with Ledger(url, spec) as opened:
        yield opened


# -- builders -----------------------------------------------------------------


def every_kind() -> list[Item]:
    """One valid item of every kind (and every faction event) for the minimal model."""
    return [
        item("deal_yes", "condition", "2019-12-20", condition="deal", value=True),
        item("spoils_level", "condition", "2019-12-22", condition="spoils", value=0.7),
        item("count_oct", "count", "2019-10-31", series="defectors", category="rank_and_file",
             month="2019-10", count=12),
        item("still_in", "no_event", "2020-03-15", hazard="leave", actor="splinter",
             through="2020-03-15"),
        item("left_june", "event", "2020-06-30", hazard="leave", actor="splinter",
             month="2020-06"),
        item("funding_report", "report", "2020-01-05", target="funding", favours=True,
             likelihood_ratio=3),
        item("lobby_report", "report", "2020-01-06", target="lobby.splinter", favours=False,
             strength="moderately"),
        item("split_june", "faction_event", "2020-06-30", event="public_split",
             actor="splinter", month="2020-06"),
        item("appointed", "faction_event", "2020-01-10", event="appointment",
             actor="splinter", condition="spoils", value=0.7),
        item("partial_nov", "faction_event", "2019-11-30", event="partial_defection",
             actor="splinter", series="defectors", category="rank_and_file",
             month="2019-11", count=3),
        item("clash_dec", "faction_event", "2019-12-31", event="clash", actor="splinter",
             series="defectors", category="rank_and_file", month="2019-12", count=2),
        item("drop_lobby", "retraction", "2020-02-01", retracts="lobby_report"),
        item("lobbying", "outcome", "2020-02-02", target="lobby.splinter", value=True),
        item("split_resolves", "resolution", "2020-06-30", question="splinter_leaves_12m",
             outcome=True),
    ]  # fmt: skip


def report(item_id: str, when: str = "2020-02-01", **fields: Any) -> Item:
    body = {"target": "lobby.splinter", "favours": True, "likelihood_ratio": 2.0, **fields}
    return item(item_id, "report", when, **body)


def assert_refused(
    ledger: Ledger, items: list[Item], key: str, *words: str, **kw: Any
) -> EvidenceError:
    """Append must raise an EvidenceError at ``key``, mentioning ``words``, and store nothing."""
    before = ledger.items()
    with pytest.raises(EvidenceError) as info:
        ledger.append(items, **kw)
    assert info.value.key == key, str(info.value)
    for word in words:
        assert word in str(info.value), str(info.value)
    assert ledger.items() == before
    return info.value


# -- location and schema -------------------------------------------------------


def test_default_url_is_an_sqlite_file_beside_the_model(tmp_path: Path) -> None:
    reference = load_spec(TESTS.parent / "models" / "afghanistan_2020.yaml")
    assert default_url(reference).endswith("/models/afghanistan_2020.ledger.sqlite")
    assert default_url(reference).startswith("sqlite:////")
    model = tmp_path / "mine.yaml"
    shutil.copy(MINIMAL, model)
    local = load_spec(model)
    with Ledger(default_url(local), local) as ledger:
        ledger.append([report("r1")], now=NOW)
    assert (tmp_path / "mine.ledger.sqlite").is_file()
    with Ledger(default_url(local), local) as again:
        assert [i.id for i in again.items()] == ["r1"]


def test_a_new_ledger_has_the_current_schema(sqlite_url: str, spec: ModelSpec) -> None:
    assert SCHEMA_VERSION == 5 and sorted(MIGRATIONS) == [1, 2, 3, 4, 5]
    with Ledger(sqlite_url, spec) as ledger:
        assert ledger.schema_version == 5
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    conn.close()
    assert {"schema_version", "items", "forecasts", "ledger_model", "reports"} <= tables
    assert versions == [1, 2, 3, 4, 5]
    with Ledger(sqlite_url, spec) as reopened:  # opening again migrates nothing
        assert reopened.schema_version == 5


V1_SCHEMA = """
CREATE TABLE schema_version (
    version INTEGER NOT NULL PRIMARY KEY,
    applied_at DATETIME NOT NULL
);
CREATE TABLE items (
    seq INTEGER NOT NULL PRIMARY KEY,
    id VARCHAR(200) NOT NULL UNIQUE,
    kind VARCHAR(40) NOT NULL,
    date DATE NOT NULL,
    source TEXT NOT NULL,
    grade VARCHAR(2) NOT NULL,
    note TEXT NOT NULL,
    author TEXT NOT NULL,
    recorded_at DATETIME NOT NULL,
    fields TEXT NOT NULL
);
INSERT INTO schema_version VALUES (1, '2020-01-01 00:00:00.000000');
INSERT INTO items (id, kind, date, source, grade, note, author, recorded_at, fields) VALUES
    ('deal_yes', 'condition', '2019-12-20', 'press release', 'B2', '', 'an analyst',
     '2020-01-02 09:30:00.250000', '{"condition": "deal", "value": true}'),
    ('defectors_oct', 'count', '2019-10-31', 'open reporting', 'C3', 'a trickle', '',
     '2020-01-03 10:00:00.000000',
     '{"category": "rank_and_file", "count": 12, "month": "2019-10", "series": "defectors"}');
"""


def test_a_version_1_ledger_is_migrated_and_keeps_its_items(
    tmp_path: Path, spec: ModelSpec
) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.close()
    with Ledger(f"sqlite:///{path}", spec) as ledger:
        assert ledger.schema_version == 5
        assert ledger.items() == [
            Item("deal_yes", "condition", dt.date(2019, 12, 20), "press release", "B2",
                 {"condition": "deal", "value": True}, author="an analyst",
                 recorded_at=dt.datetime(2020, 1, 2, 9, 30, 0, 250000, tzinfo=UTC)),
            Item("defectors_oct", "count", dt.date(2019, 10, 31), "open reporting", "C3",
                 {"series": "defectors", "category": "rank_and_file", "month": "2019-10",
                  "count": 12}, note="a trickle",
                 recorded_at=dt.datetime(2020, 1, 3, 10, tzinfo=UTC)),
        ]  # fmt: skip
        # the new table works, and new items follow the old ones, checked against them
        ledger.record_forecast(forecast(spec, 0.3), as_of=None, as_recorded=False, fit_method="m")
        assert len(ledger.history("splinter_leaves_12m")) == 1
        no = item("deal_no", "condition", "2020-01-05", condition="deal", value=False)
        assert_refused(ledger, [no], "items.deal_no", "contradicts", "deal_yes")
        ledger.append([report("r1")], now=NOW)
        assert [i.id for i in ledger.items()] == ["deal_yes", "defectors_oct", "r1"]
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    columns = [r[1] for r in conn.execute("PRAGMA table_info(forecasts)")]
    owners = [r[0] for r in conn.execute("SELECT model_id FROM ledger_model")]
    conn.close()
    assert versions == [1, 2, 3, 4, 5]
    assert "evidence_sha256" in columns and "fit_method" in columns
    assert owners == [spec.id]  # an older ledger goes to the first model that opens it


def test_a_newer_ledger_is_refused_and_left_untouched(sqlite_url: str, spec: ModelSpec) -> None:
    with Ledger(sqlite_url, spec) as ledger:
        ledger.append([report("r1")], now=NOW)
    path = sqlite_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    with conn:
        stamp = "2030-01-01 00:00:00.000000"
        conn.execute(f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION + 1}, '{stamp}')")
    conn.close()
    before = Path(path).read_bytes()
    newer = f"schema version {SCHEMA_VERSION + 1}, newer than the version {SCHEMA_VERSION}"
    with pytest.raises(LedgerError, match=newer) as info:
        Ledger(sqlite_url, spec)
    assert isinstance(info.value, AllegianceError)
    assert "upgrade allegiance" in str(info.value)
    assert Path(path).read_bytes() == before


def test_a_database_with_ledger_tables_but_no_version_is_refused(
    tmp_path: Path, spec: ModelSpec
) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (x INTEGER)")
    conn.close()
    with pytest.raises(LedgerError, match="no schema_version table"):
        Ledger(f"sqlite:///{path}", spec)


def test_an_unreachable_ledger_is_a_ledger_error(tmp_path: Path, spec: ModelSpec) -> None:
    with pytest.raises(LedgerError, match="cannot use the ledger"):
        Ledger(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite'}", spec)
    with pytest.raises(LedgerError, match="not a database URL"):
        Ledger("not a url", spec)
    with pytest.raises(LedgerError, match="unusable database URL"):
        Ledger("postgresql+nosuchdriver://someone@/db", spec)
    if importlib.util.find_spec("MySQLdb") is None:  # a backend whose driver is missing
        with pytest.raises(LedgerError, match="driver 'MySQLdb' is not installed") as info:
            Ledger("mysql://someone:secret@localhost/db", spec)
        assert "secret" not in str(info.value)  # the password is not shown


# -- round trip ---------------------------------------------------------------


def test_every_kind_round_trips(ledger: Ledger, spec: ModelSpec, url: str) -> None:
    written = ledger.append(every_kind(), now=NOW)
    assert [i.id for i in written] == [i.id for i in every_kind()]
    assert all(i.recorded_at == NOW for i in written)
    with Ledger(url, spec) as fresh:  # a new engine: nothing comes from memory
        back = fresh.items()
    assert back == written
    for got in back:
        assert got.recorded_at is not None and got.recorded_at.utcoffset() == dt.timedelta(0)
        assert got.recorded_at.tzinfo == UTC and got.recorded_at.microsecond == 123456
        assert type(got.date) is dt.date
    by_id = {i.id: i for i in back}
    assert by_id["deal_yes"].fields["value"] is True
    assert type(by_id["spoils_level"].fields["value"]) is float
    assert type(by_id["count_oct"].fields["count"]) is int
    assert type(by_id["partial_nov"].fields["count"]) is int
    assert type(by_id["funding_report"].fields["likelihood_ratio"]) is float
    assert by_id["funding_report"].fields["likelihood_ratio"] == 3.0
    assert by_id["split_june"].fields["hazard"] == "leave"  # derived on parse, kept
    # A strength item needs a model with a stock: tests/test_stocks.py round-trips it.
    assert {i.kind for i in back} == set(EVIDENCE_KINDS) - {"strength"}
    assert ledger.get("clash_dec") == by_id["clash_dec"]
    assert ledger.get("nothing_here") is None


def test_an_item_with_its_own_recording_time_reads_back_identical(ledger: Ledger) -> None:
    stamp = dt.datetime(2021, 1, 1, 17, 30, 5, 42, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    original = Item(
        "exact", "condition", dt.date(2020, 1, 1), "a source", "A1",
        {"condition": "spoils", "value": 1}, note="a note", author="me", recorded_at=stamp,
    )  # fmt: skip
    (written,) = ledger.append([original], now=NOW)
    (back,) = ledger.items()
    assert back == original == written
    assert back.recorded_at is not None and back.recorded_at.tzinfo == UTC
    assert back.recorded_at.hour == 12  # 17:30 at +05:00
    assert type(back.fields["value"]) is int  # a whole number stays one


def test_a_file_of_evidence_round_trips(ledger: Ledger, spec: ModelSpec) -> None:
    evidence = load_evidence(MINIMAL_EVIDENCE, spec)
    written = ledger.append(evidence.items, now=NOW)
    assert ledger.items() == written
    stripped = [(i.id, i.kind, i.date, i.source, i.grade, dict(i.fields), i.note, i.author)
                for i in written]  # fmt: skip
    assert stripped == [
        (i.id, i.kind, i.date, i.source, i.grade, dict(i.fields), i.note, i.author)
        for i in evidence.items
    ]


def test_recorded_at_defaults_to_the_current_time_in_utc(ledger: Ledger) -> None:
    before = dt.datetime.now(UTC)
    (written,) = ledger.append([report("r1")])
    after = dt.datetime.now(UTC)
    assert written.recorded_at is not None
    assert before <= written.recorded_at <= after
    (late,) = ledger.append([report("r2")], now=dt.datetime(2030, 1, 1, 8))  # naive: UTC
    assert late.recorded_at == dt.datetime(2030, 1, 1, 8, tzinfo=UTC)
    assert [i.id for i in ledger.items()] == ["r1", "r2"]


# -- refusals -----------------------------------------------------------------


def test_malformed_items_are_refused(ledger: Ledger) -> None:
    ledger.append([report("r0")], now=NOW)
    assert_refused(ledger, [report("r1"), Item("r2", "report", dt.date(2020, 2, 1), "", "B2",
            {"target": "lobby.splinter", "favours": True, "strength": "weakly"})],
            "items[1].source", "non-empty text")  # fmt: skip
    bad_grade = Item(
        "r1",
        "report",
        dt.date(2020, 2, 1),
        "s",
        "Z9",
        {"target": "funding", "favours": True, "strength": "weakly"},
    )
    assert_refused(ledger, [bad_grade], "items[0].grade", "Admiralty")
    assert_refused(ledger, [item("r1", "gossip", "2020-02-01")], "items[0].kind", "gossip")
    assert_refused(ledger, [item("1bad", "report", "2020-02-01", target="funding", favours=True,
                          strength="weakly")], "items[0].id", "not a valid id")  # fmt: skip
    assert_refused(ledger, [report("r1", colour="red")], "items[0].colour", "unknown key")
    assert_refused(ledger, [item("r1", "report", "2020-02-01", target="funding", favours=True)],
            "items[0]", "exactly one of")  # fmt: skip
    # items built in code are checked like items read from a file
    assert_refused(ledger, [item("c1", "condition", "2020-02-01", condition="deal", value="yes")],
            "items[0].value", "yes/no")  # fmt: skip
    assert_refused(ledger, [item("k1", "count", "2019-10-31", series="defectors",
                          category="rank_and_file", month="2019-10", count=2.5)],
            "items[0].count", "whole number")  # fmt: skip
    assert_refused(ledger, [Item("d1", "report", "2020-02-01", "s", "B2",  # type: ignore[arg-type]
                          {"target": "funding", "favours": True, "strength": "weakly"})],
            "items[0]", "malformed item")  # fmt: skip
    assert_refused(ledger, ["not an item"], "items[0]", "expected an evidence Item")  # type: ignore[list-item]
    assert [i.id for i in ledger.items()] == ["r0"]


def test_an_unknown_target_is_refused(ledger: Ledger) -> None:
    assert_refused(ledger, [report("r1", target="ceasefire")], "items[0].target", "unknown target")
    assert_refused(ledger, [report("r1", target="lobby.nobody")], "items[0].target", "no member")
    assert_refused(ledger, [item("c1", "condition", "2020-02-01", condition="rain", value=True)],
            "items[0].condition", "unknown condition")  # fmt: skip
    assert_refused(ledger, [item("e1", "event", "2020-02-01", hazard="leave", actor="parent_group",
                          month="2020-02")], "items[0].actor", "not at risk")  # fmt: skip


def test_an_event_after_the_recording_time_is_refused(ledger: Ledger) -> None:
    assert_refused(ledger, [report("r1", when="2021-06-02")], "items[0].date", "after the item was"
            " recorded (2021-06-01)", now=NOW)  # fmt: skip
    ledger.append([report("r1", when="2021-06-01")], now=NOW)  # the same day is fine
    late = Item(
        "r2",
        "report",
        dt.date(2020, 3, 1),
        "s",
        "B2",
        {"target": "funding", "favours": True, "strength": "weakly"},
        recorded_at=dt.datetime(2020, 2, 1, tzinfo=UTC),
    )
    assert_refused(ledger, [late], "items[0].date", "after the item was recorded", now=NOW)
    future = Item(
        "r3",
        "report",
        dt.date(2030, 3, 1),
        "s",
        "B2",
        {"target": "funding", "favours": True, "strength": "weakly"},
        recorded_at=dt.datetime(2030, 3, 1, tzinfo=UTC),
    )
    assert_refused(ledger, [future], "items[0].recorded_at", "after the recording time", now=NOW)


@pytest.mark.parametrize("ratio", [0, 0.0, -2.0, float("nan"), float("inf"), True])
def test_a_likelihood_ratio_not_above_zero_is_refused(ledger: Ledger, ratio: float) -> None:
    assert_refused(ledger, [report("r1"), report("r2", likelihood_ratio=ratio)],
            "items[1].likelihood_ratio", "finite number > 0", now=NOW)  # fmt: skip


def test_a_duplicate_id_is_refused(ledger: Ledger) -> None:
    assert_refused(ledger, [report("r1"), report("r2"), report("r1")], "items[2].id",
            "duplicate id 'r1'", "items[0]", now=NOW)  # fmt: skip
    ledger.append([report("r1")], now=NOW)
    assert_refused(ledger, [report("r2"), report("r1", when="2020-03-01")], "items[1].id",
            "duplicate id 'r1'", "already holds", now=NOW)  # fmt: skip
    # a retracted id stays taken: the record is never rewritten
    ledger.retract("r1", source="s", grade="B2", now=NOW)
    assert_refused(ledger, [report("r1")], "items[0].id", "duplicate id", now=NOW)


def test_a_retraction_of_an_unknown_id_is_refused(ledger: Ledger) -> None:
    ledger.append([report("r1")], now=NOW)
    assert_refused(ledger, [item("x1", "retraction", "2020-03-01", retracts="r9")],
            "items.x1.retracts", "unknown item 'r9'", now=NOW)  # fmt: skip
    with pytest.raises(EvidenceError, match="unknown item 'r9'"):
        ledger.retract("r9", source="s", grade="B2", now=NOW)
    retraction = ledger.retract("r1", source="s", grade="B2", now=NOW)
    assert_refused(ledger, [item("x2", "retraction", "2020-03-01", retracts=retraction.id)],
            "items.x2.retracts", "cannot be retracted", now=NOW)  # fmt: skip
    assert_refused(ledger, [item("x3", "retraction", "2020-03-01", retracts="r1")],
            "items.x3.retracts", "already retracted", now=NOW)  # fmt: skip
    # within one batch: an item and its retraction together are fine
    ledger.append([report("r2"), item("x4", "retraction", "2020-03-01", retracts="r2")], now=NOW)
    assert [i.id for i in ledger.evidence().items] == []


def test_a_contradiction_with_the_ledger_is_refused_until_retracted(ledger: Ledger) -> None:
    yes = item("deal_yes", "condition", "2020-01-10", condition="deal", value=True)
    no = item("deal_no", "condition", "2020-02-10", condition="deal", value=False)
    ledger.append([yes], now=NOW)
    assert_refused(
        ledger, [report("r1"), no], "items.deal_no", "contradicts item 'deal_yes'", now=NOW
    )
    total = item(
        "oct_total",
        "count",
        "2019-10-31",
        series="defectors",
        category="rank_and_file",
        month="2019-10",
        count=12,
    )
    ledger.append([total], now=NOW)
    clash = item(
        "oct_clash",
        "faction_event",
        "2019-10-20",
        event="clash",
        actor="splinter",
        series="defectors",
        category="rank_and_file",
        month="2019-10",
        count=2,
    )
    assert_refused(ledger, [clash], "items.oct_clash", "monthly total", now=NOW)
    # the correction: retract the old item, then the new one is accepted
    ledger.retract("deal_yes", source="correction", grade="A1", now=NOW)
    ledger.append([no], now=NOW)
    assert ledger.evidence().items[-1].fields["value"] is False


def test_theatres_share_a_ledger_and_see_only_their_own_items(
    url: str, spec: ModelSpec, tmp_path: Path
) -> None:
    """Another model opening the ledger claims a theatre of its own; ids repeat across them."""
    with Ledger(url, spec) as ledger:
        ledger.append([report("r1")], now=NOW)
        before = ledger.items()
    other = tmp_path / "other.yaml"
    other.write_text(MINIMAL.read_text().replace("id: minimal", "id: other_theatre", 1))
    with Ledger(url, load_spec(other)) as second:
        assert second.items() == [] and second.get("r1") is None
        assert second.theatres() == ["minimal", "other_theatre"]
        second.append([report("r1", note="the other theatre's own r1")], now=NOW)
        assert [i.note for i in second.items()] == ["the other theatre's own r1"]
    with Ledger(url, spec) as again:
        assert again.items() == before


def test_an_item_the_changed_model_no_longer_knows_is_named_and_can_be_retracted(
    url: str, spec: ModelSpec, tmp_path: Path
) -> None:
    with Ledger(url, spec) as ledger:
        ledger.append(
            [item("deal_yes", "condition", "2020-01-10", condition="deal", value=True)], now=NOW
        )
    renamed = tmp_path / "minimal.yaml"
    renamed.write_text(MINIMAL.read_text().replace("deal", "accord"))
    changed = load_spec(renamed)
    with Ledger(url, changed) as ledger:
        error = assert_refused(ledger, [report("r1")], "items.deal_yes.condition", now=NOW)
        assert "the recorded item 'deal_yes' no longer fits the model" in str(error)
        assert "unknown condition 'deal'" in str(error) and "retract the item" in str(error)
        with pytest.raises(EvidenceError, match="no longer fits"):
            ledger.evidence()
        ledger.retract("deal_yes", source="model change", grade="A1", now=NOW)
        ledger.append([item("accord_yes", "condition", "2020-01-10", condition="accord",
                            value=True)], now=NOW)  # fmt: skip
        assert [i.id for i in ledger.evidence().items] == ["accord_yes"]


def test_a_batch_is_one_transaction(ledger: Ledger) -> None:
    ledger.append([report("r0")], now=NOW)
    good = [report(f"r{n}") for n in range(1, 6)]
    bad = report("r6", likelihood_ratio=-1.0)
    assert_refused(ledger, [*good, bad], "items[5].likelihood_ratio", now=NOW)
    assert [i.id for i in ledger.items()] == ["r0"]
    assert ledger.get("r1") is None
    written = ledger.append(good, now=NOW)
    assert ledger.items()[1:] == written
    assert ledger.append([], now=NOW) == []


def test_an_error_names_the_ledger(sqlite_url: str, spec: ModelSpec) -> None:
    with Ledger(sqlite_url, spec) as ledger:
        error = assert_refused(ledger, [report("r1", target="x")], "items[0].target", now=NOW)
    assert error.path == sqlite_url.removeprefix("sqlite:///")
    assert str(error).startswith(f"{error.path}: at 'items[0].target': unknown target")
    assert "Fix:" in str(error)


# -- retraction and evidence views --------------------------------------------


def test_retract_appends_a_retraction_and_edits_nothing(ledger: Ledger) -> None:
    (r1,) = ledger.append([report("r1", note="first")], now=NOW)
    later = NOW + dt.timedelta(days=3)
    retraction = ledger.retract("r1", source="the agency", grade="A2", author="me",
                                note="misread", now=later)  # fmt: skip
    assert retraction.kind == "retraction" and retraction.fields == {"retracts": "r1"}
    assert retraction.id.startswith("retract_r1_") and retraction.id != "r1"
    assert retraction.date == later.date() and retraction.recorded_at == later
    assert (retraction.source, retraction.grade, retraction.author, retraction.note) == (
        "the agency", "A2", "me", "misread")  # fmt: skip
    assert ledger.items() == [r1, retraction]  # the item is still there, unchanged
    assert ledger.get("r1") == r1
    assert ledger.evidence().items == ()
    ledger.append([report("r2")], now=later)
    other = ledger.retract("r2", source="s", grade="B2", date=dt.date(2021, 6, 2), now=later)
    assert other.date == dt.date(2021, 6, 2) and other.id != retraction.id


def test_evidence_as_of_and_as_recorded(ledger: Ledger) -> None:
    day = lambda d: dt.datetime(2020, 3, d, 9, tzinfo=UTC)  # noqa: E731
    ledger.append([report("early", when="2020-01-10")], now=day(1))
    ledger.append([report("late", when="2020-02-20")], now=day(10))
    ledger.append([report("backdated", when="2020-01-15")], now=day(20))
    ledger.retract("early", source="s", grade="B2", now=day(25))

    def ids(**kw: Any) -> list[str]:
        return [i.id for i in ledger.evidence(**kw).items]

    assert ids() == ["late", "backdated"]
    assert ids(as_of=dt.date(2020, 2, 1)) == ["backdated"]  # retraction applies to the past
    assert ids(as_of=dt.date(2020, 3, 5), as_recorded=True) == ["early"]
    assert ids(as_of=dt.date(2020, 3, 15), as_recorded=True) == ["early", "late"]
    assert ids(as_of=dt.date(2020, 3, 22), as_recorded=True) == ["early", "late", "backdated"]
    assert ids(as_of=dt.date(2020, 3, 26), as_recorded=True) == ["late", "backdated"]
    whole = ledger.evidence()
    assert list(whole.items) == in_force(ledger.items())
    assert (
        len(whole.sha256) == 64
        and whole.sha256 != ledger.evidence(as_of=dt.date(2020, 2, 1)).sha256
    )


# -- forecast history ----------------------------------------------------------


def forecast(spec: ModelSpec, p: float, *, ok: bool = True, evidence: str = "e" * 64) -> Forecast:
    diagnostics = Diagnostics(
        1.004 if ok else 1.2, 1970.5, 1500.25, 0 if ok else 3, worst="log_ratio[0]",
        problems=[] if ok else ["max R-hat 1.2 > 1.01", "3 divergences"],
    )  # fmt: skip
    questions = [
        QuestionForecast(q.id, q.text, q.horizon.isoformat(), p + k / 10, p + k / 10 - 0.05,
                         p + k / 10 + 0.125, estimative_word(p + k / 10))
        for k, q in enumerate(spec.questions.values())
    ]  # fmt: skip
    return Forecast(
        spec.id,
        questions,
        diagnostics,
        provenance={"model_sha256": spec.sha256, "evidence_sha256": evidence},
    )


def test_forecast_history_round_trips_oldest_first(ledger: Ledger, spec: ModelSpec) -> None:
    second = forecast(spec, 0.31, ok=False, evidence="b" * 64)
    first = forecast(spec, 0.2)
    t1 = dt.datetime(2021, 1, 5, 10, tzinfo=UTC)
    t2 = dt.datetime(2021, 2, 5, 10, 0, 0, 777, tzinfo=UTC)
    # recorded out of order: history sorts by when the forecast was made
    ledger.record_forecast(second, as_of=dt.date(2020, 6, 1), as_recorded=True,
                           fit_method="reweighted", created_at=t2)  # fmt: skip
    ledger.record_forecast(first, as_of=None, as_recorded=False, fit_method="mcmc", created_at=t1)
    history = ledger.history("splinter_leaves_12m")
    assert history == [
        {
            "model_id": "minimal", "question_id": "splinter_leaves_12m", "horizon": "2021-01-01",
            "probability": 0.2, "lower": 0.2 - 0.05, "upper": 0.2 + 0.125,
            "word": estimative_word(0.2), "as_of": None, "as_recorded": False,
            "model_sha256": spec.sha256, "evidence_sha256": "e" * 64, "fit_method": "mcmc",
            "diagnostics": first.diagnostics.to_dict(), "trustworthy": True, "created_at": t1,
        },
        {
            "model_id": "minimal", "question_id": "splinter_leaves_12m", "horizon": "2021-01-01",
            "probability": 0.31, "lower": 0.31 - 0.05, "upper": 0.31 + 0.125,
            "word": estimative_word(0.31), "as_of": dt.date(2020, 6, 1), "as_recorded": True,
            "model_sha256": spec.sha256, "evidence_sha256": "b" * 64,
            "fit_method": "reweighted", "diagnostics": second.diagnostics.to_dict(),
            "trustworthy": False, "created_at": t2,
        },
    ]  # fmt: skip
    assert history[1]["diagnostics"]["problems"] == ["max R-hat 1.2 > 1.01", "3 divergences"]
    assert history[1]["diagnostics"]["ok"] is False
    assert all(type(h["as_recorded"]) is bool and type(h["trustworthy"]) is bool for h in history)
    assert all(h["created_at"].tzinfo == UTC for h in history)
    other = ledger.history("defections_double_6m")
    assert [h["probability"] for h in other] == [0.2 + 0.1, 0.31 + 0.1]
    assert ledger.history("no_such_question") == []


def test_record_forecast_stamps_now_and_refuses_what_does_not_belong(
    ledger: Ledger, spec: ModelSpec
) -> None:
    before = dt.datetime.now(UTC)
    ledger.record_forecast(forecast(spec, 0.5), as_of=None, as_recorded=False, fit_method="mcmc")
    (row,) = ledger.history("splinter_leaves_12m")
    assert before <= row["created_at"] <= dt.datetime.now(UTC)
    alien = forecast(spec, 0.5)
    alien.model_id = "another_model"
    with pytest.raises(LedgerError, match="of model 'another_model'"):
        ledger.record_forecast(alien, as_of=None, as_recorded=False, fit_method="mcmc")
    unhashed = forecast(spec, 0.5)
    del unhashed.provenance["evidence_sha256"]
    with pytest.raises(LedgerError, match="lacks evidence_sha256"):
        ledger.record_forecast(unhashed, as_of=None, as_recorded=False, fit_method="mcmc")
    with pytest.raises(LedgerError, match="fit_method"):
        ledger.record_forecast(forecast(spec, 0.5), as_of=None, as_recorded=False, fit_method="")
    assert len(ledger.history("splinter_leaves_12m")) == 1


# -- several processes ---------------------------------------------------------


def run_workers(
    url: str,
    prefixes: list[str],
    count: int,
    round_s: float = 0.0,
    models: list[Path] | None = None,
) -> list[tuple[int, str, str]]:
    """Run one worker process per prefix (of ``models``' theatres, each its own), started
    together; return (exit code, stdout, stderr)."""
    with tempfile.TemporaryDirectory() as barrier:
        procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), url, str(model), prefix, str(count), barrier,
                 "--round", str(round_s)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for prefix, model in zip(prefixes, models or [MINIMAL] * len(prefixes), strict=True)
        ]  # fmt: skip
        deadline = time.monotonic() + 60
        while len(list(Path(barrier).glob("ready.*"))) < len(procs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                break  # a worker died or hangs: its exit code and stderr tell
            time.sleep(0.01)
        # every worker has imported everything: they open the ledger at the same moment
        go = Path(barrier) / "go.tmp"
        go.write_text(str(time.time() + 0.2))
        go.rename(Path(barrier) / "go")
        out = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=120)
            out.append((proc.returncode, stdout, stderr))
    return out


def test_concurrent_processes_lose_nothing(url: str, spec: ModelSpec) -> None:
    """4 processes x 25 single-item batches, all opening a new database at once."""
    began = time.monotonic()
    results = run_workers(url, ["w0", "w1", "w2", "w3"], 25)
    reports = []
    for code, stdout, stderr in results:
        assert code == 0, stderr
        reports.append(json.loads(stdout))
        assert reports[-1]["results"] == ["ok"] * 25
    # the four really wrote at the same time: their append loops overlap
    assert max(r["began"] for r in reports) < min(r["ended"] for r in reports)
    with Ledger(url, spec) as ledger:
        items = ledger.items()
        assert ledger.schema_version == SCHEMA_VERSION
    ids = [i.id for i in items]
    assert len(ids) == 100 and len(set(ids)) == 100
    assert set(ids) == {f"w{w}_{n}" for w in range(4) for n in range(25)}
    for w in range(4):  # each worker's items in its own order
        mine = [i for i in ids if i.startswith(f"w{w}_")]
        assert mine == [f"w{w}_{n}" for n in range(25)]
    stamps = [i.recorded_at for i in items]
    assert stamps == sorted(stamps)  # stamped under the lock: recorded order is time order
    assert time.monotonic() - began < 60


def test_processes_racing_for_one_id_store_it_once(url: str, spec: ModelSpec) -> None:
    """Two processes append the same ids at the same moments: one wins each, one is told."""
    rounds = 8
    results = run_workers(url, ["race", "race"], rounds, round_s=0.15)
    outcomes = []
    for code, stdout, stderr in results:
        assert code == 0, stderr
        outcomes.append(json.loads(stdout)["results"])
    for n in range(rounds):
        pair = [outcomes[0][n], outcomes[1][n]]
        assert pair.count("ok") == 1, pair
        (error,) = [o for o in pair if o != "ok"]
        # caught by the check inside the locked transaction, not by a constraint violation
        assert error["key"] == "items[0].id", error
        assert f"duplicate id 'race_{n}'" in error["message"], error
        assert "already holds" in error["message"], error
    with Ledger(url, spec) as ledger:
        ids = [i.id for i in ledger.items()]
    assert sorted(ids) == sorted(f"race_{n}" for n in range(rounds))
