"""The package's shape: its layers, its modules' size, and ARCHITECTURE.md, kept true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "allegiance"

# The pipeline, lowest first: a module may import its own layer and those below it.
LAYERS = {
    **dict.fromkeys(
        ("errors", "dims", "words", "cache", "reading", "syntax", "provenance", "spreadsheet"), 0
    ),
    "spec": 1,
    "model": 2,
    "evidence": 3,
    "posterior": 4,
    "forecast": 5,
    "update": 6,
    "ledger": 7,
    "workflow": 8,
    "cli": 9,
    "report": 9,
}
FACES = {"cli", "report"}
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _component(path: Path) -> str:
    """The top-level part of the package a file belongs to: ``spec``, ``words``, ..."""
    part = path.relative_to(PACKAGE).parts[0]
    return part.removesuffix(".py")


def _imported(path: Path) -> set[str]:
    """Top-level parts of the package a file imports, anywhere in it (functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "allegiance":
                names = [f"allegiance.{a.name}" for a in node.names]
        out |= {n.split(".")[1] for n in names if n.startswith("allegiance.")}
    return out


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {_component(p) for p in _modules()} - {"__init__"} <= set(LAYERS)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    here = _component(path)
    if here == "__init__":  # the package's lazy front door names the core, never a face
        assert not _imported(path) & FACES
        return
    for other in _imported(path):
        assert LAYERS[other] <= LAYERS[here], f"{here} (layer {LAYERS[here]}) imports {other}"
        if here not in FACES:
            assert other not in FACES, f"the core ({here}) imports the face {other}"


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "x.py"
    module.write_text("def f():\n    from allegiance.update import Updater\n")
    assert _imported(module) == {"update"}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name}: {lines} lines; split it along a concept"


def _table_modules() -> set[str]:
    """Module paths named in ARCHITECTURE.md's module table: `spec/load.py` and the like."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    return set(re.findall(r"^\| `([a-z_/]+\.py)`", text, flags=re.MULTILINE))


def test_architecture_names_every_module_and_only_real_ones() -> None:
    named = _table_modules()
    # A subpackage's __init__ only re-exports its modules' names.
    real = {str(p.relative_to(PACKAGE)) for p in _modules() if p.name != "__init__.py"}
    assert named, "ARCHITECTURE.md has no module table"
    assert not named - real, f"named but missing: {sorted(named - real)}"
    assert not real - named, f"not named in ARCHITECTURE.md: {sorted(real - named)}"
