"""The ``score`` command on the records an analyst builds by hand: resolve, judge, resolve."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from allegiance.cli import app
from allegiance.evidence import EvidenceSet
from allegiance.posterior import FitSettings, Posterior
from allegiance.posterior.sampling import _identity
from allegiance.spec import ModelSpec
from allegiance.workflow import FitStore
from helpers import prior_draws

runner = CliRunner()


def _store_prior_fit(spec: ModelSpec) -> None:
    """Prior draws stored as the fit of no evidence the baselines read: nothing is sampled."""
    settings = FitSettings()
    nothing = EvidenceSet.of([], as_of=spec.analysis_date)
    draws = prior_draws(spec, settings.chains * settings.draws, seed=23)
    shape = (settings.chains, settings.draws, -1)
    samples = {k: v.reshape(shape) for k, v in draws.items() if v.shape[1]}
    Posterior(spec, nothing, samples, settings, attrs=_identity(spec, nothing, settings)).save(
        FitStore(spec).path(nothing, settings)
    )


def test_score_after_resolve_judge_resolve_shows_the_analyst_beside_the_baselines(
    spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A judgment of a day the model was never forecast is scored alone: no pooled row, no
    model calibration, and no traceback (the empty pooled row raised one)."""
    import allegiance.posterior as posterior_module

    _store_prior_fit(spec)
    monkeypatch.setattr(posterior_module, "fit", lambda *a, **k: pytest.fail("sampled"))
    model = str(spec.path)
    for args in (
        ["resolve", model, "leaves_24m", "yes", "--date", "2021-06-01", "--source", "UN"],
        ["judge", model, "leaves_24m", "0.3", "--date", "2021-03-01"],
        ["resolve", model, "leaves_24m", "yes", "--date", "2021-07-01", "--source", "press"],
    ):
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
    scored = runner.invoke(app, ["score", model])
    assert scored.exit_code == 0, (scored.output, scored.exception)
    rows = [line for line in scored.stdout.splitlines() if "forecasts" in line]
    analyst = next(line for line in rows if "analyst" in line)
    assert f"{(1 - 0.3) ** 2:.3f}" in analyst  # the judgment's Brier score against yes
    assert not any("pooled" in line or "model " in line for line in rows), rows
    assert "0.250" in next(line for line in rows if "0.5 " in line)
    assert "no forecast of the model was recorded before an outcome" in scored.stdout
    # A model forecast of another day: the model is scored on its own pairs, and drawn.
    forecast = ["forecast", model, "--as-of", "2021-01-01", "--as-recorded"]
    assert runner.invoke(app, forecast).exit_code == 0
    plots = spec.path.parent / "plots"
    drawn = runner.invoke(app, ["score", model, "--plots", str(plots)])
    assert drawn.exit_code == 0, (drawn.output, drawn.exception)
    assert "Calibration of the model" in drawn.stdout and "pooled" not in drawn.stdout
    assert {p.name for p in plots.iterdir()} >= {"calibration.png", "discrimination.png"}
