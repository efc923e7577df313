"""The Python API is lazy: loading and configuring never builds or samples."""

from __future__ import annotations

import subprocess
import sys

from conftest import REFERENCE

CODE = """
import sys, allegiance
spec = allegiance.load_spec({model!r})
ev = allegiance.load_evidence({evidence!r}, spec)
settings = allegiance.FitSettings(draws=10)
heavy = sorted(m for m in ("pymc", "nutpie", "pytensor") if m in sys.modules)
print(len(ev.items), heavy)
"""


def test_loading_imports_no_sampler():
    evidence = REFERENCE.with_name("afghanistan_2020.evidence.yaml")
    code = CODE.format(model=str(REFERENCE), evidence=str(evidence))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["35", "[]"]
