"""Faults: many writers at once, concurrent forecasts, and processes killed (SIGKILL) mid-write.

Every process here is a real one started with :mod:`subprocess`; a kill is
``SIGKILL``, which runs no cleanup: what a crash or an out-of-memory kill leaves.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from allegiance.errors import LedgerError
from allegiance.evidence import EvidenceSet, Item
from allegiance.ledger import Ledger, default_url
from allegiance.posterior import FitSettings, load_posterior
from allegiance.spec import ModelSpec, load_spec
from allegiance.workflow import FitStore, run_forecast
from conftest import FIXTURES
from test_ledger import pg_url, postgres, run_workers  # noqa: F401 - fixtures

MINIMAL = FIXTURES / "models" / "minimal.yaml"
CLI = "import sys; from allegiance.cli import app; sys.argv[0] = 'allegiance'; app()"
NONE = EvidenceSet.of([])


def cli(*args: str) -> list[str]:
    """The command line ``allegiance ARGS`` run by this interpreter."""
    return [sys.executable, "-c", CLI, *args]


# -- many writers at once --------------------------------------------------------


@pytest.mark.slow  # 17 s alone, 30-40 s beside other work on two cores: every append reads all
def test_eight_processes_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    """8 processes x 100 single-item batches, all opening one new SQLite ledger at once."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    workers, count = 8, 100
    results = run_workers(url, [f"w{w}" for w in range(workers)], count)
    reports = []
    for code, stdout, stderr in results:
        assert code == 0, stderr
        reports.append(json.loads(stdout))
    # none refused: each waiting writer got the lock in turn (the slowest append is shown)
    refused = [r for report in reports for r in report["results"] if r != "ok"]
    longest = max(report["longest"] for report in reports)
    assert refused == [], f"{len(refused)} refused, the slowest append took {longest:.1f} s"
    # they really wrote at the same time: every append loop overlaps every other
    assert max(r["began"] for r in reports) < min(r["ended"] for r in reports)
    with Ledger(url, load_spec(MINIMAL)) as ledger:
        items = ledger.items()
    ids = [i.id for i in items]
    assert len(ids) == workers * count
    assert len(set(ids)) == len(ids), "an item was stored twice"
    assert set(ids) == {f"w{w}_{n}" for w in range(workers) for n in range(count)}
    for w in range(workers):  # each worker's items in the order it appended them
        mine = [i for i in ids if i.startswith(f"w{w}_")]
        assert mine == [f"w{w}_{n}" for n in range(count)]
    stamps = [i.recorded_at for i in items]
    assert all(s is not None for s in stamps)
    assert all(a <= b for a, b in zip(stamps, stamps[1:], strict=False)), "recorded out of order"


def _report_item(item_id: str) -> Item:
    return Item(
        item_id, "report", dt.date(2020, 2, 1), "lock test", "C3",
        {"target": "lobby.splinter", "favours": True, "likelihood_ratio": 1.5},
    )  # fmt: skip


