"""Figures of each prior against its posterior, checked with prior draws as a fake posterior."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.patches import StepPatch
from scipy import stats

from allegiance.model import (
    BASELINE,
    CONDITION_PROBABILITY,
    LEAK,
    LOG_RATE,
    LOG_RATIO,
    OVERDISPERSION,
    coordinates,
    variable_beliefs,
)
from allegiance.report.figures import DPI, _pyplot, drawing, drawn, save_png_svg
from allegiance.report.priors import (
    condition_rows,
    conditions_figure,
    prior_posterior_figures,
    variable_figure,
    variable_panels,
)
from allegiance.report.trajectories import MIN_SPAN, _at_least_two_months
from allegiance.spec import ModelSpec
from helpers import prior_draws

N = 3000
NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
ITEM = re.compile(
    rf"(?<!\S)(\S+) prior ({NUM}) \(({NUM})–({NUM})\), posterior ({NUM}) \(({NUM})–({NUM})\)"
)
CONDITION = re.compile(rf"(?<!\S)(\S+) prior ({NUM}), posterior ({NUM})")


def _approx(expected: Any) -> Any:
    """Equal to the three significant figures the alt text gives."""
    return pytest.approx(expected, rel=6e-3, abs=1e-9)


@dataclass
class Rendered:
    spec: ModelSpec
    draws: dict[str, np.ndarray]
    probability: dict[str, float]
    out: Path
    written: list[tuple[Path, str]]


def _render(spec: ModelSpec, out: Path) -> Rendered:
    draws = prior_draws(spec, N, seed=7)
    probability = {c: 0.05 + 0.9 * i / 8 for i, c in enumerate(spec.binary_conditions)}
    written = prior_posterior_figures(spec, draws, probability, out)
    return Rendered(spec, draws, probability, out, written)


@pytest.fixture(scope="module")
def reference(reference_spec: ModelSpec, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return _render(reference_spec, tmp_path_factory.mktemp("prior_figures"))


def _stated(name: str, column: np.ndarray) -> np.ndarray:
    """The draws on the analyst's scale: a ratio, a monthly count, else as drawn."""
    return np.exp(column) if name in (LOG_RATIO, LOG_RATE) else column


def _prior_summary(prior: Any) -> tuple[float, float, float]:
    """The prior's stated centre and 90 % interval, worked out from its parameters."""
    a = prior.params
    if prior.family == "beta":
        dist = stats.beta(a["alpha"], a["beta"])
        return a["alpha"] / (a["alpha"] + a["beta"]), *dist.ppf([0.05, 0.95])
    if prior.family == "gamma":  # on the log of the ratio
        lo, mid, hi = stats.gamma(a["alpha"], scale=1 / a["beta"]).ppf([0.05, 0.5, 0.95])
        return math.exp(mid), math.exp(lo), math.exp(hi)
    lo, hi = stats.lognorm(a["sigma"], scale=math.exp(a["mu"])).ppf([0.05, 0.95])
    return math.exp(a["mu"]), lo, hi


def _prior_pdf(prior: Any, x: np.ndarray) -> np.ndarray:
    a = prior.params
    if prior.family == "beta":
        return np.asarray(stats.beta(a["alpha"], a["beta"]).pdf(x))
    if prior.family == "gamma":  # density of exp(log-ratio): the Jacobian 1/x
        return np.asarray(stats.gamma(a["alpha"], scale=1 / a["beta"]).pdf(np.log(x)) / x)
    return np.asarray(stats.lognorm(a["sigma"], scale=math.exp(a["mu"])).pdf(x))


def _expected_files(spec: ModelSpec, with_conditions: bool) -> set[str]:
    stems = [f"prior_posterior_{n}" for n, (b, _) in variable_beliefs(spec).items() if b]
    if with_conditions and spec.binary_conditions:
        stems.append("prior_posterior_conditions")
    return {f"{s}.{ext}" for s in stems for ext in ("png", "svg")}


def _check_files(r: Rendered) -> None:
    expected = _expected_files(r.spec, with_conditions=True)
    assert {p.name for p in r.out.iterdir()} == expected
    assert {p.name for p, _ in r.written} == {n for n in expected if n.endswith(".png")}
    assert not _pyplot().get_fignums(), "a figure was left open"
    for png, alt in r.written:
        image = mpimg.imread(png)
        height, width = image.shape[:2]
        assert 300 <= width <= 2000 and 200 <= height <= 2600, (png.name, image.shape)
        assert image[..., :3].std() > 0.05, f"{png.name} is blank"
        assert "<svg" in png.with_suffix(".svg").read_text()[:2000]
        assert alt


