"""A posterior: draws of a model given evidence, with their provenance."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from allegiance.errors import ProvenanceError
from allegiance.evidence import EvidenceSet, ModelData
from allegiance.model import FREE_VARIABLES
from allegiance.posterior.diagnostics import Diagnostics
from allegiance.posterior.settings import FitSettings
from allegiance.provenance import engine_version
from allegiance.spec import ModelSpec

# Version of the stored file's layout: the groups, variables and attributes it holds.
# 3: the draws' hash (``draws_sha256``).
FORMAT_VERSION = 3


def draws_sha256(samples: dict[str, np.ndarray], divergences: int, diagnostics: str = "") -> str:
    """Return the sha256 of a fit's draws: each variable's name, dtype, shape and bytes.

    Parameters
    ----------
    samples : dict
        Each free variable's draws, shape (chain, draw, dim).
    divergences : int
        Divergent transitions after tuning.
    diagnostics : str
        The diagnostics saved with them (JSON), so that neither can be edited alone.

    Returns
    -------
    str
        Hex digest, the same for the same draws whatever their order or byte order.
    """
    digest = hashlib.sha256(f"divergences={int(divergences)}|{diagnostics}".encode())
    for name in sorted(samples):
        arr = np.asarray(samples[name])
        little = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        digest.update(f"|{name}|{little.dtype.str}|{little.shape}|".encode())
        digest.update(little.tobytes())
    return digest.hexdigest()


@dataclass
class Posterior:
    """Posterior draws of a model given evidence, with their provenance.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    evidence : EvidenceSet
        The evidence fitted.
    samples : dict
        Each free variable's draws, shape (chain, draw, dim).
    settings : FitSettings
        The sampler settings.
    attrs : dict
        Identity: hashes, settings, versions and creation time, as text.
    divergences : int
        Divergent transitions after tuning.
    fit_seconds : float
        Sampling time, for a fit made in this process.
    data : ModelData, optional
        The arrays fitted, when they are not those of ``evidence``: a proposal
        for importance sampling (see :func:`allegiance.update.replay`), never
        a forecast by itself.
    diagnostics : Diagnostics, optional
        Checks of the draws and of the forecasts computed from them
        (:func:`allegiance.forecast.forecast`), once made; saved with the draws
        so that a stored fit is not checked again on every load.
    idata : arviz.InferenceData, optional
        The sampler's output, for a fit made in this process.
    """

    spec: ModelSpec
    evidence: EvidenceSet
    samples: dict[str, np.ndarray]
    settings: FitSettings
    attrs: dict[str, str] = field(default_factory=dict)
    divergences: int = 0
    fit_seconds: float = float("nan")
    data: ModelData | None = None
    diagnostics: Diagnostics | None = None
    idata: Any = field(default=None, repr=False)

    @classmethod
    def from_inference_data(
        cls,
        spec: ModelSpec,
        evidence: EvidenceSet,
        idata: Any,
        settings: FitSettings,
        **fields: Any,
    ) -> Posterior:
        """Take the free variables, divergences and attributes of an ArviZ InferenceData."""
        post = idata.posterior
        return cls(
            spec,
            evidence,
            {name: post[name].values for name in FREE_VARIABLES if name in post},
            settings,
            attrs={k: str(v) for k, v in idata.attrs.items()},
            divergences=int(idata.sample_stats["diverging"].values.sum()),
            idata=idata,
            **fields,
        )

    def draws(self) -> dict[str, np.ndarray]:
        """Free variables as arrays (chain, draw, dim)."""
        return dict(self.samples)

    def flat_draws(self) -> dict[str, np.ndarray]:
        """Free variables as arrays (chain * draw, dim)."""
        return {k: v.reshape(-1, *v.shape[2:]) for k, v in self.samples.items()}

    @property
    def shape(self) -> tuple[int, int]:
        """(chains, draws per chain)."""
        first = next(iter(self.samples.values()))
        return int(first.shape[0]), int(first.shape[1])

    def save(self, path: str | Path) -> Path:
        """Write the posterior to NetCDF with its identity and diagnostics in its attributes.

        The file is an ArviZ InferenceData (``arviz.from_netcdf`` reads it);
        its attributes carry the model and evidence hashes, the format and
        engine versions, the draws' hash (:func:`draws_sha256`, checked on
        load) and the diagnostics once computed. The file is written to a
        temporary file in the same folder and renamed into place, so a reader
        never sees a partial file and concurrent saves of one fit each leave a
        whole one.

        Raises
        ------
        ProvenanceError
            For a proposal fit (``data`` set): it is not a posterior of its evidence.
        """
        if self.data is not None:
            raise ProvenanceError("a proposal fit is not the posterior of its evidence: not saved")
        import arviz as az

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        idata = self.idata
        if idata is None:
            diverging = np.zeros(self.shape, dtype=bool)
            diverging.flat[: self.divergences] = True  # only the count was kept
            idata = az.from_dict(posterior=self.samples, sample_stats={"diverging": diverging})
        checked = json.dumps(asdict(self.diagnostics)) if self.diagnostics is not None else ""
        attrs = {
            **self.attrs,
            "format_version": str(FORMAT_VERSION),
            "engine_version": engine_version(),
            "draws_sha256": draws_sha256(self.samples, self.divergences, checked),
        }
        if checked:
            attrs["diagnostics"] = checked
        idata.attrs.update(attrs)
        # Written beside and renamed into place: a reader never sees a partial file, and
        # two processes saving the same fit do not write into one file.
        _sweep_partials(path.parent)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(handle)
        partial = Path(name)
        try:
            idata.to_netcdf(str(partial))
            os.chmod(partial, 0o666 & ~_UMASK)  # as a plain new file: mkstemp's is 0o600
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return path


STALE_PARTIAL_S = 3600.0  # a save takes seconds: a partial file this old was left by a killed one


def _sweep_partials(folder: Path) -> None:
    """Remove the temporary files of saves killed before they could clean up."""
    cutoff = time.time() - STALE_PARTIAL_S
    for leftover in folder.glob(".*.partial"):
        try:
            if leftover.lstat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:  # removed by another process meanwhile, or not ours to remove
            continue


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: read once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()
