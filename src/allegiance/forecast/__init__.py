"""Forecasts: posterior probabilities of the model's dated questions.

:mod:`~allegiance.forecast.questions` computes each kind of question from the
model's quantities, :mod:`~allegiance.forecast.summary` turns draws into
probabilities, intervals and words, :mod:`~allegiance.forecast.result` holds them.
"""

from allegiance.forecast.questions import COMPUTE, compute, reads
from allegiance.forecast.result import PAST_HORIZON, Forecast, QuestionForecast
from allegiance.forecast.summary import (
    CHUNK,
    EXACT,
    INTERVAL,
    forecast,
    probabilities,
    provenance_of,
    question_draws,
    summarise,
    weighted_quantiles,
)

__all__ = [
    "CHUNK",
    "COMPUTE",
    "EXACT",
    "INTERVAL",
    "PAST_HORIZON",
    "Forecast",
    "QuestionForecast",
    "compute",
    "forecast",
    "probabilities",
    "provenance_of",
    "question_draws",
    "reads",
    "summarise",
    "weighted_quantiles",
]
