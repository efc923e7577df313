"""Fan-out on dask.distributed: task order, the serial path, refusals, and the same numbers."""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import allegiance.workflow.fanout as fanout_module
from allegiance.cli import app
from allegiance.cli.shared import EXIT_BAD_INPUT
from allegiance.errors import FanoutError, ScoreError
from allegiance.evidence import Item
from allegiance.posterior import FitSettings
from allegiance.report import write_backtest
from allegiance.spec import load_spec
from allegiance.update import ReplayStep
from allegiance.workflow.backtest import Backtest, backtest, dates_between
from allegiance.workflow.fanout import Fanout
from conftest import FIXTURES

SMALL = FitSettings(draws=300, tune=300, chains=2, seed=5)
UTC = dt.UTC


def _pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _refuse(x: int) -> int:
    if x == 3:
        raise ScoreError(f"task {x} refused")
    return x


def test_serial_tasks_run_here_in_order() -> None:
    tasks = [3, -1, 2, 0]
    for serial in (Fanout(), Fanout(workers=1)):
        assert serial.serial
        assert serial.run(_pid, tasks) == [(9, os.getpid()), (1, os.getpid()), (4, os.getpid()),
                                          (0, os.getpid())]  # fmt: skip
    assert Fanout().run(_pid, []) == []
    assert not Fanout(workers=2).serial and not Fanout(scheduler="tcp://h:8786").serial


@pytest.mark.slow  # two local clusters started: 5 s on a quiet machine, 13 s on a busy one
def test_a_local_cluster_keeps_task_order_and_raises_a_tasks_own_error() -> None:
    tasks = list(range(7, -1, -1))
    out = Fanout(workers=2).run(_pid, tasks)
    assert [v for v, _ in out] == [t * t for t in tasks]
    assert os.getpid() not in {p for _, p in out}  # worker processes, not this one
    with pytest.raises(ScoreError, match="task 3 refused"):
        Fanout(workers=2).run(_refuse, [1, 2, 3])


@pytest.mark.slow  # a cluster of our own, reached only by its scheduler's address
def test_a_running_scheduler_is_reached_by_its_address() -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        fanout = Fanout(scheduler=cluster.scheduler_address)
        assert not fanout.serial
        out = fanout.run(_pid, [4, 1, 3])
    assert [v for v, _ in out] == [16, 1, 9]
    assert os.getpid() not in {p for _, p in out}


@pytest.mark.parametrize(
    ("workers", "scheduler", "said"),
    [(0, None, "--workers 0"), (2, "tcp://h:8786", "give one of the two"),
     (None, " ", "--scheduler is empty")],
)  # fmt: skip
def test_bad_options_are_refused(workers: int | None, scheduler: str | None, said: str) -> None:
    with pytest.raises(FanoutError, match=said):
        Fanout(workers, scheduler)


def test_a_scheduler_that_does_not_answer_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout_module, "CONNECT_SECONDS", 1.0)
    address = "tcp://127.0.0.1:9"  # the discard port: nothing listens
    with pytest.raises(FanoutError) as caught:
        Fanout(scheduler=address).run(abs, [-1])
    message = str(caught.value)
    assert address in message and "no Dask scheduler answered" in message
    assert "--workers N" in message


