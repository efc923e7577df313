r"""Reference classes: how often groups like these split, merge, ally, pledge or end, pooled.

Each row of ``data/reference_classes.csv`` counts, from a published source, the
events of one kind (:data:`EVENT_KINDS`) in a class of groups and the
group-months those groups were at risk, and grades the figure (:data:`BOUNDS`):
a *floor* counts too few events or too much exposure (Bowden's splinters count
only past 25 battle deaths), a *ceiling* the reverse (Stanford's map samples
visible groups, and its exposure is only what its links date), an *estimate*
neither. Floors and ceilings of one kind disagree: the table's splits run from
1 % a year (Bowden, all groups) to 21 % (Stanford, Somalia). Each bound is taken
to be at most ten times off, so a floor and a ceiling may sit a hundred times
apart.

The classes of one kind are pooled by a hierarchical Gamma–Poisson model. Class
:math:`c` of kind :math:`k` has a true monthly rate :math:`\theta_c`; its
source measured the rate :math:`\theta_c e^{\beta_c}`, off by a factor its
bound allows:

.. math::

    y_c &\sim \mathrm{Poisson}(\theta_c\, e^{\beta_c} E_c), \qquad
    \theta_c \sim \mathrm{Gamma}(\alpha_k,\ \alpha_k / \mu_k), \\
    \beta_c &= -u_f \text{ (floor)},\ +u_c \text{ (ceiling)},\ 0 \text{ (estimate)}, \qquad
    u_f, u_c \sim \mathrm{Uniform}(0, \log 10),

with :math:`\log\mu_k \sim \mathrm{Uniform}(\log 10^{-5}, 0)` (a rate between
once in 8,000 years and once a month) and :math:`\log\alpha_k \sim
\mathrm{Uniform}(\log 0.1, \log 100)` (classes that differ by orders of
magnitude, up to classes that agree within 10 %). A record's own count
(:class:`Extra`: :math:`z` events in :math:`X` group-months of a class) is a
direct measure, :math:`z \sim \mathrm{Poisson}(\theta_c X)`. Given the
hyperparameters, each class's counts have a closed-form negative binomial
likelihood, and its rate's posterior is
:math:`\mathrm{Gamma}(\alpha_k + y_c + z,\ \alpha_k/\mu_k + e^{\beta_c} E_c + X)`.
The hyperparameters are integrated on a fixed grid (midpoints of
:data:`GRID` cells per axis, exact for the model up to the grid), so the fit is
deterministic, takes about a tenth of a second, and is done once per set of rows
and cached.
A class's rate is then a mixture of Gammas (:class:`RatePosterior`): a class
with few group-months is pulled towards its kind's mean, one with many keeps its
own rate, and a floor's or ceiling's rate is spread by how far its bound may be.

Only rows whose period ended before a model's analysis date are pooled for it,
and only such a class can be its prior.

Examples
--------
>>> posterior = class_rate("split_mmo_syria", dt.date(2016, 6, 1))  # doctest: +SKIP
>>> round(posterior.p_event(12), 3)  # doctest: +SKIP
0.047
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import special

from allegiance.errors import SpecError
from allegiance.spec.matching import MASS, beta_params
from allegiance.spec.priors import Prior
from allegiance.spec.rates import RatePosterior

EVENT_KINDS = ("split", "merger", "alliance", "pledge", "group_end", "leader_exit", "surrender")
BOUNDS = ("floor", "ceiling", "estimate")
COLUMNS = (
    "id", "event_kind", "region", "ideology", "period_start", "period_end",
    "events", "group_months", "bound", "citation", "note",
)  # fmt: skip
PACKAGED = "data/reference_classes.csv"
BOUND_FACTOR = 10.0  # how far a floor or a ceiling may be from the truth (see the docstring)
MU_RANGE = (1e-5, 1.0)  # monthly rates
ALPHA_RANGE = (0.1, 100.0)
PRUNE = 1e-9  # the mixture's lightest components holding this much mass are dropped


@dataclass(frozen=True)
class ReferenceClass:
    """One row: a class of groups, its events of one kind, and the months at risk."""

    id: str
    event_kind: str
    region: str
    ideology: str
    period_start: int
    period_end: int
    events: int
    group_months: float
    bound: str
    citation: str
    note: str

    @property
    def rate_per_year(self) -> float:
        """Return the events per group-year the source shows."""
        return 12.0 * self.events / self.group_months

    def usable(self, analysis_date: dt.date) -> bool:
        """Return whether the class's period ended before ``analysis_date``."""
        return dt.date(self.period_end, 12, 31) < analysis_date

    def counts(self) -> str:
        """Return the counts as shown to an analyst, e.g. ``8 events / 828 group-months``."""
        return f"{self.events} events / {self.group_months:,.0f} group-months"


