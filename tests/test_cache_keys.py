"""A stored fit is served only for the evidence it was fitted to (prior draws as the fit)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from allegiance.errors import ProvenanceError
from allegiance.evidence import EvidenceSet
from allegiance.posterior import FitSettings, Posterior, load_posterior
from allegiance.spec import ModelSpec
from helpers import item, prior_draws


def test_a_stored_fit_of_other_evidence_is_refused(spec: ModelSpec, tmp_path: Path) -> None:
    fitted = EvidenceSet.of([])
    other = EvidenceSet.of(
        [item("quiet", "no_event", "2020-03-01", hazard="leave", actor="faction",
              through="2020-03-01")]
    )  # fmt: skip
    samples = {k: v.reshape(2, 50, -1) for k, v in prior_draws(spec, 100, seed=1).items()}
    settings = FitSettings(draws=50, chains=2)
    attrs = {
        "model_sha256": spec.sha256,
        "evidence_sha256": fitted.sha256,
        "evidence_items": "[]",
        "fit_settings": json.dumps(asdict(settings)),
    }
    path = Posterior(spec, fitted, samples, settings, attrs).save(tmp_path / "fit.nc")
    assert load_posterior(path, spec, fitted).evidence.sha256 == fitted.sha256
    with pytest.raises(ProvenanceError, match="evidence_sha256"):
        load_posterior(path, spec, other)