def test_writers_waiting_for_the_lock_take_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 writers x 60 appends back to back, a 1 s wait: none is refused while the others write.

    SQLite's own waiting (longer and longer sleeps) left some writers without the lock
    for the whole wait while the others wrote: 12 to 40 of these appends were refused.
    """
    monkeypatch.setattr("allegiance.ledger.connection.BUSY_TIMEOUT_S", 1.0)
    url, spec = f"sqlite:///{tmp_path / 'ledger.sqlite'}", load_spec(MINIMAL)
    Ledger(url, spec).close()
    workers, count = 8, 60
    refused: list[str] = []
    start = threading.Barrier(workers)

    def write(w: int) -> None:
        with Ledger(url, spec) as ledger:
            start.wait()
            for n in range(count):
                try:
                    ledger.append([_report_item(f"w{w}_{n}")])
                except LedgerError as exc:
                    refused.append(str(exc))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == [], f"{len(refused)} refused: {refused[0]}"
    with Ledger(url, spec) as ledger:
        assert len(ledger.items()) == workers * count


def test_a_writer_is_refused_when_one_process_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("allegiance.ledger.connection.BUSY_TIMEOUT_S", 0.3)
    path = tmp_path / "ledger.sqlite"
    spec = load_spec(MINIMAL)
    with Ledger(f"sqlite:///{path}", spec) as ledger:
        ledger.append([_report_item("before")])
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # held, and nothing written, for the whole wait
        try:
            began = time.monotonic()
            with pytest.raises(LedgerError) as refusal:
                ledger.append([_report_item("after")])
            waited = time.monotonic() - began
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        said = " ".join(str(refusal.value).split())
        assert "another process has held the ledger's write lock for the whole 0.3 s" in said
        assert "nothing was written" in said
        assert waited >= 0.3
        assert [i.id for i in ledger.items()] == ["before"]
        ledger.append([_report_item("after")])  # once it is released, the append goes through
        assert [i.id for i in ledger.items()] == ["before", "after"]


KEEPS_WRITING = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("CREATE TABLE IF NOT EXISTS other (x)")
con.execute("BEGIN IMMEDIATE")
print("holding", flush=True)
while True:  # a write every 0.1 s, the lock taken back at once after each
    time.sleep(0.1)
    con.execute("INSERT INTO other VALUES (1)")
    con.execute("COMMIT")
    con.execute("BEGIN IMMEDIATE")
"""


