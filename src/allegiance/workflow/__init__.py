"""The workflow an analyst runs: evidence in force, stored fits, forecasts with little sampling.

The command line and the reports use it; it prints nothing.
"""

from allegiance.workflow.forecasting import (
    Forecasted,
    InForce,
    Opened,
    evidence_in_force,
    explain,
    fit_and_store,
    forecast_and_record,
    import_evidence,
    open_ledger,
    record_of,
    run_forecast,
)
from allegiance.workflow.store import FitStore

__all__ = [
    "FitStore",
    "Forecasted",
    "InForce",
    "Opened",
    "evidence_in_force",
    "explain",
    "fit_and_store",
    "forecast_and_record",
    "import_evidence",
    "open_ledger",
    "record_of",
    "run_forecast",
]
