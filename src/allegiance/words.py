"""Words analysts use for probabilities and strengths, with their numbers.

The probability scale follows ICD 203 (US Intelligence Community Directive 203,
*Analytic Standards*): seven bands from "almost no chance" to "almost certain".
"""

from __future__ import annotations

# (word, synonym, lower, upper): the band of probabilities the word covers.
ESTIMATIVE_SCALE: tuple[tuple[str, str, float, float], ...] = (
    ("almost no chance", "remote", 0.01, 0.05),
    ("very unlikely", "highly improbable", 0.05, 0.20),
    ("unlikely", "improbable", 0.20, 0.45),
    ("roughly even chance", "roughly even odds", 0.45, 0.55),
    ("likely", "probable", 0.55, 0.80),
    ("very likely", "highly probable", 0.80, 0.95),
    ("almost certain", "nearly certain", 0.95, 0.99),
)

# Strength of an effect as a multiplicative factor on odds (or on a rate):
# (word, lower, upper) of a 90 % range of the factor.
STRENGTH_SCALE: tuple[tuple[str, float, float], ...] = (
    ("weak", 1.1, 1.8),
    ("moderate", 1.5, 4.0),
    ("strong", 3.0, 10.0),
    ("very strong", 6.0, 30.0),
)


def _normalise(word: str) -> str:
    return " ".join(word.lower().replace("-", " ").split())


def estimative_band(word: str) -> tuple[float, float] | None:
    """Return the probability band of an ICD 203 word, or None if unknown.

    Examples
    --------
    >>> estimative_band("Very likely")
    (0.8, 0.95)
    """
    key = _normalise(word)
    for name, synonym, lower, upper in ESTIMATIVE_SCALE:
        if key in (name, synonym):
            return lower, upper
    return None


def estimative_word(probability: float) -> str:
    """Return the ICD 203 word whose band holds ``probability``.

    Probabilities below 1 % read "almost no chance", above 99 % "almost certain".

    Examples
    --------
    >>> estimative_word(0.62)
    'likely'
    """
    for name, _, _, upper in ESTIMATIVE_SCALE:
        if probability < upper:
            return name
    return ESTIMATIVE_SCALE[-1][0]


def strength_band(word: str) -> tuple[float, float] | None:
    """Return the 90 % range of the factor a strength word stands for, or None."""
    key = _normalise(word)
    for name, lower, upper in STRENGTH_SCALE:
        if key == name:
            return lower, upper
    return None


def known_estimative_words() -> list[str]:
    """List the words :func:`estimative_band` accepts, for error messages."""
    return [name for name, *_ in ESTIMATIVE_SCALE]


def known_strength_words() -> list[str]:
    """List the words :func:`strength_band` accepts, for error messages."""
    return [name for name, *_ in STRENGTH_SCALE]
