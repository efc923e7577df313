"""Identity of a result: hashes of its inputs and the versions that made it."""

from __future__ import annotations

import functools
from importlib import metadata

PACKAGES = ("allegiance", "pymc", "pytensor", "arviz", "nutpie", "numpy", "scipy")


def versions() -> dict[str, str]:
    """Return the installed versions of the packages a forecast depends on."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    # Read once per process: package metadata is slow to parse and does not change.
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def engine_version() -> str:
    """Return this package's version: a stored fit serves only the engine that made it."""
    return versions()["allegiance"]