@dataclass(frozen=True)
class Extra:
    """What a record shows of a class: ``events`` in ``group_months`` of groups like it."""

    id: str
    events: int
    group_months: float


def read_classes(path: Path | None = None) -> dict[str, ReferenceClass]:
    """Read and check a reference-class table (the packaged one by default).

    Raises
    ------
    SpecError
        Naming the file, the row and column, and the fix.
    """
    if path is None:
        where = str(resources.files("allegiance").joinpath(PACKAGED))
        text = resources.files("allegiance").joinpath(PACKAGED).read_text(encoding="utf-8")
    else:
        where, text = str(path), path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise SpecError(where, "(header)", "the columns are not the expected ones.",
                        "write the header " + ",".join(COLUMNS) + ".")  # fmt: skip
    out: dict[str, ReferenceClass] = {}
    for i, row in enumerate(reader):
        out[_ident(row, i, where, out)] = _row(row, f"rows[{i}]", where)
    return out


def _ident(row: Mapping[str, str | None], i: int, where: str, seen: Iterable[str]) -> str:
    ident = row.get("id") or ""
    if not ident.isidentifier() or not ident.isascii() or ident in seen:
        raise SpecError(where, f"rows[{i}].id", f"{ident!r} is not a new id.",
                        "give each row its own id of letters, digits and underscores.")  # fmt: skip
    return ident


def _row(row: Mapping[str, str | None], key: str, where: str) -> ReferenceClass:
    if None in row or any(row.get(c) is None for c in COLUMNS):
        raise SpecError(where, key, "the row has not one cell per column.", "fill every column.")
    cells = {c: str(row[c]).strip() for c in COLUMNS}

    def whole(column: str, low: int) -> int:
        value = cells[column]
        if not value.isdigit() or int(value) < low:
            raise SpecError(where, f"{key}.{column}", f"{value!r} is not a whole number >= {low}.",
                            "write the count from the source.")  # fmt: skip
        return int(value)

    events, months = whole("events", 0), whole("group_months", 1)
    start, end = whole("period_start", 1800), whole("period_end", 1800)
    for column, allowed in (("event_kind", EVENT_KINDS), ("bound", BOUNDS)):
        if cells[column] not in allowed:
            raise SpecError(where, f"{key}.{column}", f"unknown {column} {cells[column]!r}.",
                            "use one of: " + ", ".join(allowed) + ".")  # fmt: skip
    if start > end:
        raise SpecError(where, f"{key}.period_end", f"the period {start}-{end} ends before it "
                        "starts.", "write period_start <= period_end.")  # fmt: skip
    if not cells["citation"] or not cells["note"]:
        raise SpecError(where, key, "a row needs its citation and a note on its derivation.",
                        "cite the source in full and say how the counts were derived.")  # fmt: skip
    return ReferenceClass(cells["id"], cells["event_kind"], cells["region"], cells["ideology"],
                          start, end, events, float(months), cells["bound"], cells["citation"],
                          cells["note"])  # fmt: skip


@lru_cache(maxsize=1)
def reference_classes() -> Mapping[str, ReferenceClass]:
    """Return the packaged reference classes by id (read once)."""
    return read_classes()


def _midpoints(lo: float, hi: float, n: int) -> tuple[float, ...]:
    return tuple(float(x) for x in lo + (np.arange(n) + 0.5) * (hi - lo) / n)