def _check_alt(r: Rendered) -> None:
    alts = {p.stem.removeprefix("prior_posterior_"): alt for p, alt in r.written}
    coords = coordinates(r.spec)
    for name, (beliefs, dim) in variable_beliefs(r.spec).items():
        if not beliefs:
            continue
        items = ITEM.findall(alts[name])
        assert [i[0] for i in items] == [str(c) for c in coords[dim]]
        values = _stated(name, r.draws[name])
        for k, (item, belief) in enumerate(zip(items, beliefs, strict=True)):
            numbers = [float(x) for x in item[1:]]
            centre, lo, hi = _prior_summary(belief.prior)
            assert numbers[:3] == _approx([centre, lo, hi]), (name, item)
            column = values[:, k]
            mid = column.mean() if belief.prior.family == "beta" else np.median(column)
            q = np.quantile(column, [0.05, 0.95])
            assert numbers[3:] == _approx([mid, *q]), (name, item)
            assert lo < numbers[3] < hi  # the fake posterior is the prior


def test_the_one_hazard_model_gets_its_baseline_figure_only(
    spec: ModelSpec, tmp_path: Path
) -> None:
    r = _render(spec, tmp_path / "figures")
    assert _expected_files(spec, True) == {
        "prior_posterior_baseline.png",
        "prior_posterior_baseline.svg",
    }
    _check_files(r)
    _check_alt(r)


def test_the_reference_model_gets_every_figure(reference: Rendered) -> None:
    assert len(_expected_files(reference.spec, True)) == 16  # seven variables and the conditions
    _check_files(reference)


def test_the_alt_text_states_each_prior_and_posterior(reference: Rendered) -> None:
    _check_alt(reference)


def test_the_conditions_alt_text_and_markers(reference: Rendered) -> None:
    spec, probability = reference.spec, reference.probability
    beta_means = [
        (lambda a: a["alpha"] / (a["alpha"] + a["beta"]))(spec.conditions[c].belief.prior.params)
        for c in spec.binary_conditions
    ]
    alt = dict((p.stem, a) for p, a in reference.written)["prior_posterior_conditions"]
    items = CONDITION.findall(alt)
    assert [i[0] for i in items] == spec.binary_conditions
    assert [float(i[1]) for i in items] == _approx(beta_means)
    assert [float(i[2]) for i in items] == _approx(list(probability.values()))
    fig = conditions_figure(condition_rows(spec, probability))
    try:
        ax = fig.axes[0]
        open_ = [line for line in ax.lines if line.get_markerfacecolor() == "white"]
        filled = [line for line in ax.lines if line.get_marker() == "o" and line not in open_]
        assert len(open_) == len(filled) == 1
        assert open_[0].get_xdata() == pytest.approx(beta_means)
        assert filled[0].get_xdata() == pytest.approx(list(probability.values()))
        assert [t.get_text() for t in ax.get_yticklabels()] == spec.binary_conditions
    finally:
        _pyplot().close(fig)


@pytest.mark.parametrize("name", [BASELINE, LOG_RATIO, LOG_RATE, OVERDISPERSION])
def test_the_histogram_and_curve_drawn_match_the_draws_and_prior(
    reference: Rendered, name: str
) -> None:
    spec = reference.spec
    beliefs, dim = variable_beliefs(spec)[name]
    values = _stated(name, reference.draws[name])
    fig = variable_figure(name, variable_panels(spec, name, reference.draws[name]))
    try:
        assert len(fig.axes) == len(beliefs)  # spare cells of the grid are removed
        for k, (ax, belief) in enumerate(zip(fig.axes, beliefs, strict=True)):
            assert ax.get_title() == str(coordinates(spec)[dim][k])
            column = values[:, k]
            steps = [p for p in ax.patches if isinstance(p, StepPatch)]
            assert steps
            for step in steps:
                heights, edges, _ = step.get_data()
                counts, _ = np.histogram(column, edges)
                np.testing.assert_allclose(heights, counts / (N * np.diff(edges)))
                assert 0.98 <= float(np.sum(heights * np.diff(edges))) <= 1.0
                assert edges[0] <= np.quantile(column, 0.01) and edges[-1] >= np.quantile(
                    column, 0.99
                )
            (curve,) = [line for line in ax.lines if line.get_linestyle() == "--"]
            x, y = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
            np.testing.assert_allclose(y, _prior_pdf(belief.prior, x), rtol=1e-9)
            assert (
                0.98 <= float(np.trapezoid(y, x)) <= 1.001
            )  # the prior, on this scale, is all there
    finally:
        _pyplot().close(fig)