def test_a_writer_behind_one_that_keeps_writing_is_told_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process writes every 0.1 s and takes the lock back at once: a writer waiting
    0.25 s at a time is not refused while those writes get through, only after 4 waits."""
    monkeypatch.setattr("allegiance.ledger.connection.BUSY_TIMEOUT_S", 0.25)
    monkeypatch.setattr("allegiance.ledger.lock.LIMIT_WAITS", 4)
    # Tries seldom: the lock is free a few microseconds in each 0.1 s, and is then
    # almost never caught (the append would then go through; it may, once in hundreds).
    monkeypatch.setattr("allegiance.ledger.lock.PAUSE_S", (0.02, 0.03))
    path = tmp_path / "ledger.sqlite"
    with Ledger(f"sqlite:///{path}", load_spec(MINIMAL)) as ledger:
        holder = subprocess.Popen(
            [sys.executable, "-c", KEEPS_WRITING, str(path)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
            began = time.monotonic()
            try:
                ledger.append([_report_item("waited")])
                refused = ""
            except LedgerError as exc:
                refused = " ".join(str(exc).split())
            waited = time.monotonic() - began
        finally:
            _kill(holder)
        if refused:
            assert "could not get the ledger's write lock in 1 s: other processes kept" in refused
            assert "nothing was written" in refused
            assert waited >= 4 * 0.25
            assert ledger.items() == []
        else:  # it caught the lock free between two of the other's writes
            assert [i.id for i in ledger.items()] == ["waited"]


def test_a_postgresql_writer_waits_in_turn_and_is_refused_after_the_wait(
    pg_url: str,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg

    from allegiance.ledger.connection import _PG_LOCK_KEY

    monkeypatch.setattr("allegiance.ledger.connection.BUSY_TIMEOUT_S", 0.3)
    with Ledger(pg_url, load_spec(MINIMAL)) as ledger:
        holder = psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"))
        holder.execute("SELECT pg_advisory_lock(%s)", (_PG_LOCK_KEY,))
        release = threading.Timer(10.0, holder.close)  # without a wait, the append would hang
        release.start()
        try:
            began = time.monotonic()
            with pytest.raises(LedgerError, match="held the ledger's lock for the whole wait"):
                ledger.append([_report_item("waited")])
            assert 0.3 <= time.monotonic() - began < 10.0
        finally:
            release.cancel()
            holder.close()
        assert ledger.items() == []


# -- two forecasts at once -------------------------------------------------------------


@pytest.mark.slow
def test_two_forecasts_at_once_store_one_whole_fit(tmp_path: Path) -> None:
    """Two ``allegiance forecast`` of one model and evidence, no stored fit: one fit stays."""
    model = tmp_path / "beta_binomial.yaml"
    shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", model)
    args = cli("forecast", str(model), "--format", "json", "--draws", "300", "--tune", "300")
    procs = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    docs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        docs.append(json.loads(stdout))
    first, second = docs
    # both found no fit and sampled: the two really raced to store one path
    assert [d["method"] for d in docs] == ["mcmc", "mcmc"], [d["method_reason"] for d in docs]
    assert first["questions"] == second["questions"]  # same seed: the same numbers
    assert first["diagnostics"] == second["diagnostics"]
    assert first["trustworthy"] and second["trustworthy"]

    spec = load_spec(model)
    store = FitStore(spec)
    settings = FitSettings(draws=300, tune=300)
    path = store.path(NONE, settings)
    # exactly one whole fit; nothing else (no *.partial, no probe, nothing set aside)
    assert sorted(os.listdir(store.directory)) == [path.name]
    assert store.fits(settings) == [path]
    stored = load_posterior(path, spec, NONE)
    assert stored.diagnostics is not None and stored.diagnostics.ok

    third = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    doc = json.loads(third.stdout)
    assert "stored MCMC fit of exactly this evidence" in doc["method_reason"]
    assert doc["questions"] == first["questions"]
    assert sorted(os.listdir(store.directory)) == [path.name]
    with Ledger(default_url(spec), spec) as ledger:  # the new ledger both opened at once
        assert ledger.items() == []
        assert len(ledger.history("leaves_24m")) == 3  # every forecast recorded once


# -- kill -9 during an import ------------------------------------------------------------

BULK = 3000  # items in the imported file: its insert takes tens of milliseconds
FRACTIONS = (0.2, 0.5, 0.8)  # blind kills, as fractions of one timed import
AFTER_JOURNAL_S = (0.0, 0.004, 0.012)  # kills after the import's journal appears
PRE = ("pre_0", "pre_1")  # items in the ledger before the import


def _bulk_file(path: Path) -> Path:
    items = [
        {
            "id": f"bulk_{k:05d}",
            "kind": "report",
            "date": "2020-02-01",
            "source": "bulk import test",
            "grade": "C3",
            "target": "lobby.splinter",
            "favours": k % 2 == 0,
            "likelihood_ratio": 1.0 + (k % 7) / 10,
        }
        for k in range(BULK)
    ]
    doc = {"schema_version": 1, "model": "minimal", "items": items}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _base_ledger(path: Path, spec: ModelSpec) -> Path:
    """A ledger holding two items: the import's write transaction is then its only journal."""
    with Ledger(f"sqlite:///{path}", spec) as ledger:
        for item_id in PRE:
            ledger.append([_report(item_id)])
    return path


def _report(item_id: str) -> Item:
    return Item(
        item_id,
        "report",
        dt.date(2020, 1, 15),
        "before the import",
        "B2",
        {"target": "lobby.splinter", "favours": True, "likelihood_ratio": 2.0},
    )


def _import(db: Path, bulk: Path) -> subprocess.Popen[str]:
    args = cli("evidence", "import", str(MINIMAL), str(bulk), "--ledger", f"sqlite:///{db}")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL a process; return whether it was still running (the kill landed)."""
    landed = proc.poll() is None
    if landed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    return landed


def _after_kill(db: Path, spec: ModelSpec, bulk: Path) -> str:
    """Open the killed import's ledger: all of the file or none of it; import it (again)."""
    url = f"sqlite:///{db}"
    with Ledger(url, spec) as ledger:  # opening rolls a hot journal back
        ids = [i.id for i in ledger.items()]
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()
    want = [f"bulk_{k:05d}" for k in range(BULK)]
    assert ids[: len(PRE)] == list(PRE), "an item recorded before the import was lost"
    imported = ids[len(PRE) :]
    assert imported in ([], want), f"a part of the file was stored: {len(imported)} of {BULK}"
    with Ledger(url, spec) as ledger:
        done = ledger.import_file(bulk)
        if not imported:  # none: the same import, run again, stores the whole file
            assert [i.id for i in done.recorded] == want and done.already == 0
        else:  # all: the same import again finds every item held and stores nothing
            assert done.recorded == [] and done.already == BULK
        assert [i.id for i in ledger.items()] == [*PRE, *want]
    return "all" if imported else "none"


