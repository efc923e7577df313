"""Stored posteriors read back: only by the inputs, format and engine that made them.

Reading needs neither PyMC nor ArviZ: the NetCDF file is read with h5netcdf,
so that a forecast from a stored fit starts fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from allegiance.errors import DamagedFitError, EvidenceError, ProvenanceError
from allegiance.evidence import EvidenceSet, parse_item
from allegiance.model import FREE_VARIABLES, variable_beliefs
from allegiance.posterior.diagnostics import ESS_MIN, RHAT_MAX, Diagnostics
from allegiance.posterior.draws import FORMAT_VERSION, Posterior, draws_sha256
from allegiance.posterior.settings import FitSettings
from allegiance.provenance import engine_version
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec


def read_netcdf(path: str | Path) -> tuple[dict[str, str], dict[str, np.ndarray], int]:
    """Read a stored fit's attributes, free variables (chain, draw, dim) and divergences.

    Raises
    ------
    DamagedFitError
        If the path is not a regular file (a symlink or a folder) or not a
        NetCDF file of the expected layout (truncated, zeroed, junk).
    """
    import h5netcdf

    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise DamagedFitError(f"{path}: not a regular file (a symlink, a folder or missing).")
    try:
        with h5netcdf.File(str(path), "r") as f:
            attrs = {k: _text(v) for k, v in f.attrs.items()}
            post = f.groups["posterior"].variables
            samples = {name: np.asarray(post[name][...]) for name in FREE_VARIABLES if name in post}
            diverging = f.groups["sample_stats"].variables["diverging"][...]
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        # h5py and h5netcdf raise any of these on a truncated, zeroed or junk file.
        raise DamagedFitError(f"{path}: not a stored fit this package can read ({exc}).") from None
    return attrs, samples, int(np.sum(diverging))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load_posterior(
    path: str | Path, spec: ModelSpec, evidence: EvidenceSet | None = None
) -> Posterior:
    """Read a saved posterior and check it belongs to this model, this evidence and this engine.

    Without ``evidence``, the items saved with the posterior are read back,
    validated against the model and checked against the stored hash.

    Raises
    ------
    ProvenanceError
        If the stored model or evidence hash differs from the ones given, or
        the file was written in another format or by another engine version
        (refit instead: its numbers may not be this engine's).
    DamagedFitError
        If the file cannot be read, its draws do not match the hash saved
        with them, or its attributes are malformed: it must not be served.

    Notes
    -----
    The diagnostics saved with the fit are covered by the same hash as the
    draws, so an edit of either is refused; a fit saved without them comes
    back without them, and its first forecast checks the draws. The hash is
    an integrity check, not a signature: an edit that also rewrites the hash
    passes it. So the draws' basic facts are checked as well (every value
    finite, each variable's shape chains x draws x its elements in the model,
    the stored settings' chains and draws, and diagnostics that agree with
    them and with their own verdict); a fit failing them is damaged.
    """
    attrs, samples, divergences = read_netcdf(path)
    for key, want in (
        ("format_version", str(FORMAT_VERSION)),
        ("engine_version", engine_version()),
    ):
        if attrs.get(key) != want:
            raise ProvenanceError(
                f"{path}: written with {key} {attrs.get(key, 'unknown')}, this engine has "
                f"{want}. Refit instead of loading."
            )
    stored = attrs.get("diagnostics", "")
    if attrs.get("draws_sha256") != draws_sha256(samples, divergences, stored):
        raise DamagedFitError(
            f"{path}: its draws or diagnostics do not match the hash saved with them: the file "
            "was damaged or edited. Refit instead of loading."
        )
    _check_hash(path, attrs, "model_sha256", spec.sha256)
    try:
        if evidence is None:
            r = KeyReader(Path(path), EvidenceError)
            raw = json.loads(attrs.get("evidence_items", "[]"))
            evidence = EvidenceSet.of(
                [parse_item(r, b, f"items[{i}]", spec) for i, b in enumerate(raw)]
            )
        settings = FitSettings(**json.loads(attrs["fit_settings"]))
        # Checked against the draws by the hash above: served without recomputing them, so
        # that a stored forecast needs neither ArviZ nor xarray.
        diagnostics = Diagnostics(**json.loads(stored)) if stored else None
    except (EvidenceError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DamagedFitError(f"{path}: malformed attributes ({exc}).") from None
    _check_hash(path, attrs, "evidence_sha256", evidence.sha256)
    problem = _draws_problem(spec, samples, divergences, settings, diagnostics)
    if problem:
        raise DamagedFitError(
            f"{path}: {problem}, although they match their hash: the file was edited or "
            "written wrongly. Refit instead of loading."
        )
    return Posterior(spec, evidence, samples, settings, attrs, divergences, diagnostics=diagnostics)


def _check_hash(path: str | Path, attrs: dict[str, str], key: str, want: str) -> None:
    if attrs.get(key) != want:
        raise ProvenanceError(
            f"{path}: stored {key} {str(attrs.get(key))[:12]} does not match the current "
            f"{want[:12]}; the model file or the evidence changed since it was saved. "
            "Refit instead of loading."
        )


def _draws_problem(
    spec: ModelSpec,
    samples: dict[str, np.ndarray],
    divergences: int,
    settings: FitSettings,
    diagnostics: Diagnostics | None,
) -> str:
    """Return what is wrong with a stored fit's draws and diagnostics, or "" if nothing."""
    want = {name: len(beliefs) for name, (beliefs, _) in variable_beliefs(spec).items()}
    needed = {name for name, n in want.items() if n}  # one with no elements may be left out
    if not needed <= set(samples) <= set(want):
        return f"its variables are {sorted(samples)}, the model's {sorted(needed)}"
    fitted = (settings.chains, settings.draws)
    for name, arr in samples.items():
        if arr.shape != (*fitted, want[name]):
            return (
                f"its draws of {name} have shape {arr.shape}, not {(*fitted, want[name])} "
                "(chains, draws per chain, elements)"
            )
        if arr.dtype.kind != "f" or not np.isfinite(arr).all():
            return f"its draws of {name} are not all finite numbers"
    d = diagnostics
    if d is None:
        return ""
    counts = (d.divergences, d.chains, d.draws)
    numbers = (d.max_rhat, d.min_ess_bulk, d.min_ess_tail)
    if not all(type(n) is int for n in counts) or not all(
        type(x) in (int, float) and not np.isnan(x) for x in numbers
    ):
        return f"its diagnostics are not all numbers ({numbers}, {counts})"
    if d.chains and (d.chains, d.draws) != fitted:
        return f"its diagnostics checked {d.chains} x {d.draws} draws, it holds {fitted}"
    if d.divergences != divergences:
        return f"its diagnostics count {d.divergences} divergences, it holds {divergences}"
    fails = d.max_rhat > RHAT_MAX or min(numbers[1:]) < ESS_MIN or divergences
    if d.ok and fails:
        return (
            f"its diagnostics say {'passed' if d.ok else 'failed'} with max R-hat "
            f"{d.max_rhat}, min ESS {min(numbers[1:])} and {divergences} divergences"
        )
    return ""