@dataclass(frozen=True)
class Grid:
    """The hyperparameters' grid: bound offsets ``u``, kind means ``mu``, shapes ``alpha``.

    Every point has the same prior weight: the midpoints of equal cells of a
    uniform hyperprior (on the log scale for ``mu`` and ``alpha``).
    """

    u: tuple[float, ...]
    mu: tuple[float, ...]
    alpha: tuple[float, ...]


GRID = Grid(
    _midpoints(0.0, math.log(BOUND_FACTOR), 12),
    tuple(math.exp(x) for x in _midpoints(math.log(MU_RANGE[0]), math.log(MU_RANGE[1]), 64)),
    tuple(math.exp(x) for x in _midpoints(math.log(ALPHA_RANGE[0]), math.log(ALPHA_RANGE[1]), 32)),
)


@dataclass(frozen=True)
class Pool:
    """The fitted pool: per kind, the posterior weight of each grid point."""

    rows: Mapping[str, ReferenceClass]
    added: Mapping[str, tuple[float, float]]  # class id -> (events, group-months) of records
    weights: Mapping[str, np.ndarray]  # kind -> (u_f, u_c, mu, alpha)
    grid: Grid

    def _offset(self, bound: str) -> np.ndarray:
        u = np.asarray(self.grid.u)
        return {"floor": -u[:, None], "ceiling": u[None, :], "estimate": np.zeros((1, 1))}[bound]

    def kind_mean(self, kind: str) -> float:
        """Return the posterior mean of a kind's mean monthly rate."""
        w = self.weights[kind].sum(axis=(0, 1, 3))
        return float(np.sum(w * np.asarray(self.grid.mu)))

    def rate(self, class_id: str) -> RatePosterior:
        """Return the posterior of a class's monthly rate."""
        row = self.rows[class_id]
        z, x = self.added.get(class_id, (0.0, 0.0))
        offset = self._offset(row.bound)
        # sum the weights over the axes of u this class's Gamma does not depend on
        axes = tuple(a for a in (0, 1) if offset.shape[a] == 1)
        w = self.weights[row.event_kind].sum(axis=axes, keepdims=True)
        mu, alpha = np.asarray(self.grid.mu)[:, None], np.asarray(self.grid.alpha)[None, :]
        rates = alpha / mu + np.exp(offset)[..., None, None] * row.group_months + x
        shapes = np.broadcast_to(alpha + row.events + z, rates.shape)
        order = np.argsort(w.ravel())[::-1]
        kept = order[: int(np.searchsorted(np.cumsum(w.ravel()[order]), 1.0 - PRUNE)) + 1]
        weights = w.ravel()[kept]
        return RatePosterior(weights / weights.sum(), shapes.ravel()[kept], rates.ravel()[kept])


@lru_cache(maxsize=16)
def fit(rows: tuple[ReferenceClass, ...], extra: tuple[Extra, ...] = (), grid: Grid = GRID) -> Pool:
    """Integrate the hyperparameters on the grid, for these classes and a record's counts.

    Fitted once per set of rows, counts and grid, and cached.
    """
    added = _added(extra)
    pool = Pool({r.id: r for r in rows}, added, {}, grid)
    mu, alpha = np.asarray(grid.mu)[:, None], np.asarray(grid.alpha)[None, :]
    by_kind: dict[str, np.ndarray] = {}
    for row in rows:
        z, x = added.get(row.id, (0.0, 0.0))
        offset = np.broadcast_to(pool._offset(row.bound), (len(grid.u),) * 2)[..., None, None]
        exposure = np.exp(offset) * row.group_months + x
        term = (  # the negative binomial likelihood of the counts, less constants
            alpha * np.log(alpha / mu)
            - (alpha + row.events + z) * np.log(alpha / mu + exposure)
            + special.gammaln(alpha + row.events + z)
            - special.gammaln(alpha)
            + row.events * offset
        )
        by_kind[row.event_kind] = by_kind.get(row.event_kind, np.zeros(term.shape)) + term
    # p(u | data) multiplies the kinds' evidence; p(mu, alpha | u, data) is per kind
    evidence = {k: special.logsumexp(v, axis=(2, 3)) for k, v in by_kind.items()}
    log_u = sum(evidence.values(), np.zeros((len(grid.u),) * 2))
    log_u = log_u - special.logsumexp(log_u)
    weights = {
        k: np.exp(log_u[..., None, None] + v - evidence[k][..., None, None])
        for k, v in by_kind.items()
    }
    return Pool(pool.rows, added, weights, grid)


