"""Faults: many writers at once, concurrent forecasts, and processes killed (SIGKILL) mid-write.

Every process here is a real one started with :mod:`subprocess`; a kill is
``SIGKILL``, which runs no cleanup: what a crash or an out-of-memory kill leaves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from allegiance.evidence import EvidenceSet
from allegiance.ledger import Ledger, default_url
from allegiance.posterior import FitSettings, load_posterior
from allegiance.spec import load_spec
from allegiance.workflow import FitStore
from conftest import FIXTURES
from test_ledger import run_workers

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
        assert reports[-1]["results"] == ["ok"] * count
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
