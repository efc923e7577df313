"""Scenario sweeps: every named scenario of every theatre, one theatre per task.

A sweep forecasts each theatre from its ledger and runs its named scenarios on
that one fit (:func:`~allegiance.workflow.scenarios.named_scenarios`). A
theatre is one task of a :class:`~allegiance.workflow.fanout.Fanout`: its
scenarios reweight its fit in well under a second, so a sweep fans out across
theatres, and a worker compiles each theatre's model once. A task carries its
model file, the date, the ledger and the sampler settings, so a sweep on Dask
gives the serial sweep's numbers.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from allegiance.errors import SpecError
from allegiance.forecast import Forecast
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec, load_spec
from allegiance.workflow.fanout import Fanout
from allegiance.workflow.forecasting import evidence_in_force, run_forecast
from allegiance.workflow.scenarios import scenarios_on


@dataclass(frozen=True)
class SweepTask:
    """One theatre's part of a sweep, its scenarios named: all its numbers depend on."""

    model: Path
    names: tuple[str, ...]
    settings: FitSettings
    ledger_url: str | None = None
    as_of: dt.date | None = None


@dataclass(frozen=True)
class SweepRow:
    """One question of one theatre, as it stands and under one scenario."""

    theatre: str
    as_of: str
    scenario: str
    mode: str
    setting: str
    question: str
    stands: float | None
    under: float | None
    lower: float | None
    upper: float | None
    resolved: str
    trustworthy: bool

    @property
    def change(self) -> float | None:
        """The scenario's change of the probability, in percentage points."""
        if self.stands is None or self.under is None:
            return None
        return (self.under - self.stands) * 100


@dataclass
class TheatreSweep:
    """A theatre's forecast as it stands and under each of its scenarios swept.

    ``settings`` holds each scenario's (setting, mode); ``notes`` what was done
    (shipped evidence imported, a fit made or read); ``seconds`` the forecast's
    and the scenarios' seconds, in the process that ran them.
    """

    theatre: str
    as_of: dt.date | None
    base: Forecast
    scenarios: dict[str, Forecast]
    settings: dict[str, tuple[dict[str, bool], str]]
    notes: list[str] = field(default_factory=list)
    seconds: tuple[float, float] = (0.0, 0.0)

    def rows(self) -> list[SweepRow]:
        """Return a row per scenario and question, in the model file's order."""
        day = self.as_of.isoformat() if self.as_of else "whole record"
        out = []
        for name, under in self.scenarios.items():
            setting, mode = self.settings[name]
            words = ", ".join(f"{c}={'true' if v else 'false'}" for c, v in setting.items())
            for a, b in zip(self.base.questions, under.questions, strict=True):
                row = SweepRow(self.theatre, day, name, mode, words, a.id, a.probability,
                               b.probability, b.lower, b.upper, a.resolved,
                               under.trustworthy)  # fmt: skip
                out.append(row)
        return out


@dataclass
class Sweep:
    """Every theatre swept, and the theatres left out with why."""

    theatres: list[TheatreSweep]
    skipped: list[str] = field(default_factory=list)

    def rows(self) -> list[SweepRow]:
        """Return every theatre's rows, theatre by theatre."""
        return [row for t in self.theatres for row in t.rows()]

    @property
    def trustworthy(self) -> bool:
        """Whether every fit behind every row passed its checks."""
        return all(row.trustworthy for row in self.rows())


def sweep_theatre(task: SweepTask) -> TheatreSweep:
    """Forecast one theatre from its ledger, then under each of its named scenarios asked for.

    A module-level function, so that a Dask worker can run it.
    """
    spec = load_spec(task.model)
    chosen = evidence_in_force(spec, ledger_url=task.ledger_url, as_of=task.as_of)
    wanted = {n: (dict(spec.scenarios[n].setting), spec.scenarios[n].mode) for n in task.names}
    start = time.perf_counter()
    outcome = run_forecast(spec, chosen.evidence, task.settings, exact=True)
    fitted = time.perf_counter()
    under = scenarios_on(outcome, chosen.evidence, wanted)
    seconds = (fitted - start, time.perf_counter() - fitted)
    notes = [*chosen.notes, *outcome.notes]
    return TheatreSweep(spec.id, task.as_of, outcome.forecast, under, wanted, notes, seconds)


def model_files(paths: Sequence[Path]) -> list[Path]:
    """Return the model files of the paths given: files as they are, folders' model files.

    A folder's ``<id>.evidence.yaml`` and ``<id>.record.yaml`` are records, not models.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.glob("*.yaml")) if "." not in p.stem)
        else:
            found.append(path)
    return found


def sweep(
    paths: Sequence[Path],
    settings: FitSettings,
    *,
    names: Sequence[str] = (),
    ledger_url: str | None = None,
    as_of: dt.date | None = None,
    at_analysis: bool = False,
    fanout: Fanout | None = None,
) -> Sweep:
    """Run the named scenarios of every theatre: one fit per theatre, fanned out by theatre.

    Parameters
    ----------
    paths : sequence of Path
        Model files, or folders of them.
    settings : FitSettings
        The sampler's settings (and seed) of every theatre's fit.
    names : sequence of str
        Only these scenarios; a theatre that declares none of them is left out.
    ledger_url : str, optional
        One ledger holding every theatre (default: each model's own beside it).
    as_of : date, optional
        Every theatre as of this day (default: its whole record).
    at_analysis : bool
        Each theatre as of its own analysis date instead.
    fanout : Fanout, optional
        Where the theatres run (default: here, one after another).

    Raises
    ------
    SpecError
        Before any fit: for a model file that does not load, a scenario no
        theatre declares, or no theatre with a scenario to run.
    """
    specs = [(path, load_spec(path)) for path in model_files(paths)]
    _check_names(names, [spec for _, spec in specs])
    tasks, skipped = [], []
    for path, spec in specs:
        wanted = [n for n in spec.scenarios if not names or n in names]
        if not wanted:
            skipped.append(f"{spec.id}: " + ("no scenario named" if names else "no scenarios"))
            continue
        when = spec.analysis_date if at_analysis else as_of
        tasks.append(SweepTask(path, tuple(wanted), settings, ledger_url, when))
    if not tasks:
        raise SpecError("sweep", "scenarios", "no theatre has a scenario to run.",
                        "add a 'scenarios' section to a model file.")  # fmt: skip
    return Sweep((fanout or Fanout()).run(sweep_theatre, tasks), skipped)


def _check_names(names: Sequence[str], specs: Sequence[ModelSpec]) -> None:
    """Refuse a scenario name that no theatre declares, naming those they do."""
    declared = {name for spec in specs for name in spec.scenarios}
    unknown = [n for n in names if n not in declared]
    if unknown:
        raise SpecError(
            "sweep",
            "--scenarios",
            f"no theatre declares {', '.join(repr(n) for n in unknown)}.",
            "use one of: " + (", ".join(sorted(declared)) or "none") + ".",
        )
