"""The posterior store: fits kept beside the model file, named by what they were fitted to."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from allegiance.errors import FitStoreError
from allegiance.evidence import EvidenceSet
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec


@dataclass(frozen=True)
class FitStore:
    """Where a model's fits are kept: ``<model folder>/.allegiance/<model id>/``.

    A fit's file name holds the first 12 hex digits of the model's and the
    evidence's hashes and the fit settings, so a fit of exactly some inputs is
    found by name.

    Parameters
    ----------
    spec : ModelSpec
        The model whose fits are kept.
    """

    spec: ModelSpec

    @property
    def directory(self) -> Path:
        """Return the folder of the model's fits."""
        return self.spec.path.parent / ".allegiance" / self.spec.id

    def path(self, evidence: EvidenceSet, settings: FitSettings) -> Path:
        """Return where the fit of exactly these inputs is kept."""
        return (
            self.directory / f"{self.spec.sha256[:12]}-{evidence.sha256[:12]}-{_tag(settings)}.nc"
        )

    def fits(self, settings: FitSettings) -> list[Path]:
        """Return the stored fits of this model file with these settings, newest first."""
        pattern = f"{self.spec.sha256[:12]}-*-{_tag(settings)}.nc"
        found: list[tuple[float, Path]] = []
        for p in self.directory.glob(pattern):
            try:  # lstat: a dangling symlink is listed (and set aside when loaded), not a crash
                found.append((p.lstat().st_mtime, p))
            except OSError:  # removed or set aside by another process meanwhile
                continue
        return [p for _, p in sorted(found, key=lambda f: f[0], reverse=True)]

    def set_aside(self, path: Path) -> Path | None:
        """Rename a damaged fit to ``<name>.damaged`` so it is neither served nor listed again.

        Parameters
        ----------
        path : Path
            The damaged fit (a file, a symlink or a folder).

        Returns
        -------
        Path or None
            Where it now is, or None if it could not be moved (already moved
            by another process, or the folder is not writable).
        """
        target = path.with_name(f"{path.name}.damaged")
        if os.path.lexists(target):
            target = path.with_name(f"{path.name}.{time.time_ns()}.damaged")
        try:
            os.rename(path, target)
        except OSError:
            return None
        return target

    def check_writable(self) -> None:
        """Refuse, before a fit is made, when the fit could not be stored.

        Raises
        ------
        FitStoreError
            If the folder cannot be created or a file cannot be written in it.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.directory, prefix=".probe.") as probe:
                probe.write(b"x")  # a write, not only a create: a full disk refuses it too
        except OSError as exc:
            raise FitStoreError(
                f"{self.directory}: the folder of this model's fits cannot be written "
                f"({exc.strerror or exc}); a fit made now could not be kept. Fix: make the "
                "folder writable, or copy the model file to a writable folder."
            ) from None

    def other_settings(self, settings: FitSettings) -> list[str]:
        """Return the settings (seed, chains x draws, tuning, target acceptance) of other fits."""
        tags = {
            p.stem.split("-", 2)[2]
            for p in self.directory.glob(f"{self.spec.sha256[:12]}-*.nc")
            if p.stem.count("-") >= 2
        }
        return sorted(tags - {_tag(settings)})


def _tag(s: FitSettings) -> str:
    # Every setting that changes the draws: a fit at another target acceptance is another fit.
    return f"s{s.seed}-{s.chains}x{s.draws}-t{s.tune}-a{s.target_accept:g}"
