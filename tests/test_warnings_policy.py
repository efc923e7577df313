"""The test configuration turns a warning into an error only where it is about this package."""

from __future__ import annotations

import warnings

import pytest


def _warn(module: str, category: type[Warning] = DeprecationWarning) -> None:
    warnings.warn_explicit("a note", category, f"{module.replace('.', '/')}.py", 1, module=module)


def test_a_librarys_warning_about_itself_is_shown_not_raised() -> None:
    # WeasyPrint warns so at import where libharfbuzz-subset is missing: a fact of the machine.
    with warnings.catch_warnings(record=True) as seen:  # records, keeps the configured filters
        _warn("weasyprint.text.ffi")
    assert [str(w.message) for w in seen] == ["a note"]


@pytest.mark.parametrize("module", ["allegiance", "allegiance.report.document", "test_report"])
def test_a_warning_raised_in_this_package_or_its_tests_is_an_error(module: str) -> None:
    with pytest.raises(DeprecationWarning, match="a note"):
        _warn(module)
    with pytest.raises(RuntimeWarning, match="a note"):
        _warn(module, RuntimeWarning)