@pytest.mark.slow  # processes started and killed: 10-30 s
def test_an_import_killed_at_any_moment_stores_all_or_nothing(tmp_path: Path) -> None:
    spec = load_spec(MINIMAL)
    bulk = _bulk_file(tmp_path / "bulk.yaml")
    base = _base_ledger(tmp_path / "base.sqlite", spec)

    timed = tmp_path / "timed.sqlite"
    shutil.copy(base, timed)
    began = time.monotonic()
    proc = _import(timed, bulk)
    stdout, stderr = proc.communicate(timeout=120)
    whole = time.monotonic() - began
    assert proc.returncode == 0, stderr
    assert f"imported {BULK} items" in stdout
    with Ledger(f"sqlite:///{timed}", spec) as ledger:
        assert len(ledger.items()) == len(PRE) + BULK

    outcomes: list[tuple[str, bool, bool, str]] = []  # (when, landed, hot journal, outcome)
    for n, fraction in enumerate(FRACTIONS):
        db = tmp_path / f"blind{n}.sqlite"
        shutil.copy(base, db)
        proc = _import(db, bulk)
        time.sleep(fraction * whole)
        landed = _kill(proc)
        hot = Path(f"{db}-journal").exists()
        outcomes.append((f"{fraction:.2f} of the run", landed, hot, _after_kill(db, spec, bulk)))
    for n, delay in enumerate(AFTER_JOURNAL_S):
        db = tmp_path / f"journal{n}.sqlite"
        shutil.copy(base, db)
        journal = Path(f"{db}-journal")
        proc = _import(db, bulk)
        deadline = time.monotonic() + 120
        while not journal.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0002)
        if delay:
            time.sleep(delay)
        landed = _kill(proc)
        hot = journal.exists()
        outcomes.append((f"journal + {delay} s", landed, hot, _after_kill(db, spec, bulk)))
    # and a kill as soon as the journal is gone again: the import has committed
    db = tmp_path / "committed.sqlite"
    shutil.copy(base, db)
    journal = Path(f"{db}-journal")
    proc = _import(db, bulk)
    seen = False
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if journal.exists():
            seen = True
        elif seen:
            break
        time.sleep(0.0002)
    landed = _kill(proc)
    outcomes.append(("journal gone", landed, journal.exists(), _after_kill(db, spec, bulk)))
    # Every kill left all of the file or none of it (checked above); some fell inside the
    # import's write transaction (its journal, rolled back on opening, was left behind).
    assert any(landed and hot for _, landed, hot, _ in outcomes), outcomes
    assert any(landed and outcome == "none" for _, landed, _, outcome in outcomes), outcomes
    assert outcomes[-1][-1] == "all", outcomes


# -- kill -9 during a fit save ----------------------------------------------------------------

SETTINGS = FitSettings(draws=500, tune=500)
SAVE_KILLS_S = (0.004, 0.013, 0.027, 0.046, 0.071, 0.12)  # after the saver starts saving

SAVER = """
import sys, time
from pathlib import Path
import arviz  # imported before the first save: the kills land in saves, not in imports
from allegiance.posterior import load_posterior
from allegiance.spec import load_spec
go, ready = Path(sys.argv[4]), Path(sys.argv[5])
deadline = time.time() + 300
while not go.exists():
    if time.time() > deadline:
        raise SystemExit("no go signal within 300 s")
    time.sleep(0.005)
spec = load_spec(sys.argv[1])
base = load_posterior(sys.argv[2], spec)
base.save(ready.with_suffix(".warm.nc"))  # a first save imports its writers: kills land later
ready.touch()
while True:
    base.save(sys.argv[3])
"""


