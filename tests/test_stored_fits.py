"""Stored fits that were damaged, edited, written at once by two savers, or cannot be written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from allegiance.errors import DamagedFitError, FitStoreError
from allegiance.evidence import EvidenceSet, Item
from allegiance.posterior import FitSettings, Posterior, load_posterior
from allegiance.spec import ModelSpec
from allegiance.workflow import FitStore, run_forecast
from conftest import FIXTURES

SETTINGS = FitSettings(draws=500, tune=500)
NONE = EvidenceSet.of([])
QUIET = EvidenceSet.of(
    [
        Item(
            "quiet", "no_event", dt.date(2020, 6, 1), "monitoring", "B2",
            {"hazard": "leave", "actor": "faction", "through": "2020-06-01"},
        )
    ]
)  # fmt: skip


def _stored(spec: ModelSpec) -> Path:
    out = run_forecast(spec, NONE, SETTINGS)
    assert out.fit_path is not None
    return out.fit_path


def test_edited_draws_are_never_served(spec: ModelSpec) -> None:
    path = _stored(spec)
    with h5py.File(path, "r+") as f:  # attributes untouched, one draw moved
        var = f["posterior"]["baseline"]
        values = var[...]
        values.flat[0] = values.flat[0] * 0.5 + 0.01
        var[...] = values
    with pytest.raises(DamagedFitError, match="do not match the hash"):
        load_posterior(path, spec, NONE)
    again = run_forecast(spec, NONE, SETTINGS)
    assert again.forecast is not None and again.forecast.method == "mcmc"
    assert any("damaged" in n and "hash" in n for n in again.notes)
    assert path.with_name(path.name + ".damaged").exists()
    refit = load_posterior(path, spec, NONE)  # the refit's own diagnostics, hashed with it
    assert refit.diagnostics is not None and refit.diagnostics.ok


def test_edited_diagnostics_are_never_served(spec: ModelSpec) -> None:
    """A fit whose diagnostics are edited to pass (draws untouched) is refused as damaged."""
    import json

    path = _stored(spec)
    with h5py.File(path, "r+") as f:
        stored = json.loads(f.attrs["diagnostics"])
        stored["max_rhat"] = 1.0 if stored["max_rhat"] != 1.0 else 1.5
        f.attrs["diagnostics"] = json.dumps(stored)
    with pytest.raises(DamagedFitError, match="do not match the hash"):
        load_posterior(path, spec, NONE)


def _rehashed(path: Path, spec: ModelSpec, edit: object) -> None:
    """Edit a stored fit and save it again: its hash is then the edited draws' own."""
    fit = load_posterior(path, spec, NONE)
    edit(fit)  # type: ignore[operator]
    fit.save(path)


def _nan(fit: Posterior) -> None:
    fit.samples["baseline"][1, 7, 0] = np.nan


def _infinite(fit: Posterior) -> None:
    fit.samples["baseline"][0, 0, 0] = -np.inf


def _chain_dropped(fit: Posterior) -> None:
    fit.samples = {k: v[:-1] for k, v in fit.samples.items()}


def _element_added(fit: Posterior) -> None:
    fit.samples["baseline"] = np.concatenate([fit.samples["baseline"]] * 2, axis=2)


def _renamed(fit: Posterior) -> None:
    fit.samples = {"leak": fit.samples.pop("baseline")}


def _other_settings(fit: Posterior) -> None:  # the settings are not hashed
    fit.attrs["fit_settings"] = json.dumps({**json.loads(fit.attrs["fit_settings"]), "chains": 2})


def _diagnostics_of_other_draws(fit: Posterior) -> None:
    assert fit.diagnostics is not None
    fit.diagnostics = dataclasses.replace(fit.diagnostics, chains=2, draws=1000)


def _diagnostics_pass_failed_numbers(fit: Posterior) -> None:
    assert fit.diagnostics is not None
    fit.diagnostics = dataclasses.replace(fit.diagnostics, max_rhat=1.5, problems=[])


def _diagnostics_not_numbers(fit: Posterior) -> None:
    assert fit.diagnostics is not None
    fit.diagnostics = dataclasses.replace(fit.diagnostics, max_rhat="1.0")  # type: ignore[arg-type]


REHASHED = {
    "nan": (_nan, "not all finite"),
    "infinite": (_infinite, "not all finite"),
    "chain dropped": (_chain_dropped, "shape (3, 500, 1), not (4, 500, 1)"),
    "element added": (_element_added, "shape (4, 500, 2), not (4, 500, 1)"),
    "variable renamed": (_renamed, "variables are ['leak'], the model's ['baseline']"),
    "other settings": (_other_settings, "shape (4, 500, 1), not (2, 500, 1)"),
    "diagnostics of other draws": (_diagnostics_of_other_draws, "checked 2 x 1000 draws"),
    "diagnostics pass failed numbers": (_diagnostics_pass_failed_numbers, "say passed"),
    "diagnostics not numbers": (_diagnostics_not_numbers, "diagnostics are not all numbers"),
}


@pytest.mark.parametrize("edit", list(REHASHED), ids=list(REHASHED))
def test_edited_and_rehashed_draws_are_never_served(spec: ModelSpec, edit: str) -> None:
    """An edit that rewrites the hash too passes it: the draws' basic facts are checked."""
    damage, said = REHASHED[edit]
    path = _stored(spec)
    _rehashed(path, spec, damage)
    with pytest.raises(DamagedFitError, match="although they match their hash") as refusal:
        load_posterior(path, spec, NONE)
    assert said in str(refusal.value)
    out = run_forecast(spec, NONE, SETTINGS)
    assert out.forecast is not None and out.forecast.method == "mcmc"
    assert "no stored fit" in out.forecast.method_reason  # refitted, not served
    assert any("damaged" in n and said in n for n in out.notes), out.notes
    assert path.with_name(path.name + ".damaged").exists()
    assert out.forecast.trustworthy
    shown = [q.probability for q in out.forecast.questions]
    assert shown and all(p is not None and math.isfinite(p) for p in shown)


