"""Score vs x = log10(lr/bs) per task, category and all tasks: a Gaussian process per task over x (task_gp.py),
all tasks drawn jointly; a category's curves pool its tasks' curves (`Series.pooled`). The optimum of each curve is
placed by optimum.py's rule, over the x range the series' ok trials cover; at the high end that range stops either
at the grid's edge or at the divergence frontier (frontier.py), and the report tells them apart: a grid can be
extended past its edge, not past the frontier. With fewer than three distinct ratios no curve is fitted; the
report gives the direction instead (a tie when the two differ by floating-point noise), and no CI. A flat series
(series.py's `flat_tasks`) has no optimum at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.estimates.frontier import FRONTIER, GRID_EDGE
from analysis.estimates.intervals import TAILS, Interval
from analysis.estimates.optimum import BestTried, locate_optimum, widened_sides
from analysis.estimates.series import Series, within_float_noise
from analysis.estimates.task_gp import (
    N_SAMPLES,
    TaskGP,
    fit_task_gp,
    joint_draw,
    trial_correlation,
    with_noise_variance,
)

CURVE_POINTS = 121


@dataclass(frozen=True)
class CurveFit:
    """One series' fit of score vs log10(lr/bs), and everything the tables, plots and report need from it."""

    level: str
    name: str
    kind: str
    """`gp`; `two_ratios` (direction only); `flat` (the score does not change: no optimum); `one_ratio` or `no_data`
    (nothing to say)."""
    n_points: int
    """Task × grid points with an ok score (seeds averaged)."""
    x_range: tuple[float, float] = (np.nan, np.nan)
    optimum: Interval = field(default_factory=Interval.missing)
    high_edge: str = GRID_EDGE
    """What ends the range at high lr/bs: GRID_EDGE, or FRONTIER when a trial beyond it diverged."""
    frontier_bounds: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    """At FRONTIER: the batch sizes whose trials diverged above the range, each with the lowest learning rate that
    diverged there (what holds the optimum at the frontier)."""
    r2: float = np.nan
    """Leave-one-out R² of a task's grid points (how much of their spread its curve predicts)."""
    cv_rmse: float = np.nan
    hyperparameters: dict[str, float] = field(default_factory=dict)
    worse_log10_ratio: float = np.nan
    """`two_ratios` only: the ratio that scored worse; `score_gain` is by how much (0 for a tie, when neither ratio is
    the better: both then NaN)."""
    score_gain: float = np.nan
    flat_score: float = np.nan
    """A `flat` task's score (the mean of its grid points')."""
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    """x, fit, band_low, band_high (pointwise 95%): a task's in its metric's units, a category's in z units."""
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    """task, x, y: the grid points in the curve's units."""
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    """(N_SAMPLES, len(curve)) posterior curves at curve.x, in quality units (higher is better); rows are the
    same joint draws in every fit of one analysis."""
    model: TaskGP | None = None
    """A task's GP (None for categories, which average their tasks' curves)."""
    frontier_optimum: Interval = field(default_factory=Interval.missing)
    """The optimum with its CI widened at the divergence frontier only, not on a side the tasks' skew evidence calls
    sharp: what the shift between two conditions reads, with `optimum` where the two optima's skews oppose
    (shifts.py)."""

    @property
    def best_log10_ratio(self) -> float:
        return self.optimum.estimate

    @property
    def at_edge(self) -> bool:
        """The estimate itself sits at an end of the range: the optimum is there or beyond (a direction's always does;
        a series with no estimate has none)."""
        low, high = self.x_range
        best = self.best_log10_ratio
        return bool(self.kind in ("one_ratio", "two_ratios") or best <= low + 1e-9 or best >= high - 1e-9)

    def argmax_samples(self) -> np.ndarray:
        """The optimum of each posterior curve."""
        return self.curve["x"].to_numpy()[np.argmax(self.samples, axis=1)]

    def samples_at(self, x: float) -> np.ndarray:
        """The posterior curves' values at `x` (linear between curve points); NaN outside the range."""
        grid = self.curve["x"].to_numpy()
        if not grid[0] <= x <= grid[-1]:
            return np.full(len(self.samples), np.nan)
        right = int(np.clip(np.searchsorted(grid, x), 1, len(grid) - 1))
        share = (x - grid[right - 1]) / (grid[right] - grid[right - 1])
        return (1 - share) * self.samples[:, right - 1] + share * self.samples[:, right]


