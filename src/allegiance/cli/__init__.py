"""The command line: ``allegiance forecast | priors | check | explain | evidence | report``, ...

A face of the package: it reads arguments, calls :mod:`allegiance.workflow`
and the core, and prints. Nothing below it imports it.
"""

from allegiance.cli import (  # noqa: F401  (each registers commands)
    commands,
    evidence,
    ledger,
    outcomes,
    reports,
    scenarios,
    serve,
    validation,
)
from allegiance.cli.shared import EXIT_BAD_INPUT, EXIT_UNTRUSTWORTHY, app

__all__ = ["EXIT_BAD_INPUT", "EXIT_UNTRUSTWORTHY", "app"]
