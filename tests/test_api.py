"""The Python API is lazy: loading and configuring never builds or samples."""

from __future__ import annotations

import subprocess
import sys

from conftest import FIXTURES, REFERENCE

CODE = """
import sys, allegiance
spec = allegiance.load_spec({model!r})
ev = allegiance.load_evidence({evidence!r}, spec)
settings = allegiance.FitSettings(draws=10)
heavy = sorted(m for m in ("pymc", "nutpie", "pytensor") if m in sys.modules)
print(len(ev.items), heavy)
"""


def test_loading_imports_no_sampler():
    evidence = FIXTURES / "evidence" / "afghanistan_2020_synthetic.yaml"
    code = CODE.format(model=str(REFERENCE), evidence=str(evidence))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # 35 items on file, and survival of the 3 factions at risk of the public hazard
    assert out.stdout.split() == ["38", "[]"]