def _samples(path: Path, spec: ModelSpec) -> dict[str, np.ndarray]:
    return load_posterior(path, spec, NONE).samples


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _kill_a_save(
    spec: ModelSpec, saver: subprocess.Popen[str], delay: float, go: Path, ready: Path,
    source_draws: dict[str, np.ndarray],
) -> bool:  # fmt: skip
    """Let a saver save, SIGKILL it ``delay`` s later, and check the store; True if it left
    a temporary file."""
    store = FitStore(spec)
    target = store.path(NONE, SETTINGS)
    before = _samples(target, spec) if target.exists() else None
    partials_before = set(store.directory.glob(".*.partial"))
    go.touch()
    deadline = time.monotonic() + 300
    while not ready.exists():
        assert saver.poll() is None, saver.communicate()[1]
        assert time.monotonic() < deadline, "the saver never started saving"
        time.sleep(0.001)
    time.sleep(delay)
    assert _kill(saver), "the saver stopped before it was killed"
    left = bool(set(store.directory.glob(".*.partial")) - partials_before)

    # the target is absent, or a whole fit: the one before the save or the source
    if target.exists():
        assert not target.is_symlink() and target.is_file()
        after = _samples(target, spec)  # DamagedFitError here would be a partial file
        assert _same(after, source_draws) or (before is not None and _same(after, before))
    else:
        assert before is None
    # leftovers are not taken for fits: not listed, not another setting's fit, not damaged
    assert store.fits(SETTINGS) == ([target] if target.exists() else [])
    assert store.other_settings(SETTINGS) == []
    assert not list(store.directory.glob("*.damaged"))
    out = run_forecast(spec, NONE, SETTINGS)  # serves the fit, or refits if none was left
    assert out.fit_path == target and out.forecast is not None
    assert out.forecast.method == "mcmc"
    assert not [note for note in out.notes if "skipped" in note or "damaged" in note]
    assert out.forecast.diagnostics.ok
    assert _same(_samples(target, spec), source_draws)  # same seed: the same draws
    return left


@pytest.mark.slow  # processes started and killed: 10-30 s
def test_a_save_killed_at_any_moment_never_serves_a_partial_fit(
    spec: ModelSpec, tmp_path: Path
) -> None:
    store = FitStore(spec)
    target = store.path(NONE, SETTINGS)
    source = tmp_path / "source.nc"
    # Every saver starts (and imports) now, while the source is fitted; each saves only
    # when told to, in turn.
    go = [tmp_path / f"go{n}" for n in range(len(SAVE_KILLS_S))]
    ready = [tmp_path / f"ready{n}" for n in range(len(SAVE_KILLS_S))]
    savers = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, str(spec.path), str(source), str(target),
             str(go[n]), str(ready[n])],
            stderr=subprocess.PIPE, text=True,
        )
        for n in range(len(SAVE_KILLS_S))
    ]  # fmt: skip
    first = run_forecast(spec, NONE, SETTINGS)
    assert first.fit_path == target and first.forecast is not None
    shutil.move(target, source)  # the first kill finds no fit in place
    draws = _samples(source, spec)
    try:
        left = [
            _kill_a_save(spec, savers[n], delay, go[n], ready[n], draws)
            for n, delay in enumerate(SAVE_KILLS_S)
        ]
    finally:
        for saver in savers:
            _kill(saver)
    assert any(left), "no kill landed inside a save"
    leftovers = sorted(p.name for p in store.directory.iterdir() if p != target)
    assert all(name.startswith(f".{target.name}.") for name in leftovers), leftovers
    assert all(name.endswith(".partial") for name in leftovers), leftovers
