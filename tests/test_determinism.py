"""Same seed, same numbers: a backtest's file does not depend on what the compile cache held."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

RUN = """
import datetime as dt, shutil, sys
from pathlib import Path
from allegiance.posterior import FitSettings
from allegiance.report import write_backtest
from allegiance.spec import load_spec
from allegiance.workflow import record_of
from allegiance.workflow.backtest import backtest
model = Path(sys.argv[1])
out = Path(sys.argv[2])
out.mkdir(parents=True)
path = out / model.name
shutil.copy(model, path)  # its fits are stored beside this copy
spec = load_spec(path)
items = record_of(spec, [model.with_name(model.stem + ".evidence.yaml")])
dates = [dt.date(2017, 1, 1), dt.date(2017, 2, 1)]  # a refit at the second
result = backtest(spec, items, dates, FitSettings(draws=200, tune=200, chains=2))
write_backtest(result, out / "backtest")
"""


@pytest.mark.slow
def test_a_backtest_run_twice_in_fresh_processes_writes_the_same_bytes(tmp_path: Path) -> None:
    """The first process compiles into an empty PyTensor cache, the second loads from it:
    the CSV must not change by a byte (with fast-math it did, from the refit on)."""
    model = ROOT / "models" / "syria_nusra_2016.yaml"
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'compiled'}"}
    tables = []
    for run in ("cold", "warm"):
        subprocess.run(
            [sys.executable, "-c", RUN, str(model), str(tmp_path / run)],
            env=env, check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        tables.append((tmp_path / run / "backtest" / "backtest.csv").read_bytes())
    assert tables[0] == tables[1]
