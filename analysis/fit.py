"""Score vs x = log10(lr/bs) per task, category and all tasks: a Gaussian process per task over x (task_gp), all
tasks drawn jointly; a category's curve is the average of its tasks' z-scored sample curves. The optimum is the
distribution of the sample curves' argmax; category contrasts are paired differences of the same draws.

The optimum is searched over the x range the series' ok trials cover. Its estimate is the median of the samples'
argmax. Its CI holds their central 95%, and more: a smooth curve cannot turn over as fast as scores fall at a
cliff, so it places the peak too early there and is sure of it. So the CI also spans the tried ratios next to
those that may have scored best (in 95% of draws from the observed scores and their noise alone): if tried ratio
x_k scored best, a single-peaked curve peaks between x_(k-1) and x_(k+1), whatever its shape. An end that reaches
the range's end is open (intervals.py): the truth may lie beyond. At the high end the range stops either at the
grid's edge or at the divergence frontier (every trial beyond it diverged), and the report tells them apart: a
grid can be extended past its edge, not past the frontier.
With fewer than three distinct ratios no curve is fitted; the report gives the direction instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.intervals import TAILS, Interval
from analysis.schema import BASELINE_STATUS
from analysis.series import Series
from analysis.task_gp import MAX_BINS, TaskGP, fit_task_gp, joint_draw

N_SAMPLES = 2400
"""Posterior sample curves per series (the 2.5% tails then rest on 60 samples each)."""
CURVE_POINTS = 121
GRID_EDGE, FRONTIER = "the grid's edge", "the divergence frontier"


@dataclass(frozen=True)
class CurveFit:
    """One series' fit of score vs log10(lr/bs), and everything the tables, plots and report need from it."""

    level: str
    name: str
    kind: str
    """`gp`; `two_ratios` (direction only); `one_ratio` or `no_data` (nothing to say)."""
    n_points: int
    """Task × grid points with an ok score (seeds averaged)."""
    x_range: tuple[float, float] = (np.nan, np.nan)
    optimum: Interval = field(default_factory=Interval.missing)
    high_edge: str = GRID_EDGE
    """What ends the range at high lr/bs: GRID_EDGE, or FRONTIER when every trial beyond it diverged."""
    r2: float = np.nan
    """Leave-one-out R² of a task's grid points (how much of their spread its curve predicts)."""
    cv_rmse: float = np.nan
    hyperparameters: dict[str, float] = field(default_factory=dict)
    worse_x: float = np.nan
    """`two_ratios` only: the ratio that scored worse; `score_gain` is by how much."""
    score_gain: float = np.nan
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    """x, fit, band_low, band_high (pointwise 95%): a task's in its metric's units, a category's in z units."""
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    """task, x, y: the grid points in the curve's units."""
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    """(N_SAMPLES, len(curve)) posterior curves at curve.x, in quality units (higher is better); rows are the
    same joint draws in every fit of one analysis."""
    model: TaskGP | None = None
    """A task's GP (None for categories, which average their tasks' curves)."""

    @property
    def best_x(self) -> float:
        return self.optimum.estimate

    @property
    def at_edge(self) -> bool:
        """The estimate itself sits at an end of the range: the optimum is there or beyond."""
        low, high = self.x_range
        return bool(self.kind != "gp" or self.best_x <= low + 1e-9 or self.best_x >= high - 1e-9)

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
    """Fit every series: a GP per task with three or more distinct ratios, all drawn jointly on one x grid, then
    each category's and the all-tasks' curve as the average of their tasks' z-scored curves."""
    models = {one.name: fit_task_gp(one, ("x",)) for one in series if one.level == "task" and one.n_distinct_x >= 3}
    fitted = [one for one in series if one.level == "task" and one.name in models]
    low = min((one.x_range[0] for one in fitted), default=np.nan)
    high = max((one.x_range[1] for one in fitted), default=np.nan)
    grid = np.linspace(low, high, CURVE_POINTS)
    draws = joint_draw(list(models.values()), grid[:, None], N_SAMPLES, rng) if models else {}
    return [_fit(one, grid, draws, models, rng) for one in series]


def _fit(
    series: Series, grid: np.ndarray, draws: dict[str, np.ndarray], models: dict[str, TaskGP], rng: np.random.Generator
) -> CurveFit:
    points = series.points
    common = {"level": series.level, "name": series.name, "n_points": len(points)}
    members = [task for task in series.tasks if task in draws]
    if points.empty:
        return CurveFit(kind="no_data", **common)
    if series.n_distinct_x < 3 or not members:
        return _direction(points, common)
    model = models.get(series.name) if series.level == "task" else None
    units = series.units.loc[members]
    pooled = sum((draws[task] - row.sign * row.location) / row.spread for task, row in units.iterrows())
    x_low, x_high = series.x_range
    inside = (grid >= x_low - 1e-9) & (grid <= x_high + 1e-9)
    x, samples = grid[inside], pooled[:, inside] / len(members)
    sign = float(units["sign"].iloc[0]) if series.level == "task" else 1.0
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
    return CurveFit(
        kind="gp",
        x_range=(x_low, x_high),
        optimum=_optimum(x[np.argmax(samples, axis=1)], (x[0], x[-1]), *_best_tried(series, models, rng)),
        high_edge=FRONTIER if series.high_end_diverged(x_high) else GRID_EDGE,
        curve=pd.DataFrame({"x": x, "fit": sign * samples.mean(axis=0), "band_low": band[0], "band_high": band[1]}),
        points=pd.DataFrame({"task": points["task"], "x": points["x"], "y": sign * points["y"]}),
        samples=samples,
        model=model,
        **quality,
        **common,
    )