def _added(extra: Iterable[Extra]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for e in extra:
        z, x = out.get(e.id, (0.0, 0.0))
        out[e.id] = (z + e.events, x + e.group_months)
    return out


def class_rate(class_id: str, analysis_date: dt.date, extra: Iterable[Extra] = ()) -> RatePosterior:
    """Return the posterior of a class's monthly rate, pooled with the classes of its kind.

    Parameters
    ----------
    class_id : str
        A row of the table.
    analysis_date : date
        Only rows whose period ended before it are pooled, and their records' counts.
    extra : iterable of Extra
        Counts a record adds to named classes (a validation run's other theatres).

    Raises
    ------
    KeyError
        For an unknown class, or one whose period ends on or after ``analysis_date``;
        for counts of an unknown class (counts of a class not yet usable are left out).
    """
    classes = reference_classes()
    if class_id not in classes or not classes[class_id].usable(analysis_date):
        raise KeyError(f"no reference class {class_id!r} usable on {analysis_date}")
    extra = tuple(extra)
    for e in extra:
        if e.id not in classes:
            raise KeyError(f"counts given for an unknown reference class {e.id!r}")
    rows = tuple(c for c in classes.values() if c.usable(analysis_date))
    usable = {r.id for r in rows}
    kept = sorted(
        (e for e in extra if e.id in usable), key=lambda e: (e.id, e.events, e.group_months)
    )
    return fit(rows, tuple(kept)).rate(class_id)


def class_prior(
    class_id: str,
    within_months: int,
    analysis_date: dt.date,
    adjust: Prior | None = None,
    extra: Iterable[Extra] = (),
    where: tuple[str, str] = ("reference_classes.csv", ""),
) -> Prior:
    """Return a class's chance of the event within ``within_months`` as a Beta :class:`Prior`.

    The Beta has the mixture's mean and exactly 90 % of its mass between the
    mixture's 5 % and 95 % quantiles. ``adjust``, a LogNormal on a factor,
    multiplies the rate. The statement keeps the class, its counts, bound and
    citation for display. ``where`` (file, key) names the statement in errors.
    """
    row = reference_classes()[class_id]
    posterior = class_rate(class_id, analysis_date, extra)
    statement: dict[str, object] = {"reference_class": class_id, "counts": row.counts(),
                                    "bound": row.bound, "within_months": within_months}  # fmt: skip
    if adjust is not None:
        nodes, node_w = np.polynomial.hermite_e.hermegauss(12)
        factors = np.exp(adjust.params["mu"] + adjust.params["sigma"] * nodes)
        posterior = posterior.scaled(factors, node_w / node_w.sum())
        low, high = adjust.statement["range"]
        statement["adjust"] = f"ratio {adjust.statement['ratio']:g}, range [{low:g}, {high:g}]"
    statement["citation"] = row.citation
    tail = (1.0 - MASS) / 2.0
    lo, hi = (1.0 - math.exp(-posterior.quantile(p) * within_months) for p in (tail, 1.0 - tail))
    mean = posterior.p_event(within_months)
    try:
        alpha, beta = beta_params(mean, lo, hi)
    except ValueError:
        raise SpecError(
            where[0],
            where[1],
            f"the class's chance within {within_months} months, mean {mean:.3g} with 90 % in "
            f"[{lo:.3g}, {hi:.3g}], has no Beta prior that honours it.",
            "choose another class or adjustment, or state the prior.",
        ) from None
    return Prior("beta", {"alpha": alpha, "beta": beta}, statement)
