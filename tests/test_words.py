"""The analyst's words: ICD 203 probability bands and effect strengths."""

from __future__ import annotations

import numpy as np
import pytest

from allegiance.words import (
    estimative_band,
    estimative_word,
    known_estimative_words,
    known_strength_words,
    strength_band,
)

# ICD 203, Analytic Standards: the seven estimative terms, their synonyms and bands.
ICD_203 = [
    ("almost no chance", "remote", 0.01, 0.05),
    ("very unlikely", "highly improbable", 0.05, 0.20),
    ("unlikely", "improbable", 0.20, 0.45),
    ("roughly even chance", "roughly even odds", 0.45, 0.55),
    ("likely", "probable", 0.55, 0.80),
    ("very likely", "highly probable", 0.80, 0.95),
    ("almost certain", "nearly certain", 0.95, 0.99),
]
WORDS = [w for w, *_ in ICD_203]


@pytest.mark.parametrize(("word", "synonym", "lower", "upper"), ICD_203)
def test_estimative_words_and_synonyms_map_to_their_icd203_band(
    word: str, synonym: str, lower: float, upper: float
) -> None:
    assert estimative_band(word) == (lower, upper)
    assert estimative_band(synonym) == (lower, upper)


@pytest.mark.parametrize(
    "spelling", ["Very Likely", "very-likely", "  VERY   likely ", "Highly-Probable"]
)
def test_estimative_band_ignores_case_hyphens_and_spacing(spelling: str) -> None:
    assert estimative_band(spelling) == (0.80, 0.95)


@pytest.mark.parametrize("word", ["quite likely", "certain", "", "likelyy"])
def test_unknown_estimative_word_has_no_band(word: str) -> None:
    assert estimative_band(word) is None


def test_known_estimative_words_are_the_seven_icd203_terms_in_order() -> None:
    assert known_estimative_words() == WORDS


@pytest.mark.parametrize(("word", "synonym", "lower", "upper"), ICD_203)
def test_estimative_word_of_a_band_midpoint_is_the_band_word(
    word: str, synonym: str, lower: float, upper: float
) -> None:
    assert estimative_word((lower + upper) / 2) == word


def test_estimative_word_is_monotone_over_the_unit_interval() -> None:
    grid = np.linspace(0.0, 1.0, 2001)
    ranks = [WORDS.index(estimative_word(float(p))) for p in grid]
    assert all(a <= b for a, b in zip(ranks[:-1], ranks[1:], strict=True))
    assert ranks[0] == 0
    assert ranks[-1] == len(WORDS) - 1
    assert sorted(set(ranks)) == list(range(len(WORDS)))  # every band is reached


@pytest.mark.parametrize(
    ("p", "word"),
    [
        (0.0, "almost no chance"),
        (0.005, "almost no chance"),
        (0.1999, "very unlikely"),
        (0.20, "unlikely"),  # a band includes its lower bound
        (0.5, "roughly even chance"),
        (0.995, "almost certain"),
        (1.0, "almost certain"),
    ],
)
def test_estimative_word_at_edges(p: float, word: str) -> None:
    assert estimative_word(p) == word


@pytest.mark.parametrize(
    ("word", "lower", "upper"),
    [
        ("weak", 1.1, 1.8),
        ("moderate", 1.5, 4.0),
        ("strong", 3.0, 10.0),
        ("very strong", 6.0, 30.0),
    ],
)
def test_strength_words_map_to_their_factor_range(word: str, lower: float, upper: float) -> None:
    assert strength_band(word) == (lower, upper)
    assert strength_band(word.upper().replace(" ", "-")) == (lower, upper)


def test_strength_words_grow_in_strength() -> None:
    bands = [strength_band(w) for w in known_strength_words()]
    assert known_strength_words() == ["weak", "moderate", "strong", "very strong"]
    medians = [np.sqrt(lo * hi) for lo, hi in bands]
    assert all(a < b for a, b in zip(medians[:-1], medians[1:], strict=True))
    assert all(1.0 < lo < hi for lo, hi in bands)


@pytest.mark.parametrize("word", ["huge", "likely", "", "strongest"])
def test_unknown_strength_word_has_no_band(word: str) -> None:
    assert strength_band(word) is None
