"""Shared fixtures: the reference model, its evidence, and fits cached per session.

Fits are the slow part of the suite. Each distinct (model, evidence, settings)
is fitted once per session, and each model is compiled once per process (the
package keeps the compiled sampler), so later fits only swap data.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from allegiance.evidence import EvidenceSet, in_force, read_items
from allegiance.posterior import FitSettings, Posterior, fit
from allegiance.spec import ModelSpec, load_spec

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "afghanistan_2020.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")


@pytest.fixture(scope="session")
def reference_spec() -> ModelSpec:
    return load_spec(REFERENCE)


@pytest.fixture(scope="session")
def reference_evidence(reference_spec: ModelSpec) -> EvidenceSet:
    """The synthetic test evidence as of the model's analysis date (no time has passed yet)."""
    path = FIXTURES / "evidence" / "afghanistan_2020_synthetic.yaml"
    items = in_force(read_items(path, reference_spec), reference_spec.analysis_date)
    return EvidenceSet.of(items, path, as_of=reference_spec.analysis_date)


@pytest.fixture
def spec(tmp_path: Path) -> ModelSpec:
    """The one-hazard test model, copied into the test's folder (its fits are stored there).

    Modules with a ``spec`` of their own override it.
    """
    path = tmp_path / "beta_binomial.yaml"
    shutil.copy(FIXTURES / "models" / "beta_binomial.yaml", path)
    return load_spec(path)


_FITS: dict[tuple[str, str, FitSettings], Posterior] = {}


@pytest.fixture(scope="session")
def fitted() -> Callable[[ModelSpec, EvidenceSet, FitSettings], Posterior]:
    """Fit once per (model, evidence, settings) in the session."""

    def get(spec: ModelSpec, evidence: EvidenceSet, settings: FitSettings) -> Posterior:
        key = (spec.sha256, evidence.sha256, settings)
        if key not in _FITS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                _FITS[key] = fit(spec, evidence, settings)
        return _FITS[key]

    return get