def test_a_forecast_with_a_probability_not_a_number_is_never_served(
    spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever passed the checks, a probability that is no number is not shown."""
    import allegiance.forecast

    path = _stored(spec)
    real = allegiance.forecast.forecast

    def broken(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        result.questions[0] = dataclasses.replace(result.questions[0], probability=math.nan)
        return result

    monkeypatch.setattr(allegiance.forecast, "forecast", broken)
    with pytest.raises(DamagedFitError, match="leaves_24m a probability that is not a number"):
        run_forecast(spec, NONE, SETTINGS)
    assert path.with_name(path.name + ".damaged").exists()  # the stored fit: set aside
    assert not path.exists()  # the refit, which gives it too: not stored


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _zero(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def _junk(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).bytes(4096))


def _symlink(path: Path) -> None:
    good = path.with_name("elsewhere.nc")
    path.rename(good)
    path.symlink_to(good)


def _dangling(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.with_name("missing.nc"))


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "x").write_text("x")


DAMAGES = [_truncate, _zero, _junk, _symlink, _dangling, _folder]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__.strip("_"))
def test_a_damaged_file_is_refused_cleanly(spec: ModelSpec, damage: object) -> None:
    path = _stored(spec)
    damage(path)  # type: ignore[operator]
    with pytest.raises(DamagedFitError):
        load_posterior(path, spec, NONE)
    with pytest.raises(DamagedFitError):
        load_posterior(path, spec)


def test_a_damaged_fit_of_this_evidence_is_set_aside_and_refitted(spec: ModelSpec) -> None:
    path = _stored(spec)
    _folder(path)
    out = run_forecast(spec, NONE, SETTINGS)
    assert out.forecast is not None and out.forecast.method == "mcmc"
    assert any("damaged" in n and "set aside" in n for n in out.notes)
    assert path.is_file() and path.with_name(path.name + ".damaged").is_dir()
    load_posterior(path, spec, NONE)


@pytest.mark.parametrize(
    "damage", [_truncate, _dangling, _folder], ids=["truncated", "dangling", "folder"]
)
def test_a_damaged_newest_fit_does_not_stop_reweighting(spec: ModelSpec, damage: object) -> None:
    good = _stored(spec)
    newest = good.with_name(good.name.replace(NONE.sha256[:12], "0" * 12))
    shutil.copy(good, newest)
    damage(newest)  # type: ignore[operator]
    later = dt.datetime.now().timestamp() + 60
    os.utime(newest, (later, later), follow_symlinks=False)
    assert FitStore(spec).fits(SETTINGS)[0] == newest
    out = run_forecast(spec, QUIET, SETTINGS)
    assert out.forecast is not None and out.forecast.method == "reweighted"
    assert out.fit_path == good
    assert any("damaged" in n and newest.name in n for n in out.notes)
    assert not os.path.lexists(newest)


SAVER = """
import sys
from allegiance.posterior import load_posterior
from allegiance.spec import load_spec
spec = load_spec(sys.argv[1])
base = load_posterior(sys.argv[2], spec)
for _ in range(int(sys.argv[4])):
    base.save(sys.argv[3])
"""


def test_concurrent_saves_leave_a_whole_file(spec: ModelSpec) -> None:
    source = _stored(spec)
    target = source.with_name("target.nc")
    base = load_posterior(source, spec)
    errors: list[BaseException] = []

    def save() -> None:
        try:
            for _ in range(5):
                base.save(target)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    args = [sys.executable, "-c", SAVER, str(spec.path), str(source), str(target), "8"]
    savers = [subprocess.Popen(args, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    while any(s.poll() is None for s in savers):
        load_posterior(target, spec)  # a reader never sees a partial file
    for s in savers:
        _, said = s.communicate()
        assert s.returncode == 0, said
    assert load_posterior(target, spec).samples.keys() == base.samples.keys()
    assert not list(target.parent.glob("*.partial"))


def test_an_unwritable_store_is_refused_before_fitting(
    spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    (spec.path.parent / ".allegiance").write_text("not a folder")  # as root, chmod would not do

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("fitted although the fit could not be stored")

    monkeypatch.setattr("allegiance.posterior.fit", no_fit)
    with pytest.raises(FitStoreError, match="cannot be written"):
        run_forecast(spec, NONE, SETTINGS, refit=True)


def test_the_command_line_refuses_an_unwritable_store(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from allegiance.cli import EXIT_BAD_INPUT, app

    model = tmp_path / "beta_binomial.yaml"
    shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", model)
    (tmp_path / ".allegiance").write_text("not a folder")
    args = ["forecast", str(model), "--no-evidence", "--refit", "--draws", "100", "--tune", "100"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    said = " ".join(result.output.split())
    assert "cannot be written" in said and "Traceback" not in said


def test_a_killed_saves_leftovers_are_swept_and_fits_get_the_usual_mode(spec: ModelSpec) -> None:
    from allegiance.posterior.draws import STALE_PARTIAL_S

    source = _stored(spec)
    stale = source.with_name(f".{source.name}.abc.partial")
    fresh = source.with_name(f".{source.name}.def.partial")  # a save under way elsewhere
    for leftover in (stale, fresh):
        leftover.write_bytes(b"half a fit")
    old = stale.stat().st_mtime - 2 * STALE_PARTIAL_S
    os.utime(stale, (old, old))
    target = load_posterior(source, spec).save(source)
    assert not stale.exists() and fresh.exists()
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's owner-only 0o600
