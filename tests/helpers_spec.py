"""Paths and checks shared by the loading and validation tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from allegiance.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "afghanistan_2020.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE_EVIDENCE = FIXTURES / "evidence" / "afghanistan_2020_synthetic.yaml"
MODELS = FIXTURES / "models"
EVIDENCE = FIXTURES / "evidence"
MINIMAL = MODELS / "minimal.yaml"
MINIMAL_EVIDENCE = EVIDENCE / "minimal.yaml"


def wrong_files(folder: Path) -> set[str]:
    """Names of the broken fixture files in a folder."""
    return {p.name for p in folder.glob("wrong_*.yaml")}


def expect_error(
    load: Callable[[], Any], cls: type[SpecError], path: Path, key: str, fragment: str
) -> SpecError:
    """Call ``load`` and check the error it raises: exact class, file, key path and problem."""
    with pytest.raises(cls) as info:
        load()
    err = info.value
    assert type(err) is cls, f"expected exactly {cls.__name__}, got {type(err).__name__}"
    assert err.path == str(path)
    assert str(err).startswith(f"{path}: at '{key}': "), str(err)
    assert err.key == key, f"key {err.key!r} != {key!r}: {err}"
    assert fragment in err.problem, f"{fragment!r} not in {err.problem!r}"
    return err


def edited_spec_error(model: Path, old: str, new: str, folder: Path) -> SpecError:
    """Load a copy of ``model`` with ``old`` replaced by ``new``; return the error it raises."""
    text = model.read_text()
    assert old in text, old
    path = folder / model.name
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        from allegiance.spec import load_spec

        load_spec(path)
    assert str(path) in str(info.value)
    return info.value