def _optimum(argmax: np.ndarray, bounds: tuple[float, float], tried: np.ndarray, best: np.ndarray) -> Interval:
    """The argmax samples' median and central 95%, widened to the tried ratios next to those that scored best in
    95% of draws (`best`: index into `tried` per draw); an end at the first or last tried ratio is open."""
    curve = Interval.from_samples(argmax, bounds)
    first, last = np.quantile(best, [TAILS[0], TAILS[2]], method="inverted_cdf")
    return Interval(
        curve.estimate,
        min(curve.low, tried[max(first - 1, 0)]),
        max(curve.high, tried[min(last + 1, len(tried) - 1)]),
        curve.low_open or first == 0,
        curve.high_open or last == len(tried) - 1,
    )


def tried_rows(series: Series, models: dict[str, TaskGP]) -> pd.DataFrame:
    """The series' points with `variance`: the noise variance of their seed mean, the GP's nugget where none is
    known (in the series' units)."""
    points = series.points
    unknown = {task: model.nugget_variance() for task, model in models.items() if task in series.tasks}
    fallback = points["task"].map(unknown).fillna(0.0) / points["task"].map(series.units["spread"]) ** 2
    return points.assign(variance=points["noise_variance"].fillna(fallback))


def _best_tried(series: Series, models: dict[str, TaskGP], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The tried ratios (sorted; binned like the GP's points on a huge grid) and, in each of N_SAMPLES draws of
    their mean score from its noise alone (the GP's nugget where none is known), the index of the best one."""
    points = tried_rows(series, models)
    many = points["x"].nunique() > MAX_BINS[1]
    keys = pd.cut(points["x"], MAX_BINS[1], labels=False) if many else points["x"]
    grouped = points.groupby(keys)
    tried, mean = grouped["x"].mean().to_numpy(), grouped["y"].mean().to_numpy()
    spread = np.sqrt(grouped["variance"].sum().to_numpy()) / grouped.size().to_numpy()
    draws = mean + spread * rng.standard_normal((N_SAMPLES, len(tried)))
    return tried, np.argmax(draws, axis=1)


def _direction(points: pd.DataFrame, common: dict) -> CurveFit:
    """Fewer than three distinct ratios: no curve; which ratio scored better (weighted mean), and by how much."""
    weighted = (points["y"] * points["weight"]).groupby(points["x"]).sum()
    by_ratio = weighted / points["weight"].groupby(points["x"]).sum()
    if len(by_ratio) < 2:
        best = float(by_ratio.index[0])
        return CurveFit(kind="one_ratio", optimum=Interval(best, best, best), **common)
    best = float(by_ratio.idxmax())
    return CurveFit(
        kind="two_ratios",
        x_range=(float(by_ratio.index.min()), float(by_ratio.index.max())),
        optimum=Interval(best, best, best),
        worse_x=float(by_ratio.idxmin()),
        score_gain=float(by_ratio.max() - by_ratio.min()),
        **common,
    )


CONTRAST_COLUMNS = [
    "category_a", "category_b", "diff_log10_ratio", "ci_low", "ci_high", "p_value", "separable", "bounded_by_range",
    "n_samples",
]  # fmt: skip


def category_contrasts(fits: list[CurveFit]) -> pd.DataFrame:
    """Difference of optimal log10(lr/bs) for each pair of fitted categories, higher optimum first.

    All curves come from one joint draw of the tasks (trials they share correlate them), so each sample's
    difference of the two argmaxes is paired. The p-value is two-sided: twice the smaller share of samples on
    either side of 0. `separable` is False when the CI includes 0: the data cannot tell the two optima apart.
    `bounded_by_range`: an optimum's CI is open, so the difference is bounded by the range, not measured.
    """
    categories = [fit for fit in fits if fit.level == "category" and fit.kind == "gp"]
    rows = []
    for first, second in itertools.combinations(categories, 2):
        difference = first.argmax_samples() - second.argmax_samples()
        if np.median(difference) < 0:
            first, second, difference = second, first, -difference
        low, estimate, high = np.quantile(difference, TAILS)
        tail = min(np.sum(difference <= 0), np.sum(difference >= 0))
        rows.append(
            {
                "category_a": first.name,
                "category_b": second.name,
                "diff_log10_ratio": float(estimate),
                "ci_low": float(low),
                "ci_high": float(high),
                "p_value": min(1.0, 2 * (tail + 1) / (difference.size + 1)),
                "separable": bool(low > 0 or high < 0),
                "bounded_by_range": first.optimum.is_open or second.optimum.is_open,
                "n_samples": difference.size,
            }
        )
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def divergence_frontier(frame: pd.DataFrame) -> pd.DataFrame:
    """Per batch size: trials, diverged trials, the smallest lr/bs at which a trial diverged, and the largest
    lr/bs below it at which a trial trained ok (the frontier lies between the two)."""
    trials = frame[frame["status"] != BASELINE_STATUS].drop_duplicates(["learning_rate", "batch_size", "seed"])
    rows = []
    for batch_size, group in trials.groupby("batch_size", sort=True):
        diverged = group[group["status"] == "diverged"]
        frontier = diverged["lr_bs_ratio"].min()
        stable = group[(group["status"] == "ok") & ~(group["lr_bs_ratio"] >= frontier)]
        rows.append(
            {
                "batch_size": int(batch_size),
                "n_trials": len(group),
                "n_diverged": len(diverged),
                "frontier_lr_bs_ratio": frontier,
                "frontier_learning_rate": diverged["learning_rate"].min(),
                "largest_stable_lr_bs_ratio": stable["lr_bs_ratio"].max(),
            }
        )
    columns = [
        "batch_size",
        "n_trials",
        "n_diverged",
        "frontier_lr_bs_ratio",
        "frontier_learning_rate",
        "largest_stable_lr_bs_ratio",
    ]
    return pd.DataFrame(rows, columns=columns)