def fit_curves(series: list[Series], rng: np.random.Generator) -> list[CurveFit]:
    """Fit every series: a GP per task with three or more distinct ratios (flat ones left out), all drawn jointly on
    one x grid, then each category's and the all-tasks' curve as the average of their tasks' z-scored curves."""
    models = {
        one.name: fit_task_gp(one, ("x",))
        for one in series
        if one.level == "task" and one.n_distinct_x >= 3 and not one.is_flat
    }
    fitted = [one for one in series if one.level == "task" and one.name in models]
    low = min((one.x_range[0] for one in fitted), default=np.nan)
    high = max((one.x_range[1] for one in fitted), default=np.nan)
    grid = np.linspace(low, high, CURVE_POINTS)
    correlation = trial_correlation(list(models.values()))
    draws = joint_draw(list(models.values()), grid[:, None], N_SAMPLES, rng, correlation) if models else {}
    return [_fit(one, grid, draws, models, correlation) for one in series]


def _fit(
    series: Series, grid: np.ndarray, draws: dict[str, np.ndarray], models: dict[str, TaskGP], correlation: float
) -> CurveFit:
    points = series.points
    common = {"level": series.level, "name": series.name, "n_points": len(points)}
    members = [task for task in series.tasks if task in draws]
    if series.is_flat:
        score = series.metric_sign * points["y"].mean() if series.level == "task" else np.nan
        return CurveFit(kind="flat", x_range=series.x_range, flat_score=float(score), **common)
    if points.empty:
        return CurveFit(kind="no_data", **common)
    if series.n_distinct_x < 3 or not members:
        return _direction(points, common)
    model = models.get(series.name) if series.level == "task" else None
    x_low, x_high = series.x_range
    inside = (grid >= x_low - 1e-9) & (grid <= x_high + 1e-9)
    x, samples = grid[inside], series.pooled(draws, members)[:, inside]
    sign = series.metric_sign
    band = np.sort(sign * np.quantile(samples, [TAILS[0], TAILS[2]], axis=0), axis=0)
    quality = {}
    if model is not None:
        residuals = model.loo_residuals()
        spread = model.points["y"].to_numpy() - model.points["y"].mean()
        quality = {
            "r2": float(1 - np.sum(residuals**2) / np.sum(spread**2)) if np.any(spread) else np.nan,
            "cv_rmse": float(np.sqrt(np.mean(residuals**2))),
            "hyperparameters": model.top_setting(),
        }
    high_edge = series.frontier.ratio_edge(x_high)
    at_frontier = high_edge == FRONTIER and series.frontier.follows_ratio
    widen = widened_sides([models[task].skew_evidence for task in members], at_frontier)
    tried = BestTried.of(with_noise_variance(series, models), correlation) if any(widen) else None
    argmax = x[np.argmax(samples, axis=1)]
    return CurveFit(
        kind="gp",
        x_range=(x_low, x_high),
        optimum=locate_optimum(argmax, x, tried, widen),
        frontier_optimum=locate_optimum(argmax, x, tried, (False, at_frontier)),
        high_edge=high_edge,
        frontier_bounds=series.frontier.bounds_above(x_high),
        curve=pd.DataFrame({"x": x, "fit": sign * samples.mean(axis=0), "band_low": band[0], "band_high": band[1]}),
        points=pd.DataFrame({"task": points["task"], "x": points["x"], "y": sign * points["y"]}),
        samples=samples,
        model=model,
        **quality,
        **common,
    )


def _direction(points: pd.DataFrame, common: dict) -> CurveFit:
    """Fewer than three distinct ratios: no curve and no CI; which ratio scored better (weighted mean), and by how
    much, or a tie when they differ by floating-point noise of the scores."""
    weighted = (points["y"] * points["weight"]).groupby(points["x"]).sum()
    by_ratio = weighted / points["weight"].groupby(points["x"]).sum()
    if len(by_ratio) < 2:
        return CurveFit(kind="one_ratio", optimum=Interval(float(by_ratio.index[0]), np.nan, np.nan), **common)
    gain = float(by_ratio.max() - by_ratio.min())
    tie = bool(within_float_noise(gain, points["y"].abs().max()))
    best, worse = (np.nan, np.nan) if tie else (float(by_ratio.idxmax()), float(by_ratio.idxmin()))
    return CurveFit(
        kind="two_ratios",
        x_range=(float(by_ratio.index.min()), float(by_ratio.index.max())),
        optimum=Interval(best, np.nan, np.nan),
        worse_log10_ratio=worse,
        score_gain=0.0 if tie else gain,
        **common,
    )