def test_a_variable_the_model_or_the_draws_lack_gives_no_figure(
    reference_spec: ModelSpec, tmp_path: Path
) -> None:
    draws = prior_draws(reference_spec, 200, seed=3)
    kept = {BASELINE: draws[BASELINE], LEAK: draws[LEAK][:, :0]}  # leak drawn with no columns
    written = prior_posterior_figures(reference_spec, kept, {}, tmp_path)
    assert [p.name for p, _ in written] == ["prior_posterior_baseline.png"]
    assert {p.name for p in tmp_path.iterdir()} == {
        "prior_posterior_baseline.png",
        "prior_posterior_baseline.svg",
    }
    assert CONDITION_PROBABILITY in variable_beliefs(reference_spec)  # lacking only in the draws


def test_a_one_panel_figure_keeps_its_title_and_legend_inside(spec: ModelSpec) -> None:
    draws = prior_draws(spec, 500, seed=5)
    fig = variable_figure(BASELINE, variable_panels(spec, BASELINE, draws[BASELINE]))
    try:
        fig.canvas.draw()
        inside = fig.bbox.padded(1)
        assert fig.texts and fig.legends  # the title and the legend
        for artist in [*fig.texts, *fig.legends]:
            box = artist.get_window_extent()
            assert inside.x0 <= box.x0 and box.x1 <= inside.x1, artist
    finally:
        _pyplot().close(fig)


def _line_figure() -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 2), layout="constrained")
    ax.plot([0, 1, 2], [0, 1, 0.5], "ko-")
    ax.set_title("a title")
    return fig


def test_a_figure_saved_opaque_has_the_pixels_matplotlib_draws(tmp_path: Path) -> None:
    ours = save_png_svg(_line_figure(), tmp_path / "ours.png")
    fig = _line_figure()
    fig.savefig(tmp_path / "theirs.png", dpi=DPI)
    _pyplot().close(fig)
    mine, theirs = mpimg.imread(ours), mpimg.imread(tmp_path / "theirs.png")
    assert mine.shape[-1] == 3 and theirs.shape[-1] == 4  # RGB: the PDF embeds it as it is
    assert np.all(theirs[..., 3] == 1.0)  # nothing of matplotlib's was see-through
    assert np.array_equal(mine, theirs[..., :3])
    svg = ours.with_suffix(".svg").read_text()
    assert 'width="288pt" height="144pt"' in svg  # the figure's size, 4 by 2 inches


def _saved_line(png: Path) -> Path:
    return save_png_svg(_line_figure(), png)


def _no_metadata(svg: Path) -> str:
    """An SVG without its date, and its clip paths' and markers' random ids named alike."""
    text = re.sub(r"<metadata>.*?</metadata>", "", svg.read_text(), flags=re.S)
    return re.sub(r"\b[mp][0-9a-f]{10}\b", "id", text)


def test_drawing_gives_the_pngs_first_and_ends_with_every_svg(tmp_path: Path) -> None:
    pngs = [tmp_path / f"figure{n}.png" for n in range(5)]
    with drawing([functools.partial(_saved_line, png) for png in pngs]) as got:
        assert got == pngs
        assert all(mpimg.imread(png).shape == (300, 600, 3) for png in pngs)
    alone = _saved_line(tmp_path / "alone.png")
    assert sorted(p.name for p in tmp_path.glob("figure*.svg")) == [
        f"figure{n}.svg" for n in range(5)
    ]
    assert {_no_metadata(png.with_suffix(".svg")) for png in pngs} == {
        _no_metadata(alone.with_suffix(".svg"))
    }
    assert drawn([functools.partial(_saved_line, tmp_path / "again.png")]) == [
        tmp_path / "again.png"
    ]
    assert (tmp_path / "again.svg").exists()


def test_a_trajectory_of_one_day_spans_two_months_of_dates() -> None:
    plt = _pyplot()
    fig, ax = plt.subplots()
    day = dt.date(2019, 12, 1)
    ax.plot([day], [0.3], "o")
    _at_least_two_months(ax, [day, day - dt.timedelta(days=1)])
    lo, hi = (mdates.num2date(x).date() for x in ax.get_xlim())
    plt.close(fig)
    assert hi - lo == MIN_SPAN
    assert lo < day - dt.timedelta(days=1) and day < hi


def test_a_trajectory_without_forecasts_says_so_and_draws_no_empty_legend(tmp_path: Path) -> None:
    import warnings

    from allegiance.report.trajectories import trajectory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png, alt = trajectory("leaves_12m", [], [dt.date(2020, 1, 5)], tmp_path)
    assert not [w for w in caught if "No artists with labels" in str(w.message)]
    assert alt == "leaves_12m: no recorded forecast"
    assert png.exists() and "no recorded forecast" in png.with_suffix(".svg").read_text()
