"""Fan-out: independent units of work run in this process, or on ``dask.distributed``.

A :class:`Fanout` runs a function over a list of tasks and returns the results
in task order. With no workers (or one) and no scheduler it is a plain loop in
this process. Otherwise each task goes to a worker of a ``LocalCluster`` of
``workers`` processes (one thread each), or of the cluster whose scheduler is
at ``scheduler``. A worker process lives for the whole run, and the compiled
sampler of a model is kept per process (:func:`allegiance.posterior.prepare`),
so a worker compiles a model once and reuses it for every task of that model
it is given.

A task carries everything its result depends on (the model, the record, the
dates, the sampler settings and its seed), so its result is the same whichever
worker runs it and in whatever order: a fanned-out run gives the numbers of the
serial run with the same seed.

Dask is imported only when a cluster is used: it is the optional extra
``allegiance[dask]``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from allegiance.errors import FanoutError

T = TypeVar("T")
R = TypeVar("R")

EXTRA = "allegiance[dask]"
CONNECT_SECONDS = 10.0  # how long to try a scheduler's address before saying it is not there


def distributed() -> Any:
    """Return the ``distributed`` module, or say which extra installs it.

    Raises
    ------
    FanoutError
        When dask.distributed is not installed.
    """
    try:
        import distributed as dd
    except ImportError as exc:
        raise FanoutError(
            f"--workers and --scheduler run on dask.distributed, which is not installed "
            f"({exc.name or 'distributed'} is missing). Fix: pip install '{EXTRA}', or leave "
            "both options out to run in this process."
        ) from None
    return dd


@dataclass(frozen=True)
class Fanout:
    """Where independent tasks run: here, a local cluster of processes, or a Dask scheduler.

    Parameters
    ----------
    workers : int, optional
        Worker processes of a local cluster (one thread each). None or 1
        without a scheduler: run in this process, one task after another.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); its
        workers must have this package and the model files' folders.

    Examples
    --------
    >>> Fanout().run(abs, [-2, 3, -1])
    [2, 3, 1]
    >>> Fanout(workers=2).serial
    False
    """

    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise FanoutError(f"--workers {self.workers}: give 1 or more worker processes.")
        if self.workers is not None and self.scheduler is not None:
            raise FanoutError(
                f"--workers {self.workers} and --scheduler {self.scheduler}: a scheduler's "
                "cluster has its own workers. Fix: give one of the two."
            )
        if self.scheduler is not None and not self.scheduler.strip():
            raise FanoutError("--scheduler is empty: give an address such as tcp://host:8786.")
        if not self.serial:
            distributed()  # refused now, before any work, if the extra is missing

    @property
    def serial(self) -> bool:
        """Whether tasks run in this process, one after another."""
        return self.scheduler is None and (self.workers or 1) == 1

    def run(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        """Return ``fn(task)`` for every task, in the tasks' order.

        Parameters
        ----------
        fn : callable
            A function importable by the workers (a module's top-level function).
        tasks : sequence
            Its arguments, one per task; each is sent to a worker as it is.

        Raises
        ------
        FanoutError
            When dask.distributed is missing or the scheduler cannot be reached.
            A task's own error is raised here as it was raised on the worker.
        """
        if self.serial or not tasks:
            return [fn(task) for task in tasks]
        with self._client() as client:
            futures = client.map(fn, list(tasks), pure=False)
            return list(client.gather(futures))

    @contextmanager
    def _client(self) -> Iterator[Any]:
        dd = distributed()
        if self.scheduler is None:
            cluster = dd.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            with cluster, dd.Client(cluster) as client:
                yield client
            return
        try:
            client = dd.Client(self.scheduler, timeout=CONNECT_SECONDS)
        except (OSError, ValueError, TypeError) as exc:
            raise FanoutError(
                f"--scheduler {self.scheduler}: no Dask scheduler answered "
                f"({type(exc).__name__}: {exc}). Fix: start one (dask scheduler) and give its "
                "address, such as tcp://host:8786, or use --workers N for a local cluster."
            ) from None
        with client:
            yield client
