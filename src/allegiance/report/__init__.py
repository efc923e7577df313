"""Reports: files and figures made from forecasts, scores and backtests (a face of the package).

Nothing in the core imports it.
"""

from allegiance.report.backtest import write_backtest
from allegiance.report.figures import backtest_figures, score_figures

__all__ = ["backtest_figures", "score_figures", "write_backtest"]