def test_a_missing_extra_is_named_before_any_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails
    with pytest.raises(FanoutError, match=r"pip install 'allegiance\[dask\]'"):
        Fanout(workers=2)
    assert Fanout(workers=1).run(abs, [-2]) == [2]  # the serial path needs no Dask
    path = tmp_path / "beta_binomial.yaml"
    shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", path)
    out = tmp_path / "bt"
    for command in (
        ["backtest", str(path), "--from", "2020-02-01", "--to", "2020-03-01", "--out", str(out)],
        ["validate", str(tmp_path), "--out", str(out)],
    ):
        done = CliRunner().invoke(app, [*command, "--workers", "2"])
        assert done.exit_code == EXIT_BAD_INPUT, done.output
        assert "allegiance[dask]" in " ".join(done.stderr.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beta_binomial.yaml"]


def test_workers_and_scheduler_together_are_refused_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "beta_binomial.yaml"
    shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", path)
    done = CliRunner().invoke(
        app,
        ["backtest", str(path), "--from", "2020-02-01", "--to", "2020-03-01",
         "--workers", "2", "--scheduler", "tcp://h:8786"],
    )  # fmt: skip
    assert done.exit_code == EXIT_BAD_INPUT
    assert "give one of the two" in " ".join(done.stderr.split())


def _record() -> list[Item]:
    def stamped(item: Item) -> Item:
        at = dt.datetime(item.date.year, item.date.month, item.date.day, 12, tzinfo=UTC)
        return Item(item.id, item.kind, item.date, item.source, item.grade, item.fields,
                    recorded_at=at)  # fmt: skip

    quiet = [
        Item(f"quiet_{m}", "no_event", dt.date(2020, m, 1), "monitoring", "B2",
             {"hazard": "leave", "actor": "faction", "through": f"2020-{m:02d}-01"})
        for m in range(2, 8)
    ]  # fmt: skip
    stayed = Item("stayed", "resolution", dt.date(2022, 1, 3), "UN", "B2",
                  {"question": "leaves_24m", "outcome": False})  # fmt: skip
    return [stamped(i) for i in [*quiet, stayed]]


def _same(a: Backtest, b: Backtest) -> None:
    assert a.scores.pairs == b.scores.pairs  # every forecaster's float, exactly
    assert a.scores.forecasters == b.scores.forecasters
    for x, y in zip(a.steps, b.steps, strict=True):
        assert (x.date, x.method) == (y.date, y.method)
        assert x.pareto_k == y.pareto_k or math.isnan(x.pareto_k) and math.isnan(y.pareto_k)
        assert [q.probability for q in x.forecast.questions] == [
            q.probability for q in y.forecast.questions
        ]


@pytest.mark.slow
def test_a_backtest_on_two_workers_gives_the_serial_numbers(tmp_path: Path) -> None:
    dates = dates_between(dt.date(2020, 2, 1), dt.date(2020, 5, 1))
    results, tables = [], []
    for name, fanout in (("serial", None), ("dask", Fanout(workers=2))):
        folder = tmp_path / name  # each run fits afresh: no stored prior fit is shared
        folder.mkdir()
        shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", folder / "beta_binomial.yaml")
        spec = load_spec(folder / "beta_binomial.yaml")
        seen: list[ReplayStep] = []
        result = backtest(spec, _record(), dates, SMALL, fanout=fanout, on_step=seen.append)
        assert [s.date for s in seen] == dates
        results.append(result)
        write_backtest(result, folder / "out")
        tables.append((folder / "out" / "backtest.csv").read_bytes())
    _same(*results)
    assert tables[0] == tables[1]
    assert len(results[0].scores.pairs) == len(dates)


@pytest.mark.slow
def test_a_validation_on_two_workers_gives_the_serial_numbers(tmp_path: Path) -> None:
    from allegiance.workflow.validation import validate
    from test_validation import _theatre

    # Each leaves between its 3- and 6-month horizons: the other's grid has a yes and a no,
    # which the recalibration needs.
    _theatre(tmp_path, "early", event="2020-04-10", horizons="[3, 6]")
    _theatre(tmp_path, "late", event="2020-05-20", horizons="[3, 6]")
    serial = validate(tmp_path, SMALL)
    for theatre in ("early", "late"):  # the second run fits afresh too
        shutil.rmtree(tmp_path / ".allegiance" / theatre)
    # Two theatres: a task each (the backtest above split one theatre into two tasks).
    fanned = validate(tmp_path, SMALL, fanout=Fanout(workers=2))
    assert list(serial.backtests) == list(fanned.backtests) == ["early", "late"]
    for name in serial.backtests:
        _same(serial.backtests[name], fanned.backtests[name])
    assert serial.pooled.pairs == fanned.pooled.pairs  # the recalibrated model's included
    assert "model, recalibrated" in serial.pooled.forecasters
    assert serial.rows() == fanned.rows()
