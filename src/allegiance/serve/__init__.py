"""The local web page (``allegiance serve``): a face over the workflow, with no logic of its own.

A face like :mod:`allegiance.cli` and :mod:`allegiance.report`: it reads the
theatres, the ledger and the forecast history through the workflow, enters
items as ``evidence add`` does, and makes reports with the report's own
code. Only ``allegiance.cli.serve`` imports it.
"""

from allegiance.serve.app import create_app
from allegiance.serve.security import NotFoundError, RefusedError, Secrets, check_bind, confined

__all__ = ["NotFoundError", "RefusedError", "Secrets", "check_bind", "confined", "create_app"]
