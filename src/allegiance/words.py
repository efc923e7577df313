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


# Likelihood ratio a report's stated strength stands for (soft evidence).
REPORT_SCALE: tuple[tuple[str, float], ...] = (
    ("weakly", 2.0),
    ("moderately", 4.0),
    ("strongly", 10.0),
    ("very strongly", 30.0),
)

# Admiralty grades: how far a source's reliability (A-F) and the information's
# credibility (1-6) let a report count. The weight multiplies the report's
# log-likelihood ratio (likelihood tempering): A1 counts fully, a report from an
# unreliable source about improbable information barely counts, and "cannot be
# judged" (F, 6) counts half.
RELIABILITY = {"A": 1.0, "B": 0.8, "C": 0.6, "D": 0.4, "E": 0.2, "F": 0.5}
CREDIBILITY = {"1": 1.0, "2": 0.8, "3": 0.6, "4": 0.4, "5": 0.2, "6": 0.5}


def report_ratio(word: str) -> float | None:
    """Return the likelihood ratio a report-strength word stands for, or None."""
    key = _normalise(word)
    for name, ratio in REPORT_SCALE:
        if key == name:
            return ratio
    return None


def known_report_words() -> list[str]:
    """List the words :func:`report_ratio` accepts, for error messages."""
    return [name for name, _ in REPORT_SCALE]


def grade_weight(grade: str) -> float:
    """Return the tempering weight in [0, 1] of an Admiralty grade such as ``B2``.

    Examples
    --------
    >>> grade_weight("A1"), grade_weight("C3")
    (1.0, 0.36)
    """
    return round(RELIABILITY[grade[0].upper()] * CREDIBILITY[grade[1]], 12)
