"""The package never deserialises user files unsafely, nor runs text as code or as a shell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "allegiance"
UNSAFE = {
    "pickle (runs code while loading)": r"\b(c?pickle|dill|shelve|marshal)\b",
    "eval or exec of text": r"(?<![.\w])(eval|exec|compile)\s*\(",
    "yaml.load without the safe loader": r"yaml\.(load|load_all|unsafe_load|full_load)\s*\(",
    "a YAML loader that constructs objects": r"\b(Unsafe|Full)?Loader\b",
    "a shell": r"shell\s*=\s*True|os\.system\s*\(|os\.popen\s*\(",
}


@pytest.mark.parametrize("what", sorted(UNSAFE))
def test_no_module_of_the_package_does_it(what: str) -> None:
    pattern = re.compile(UNSAFE[what])
    found = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line.split("#")[0])
    ]
    assert not found, f"{what}:\n" + "\n".join(found)


def test_the_scan_finds_what_it_looks_for() -> None:
    """Each pattern matches the code it is meant to refuse (the scan is not vacuous)."""
    samples = {
        "pickle (runs code while loading)": "import pickle",
        "eval or exec of text": "value = eval(text)",
        "yaml.load without the safe loader": "yaml.load(text, Loader=yaml.Loader)",
        "a YAML loader that constructs objects": "yaml.load(text, Loader=UnsafeLoader)",
        "a shell": "subprocess.run(cmd, shell=True)",
    }
    for what, code in samples.items():
        assert re.search(UNSAFE[what], code), what
    assert not re.search(UNSAFE["a YAML loader that constructs objects"], "yaml.SafeLoader")
