"""The posterior store: fits kept beside the model file, named by what they were fitted to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
        return sorted(self.directory.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)

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
