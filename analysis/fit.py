"""Score vs x = log10(lr/bs): a weighted quadratic per task and per category, its optimum with a bootstrap CI,
a LOWESS smoother to check the quadratic's shape, category contrasts, and the divergence frontier.

The optimum is the argmax of the fitted quadratic over the x range the series covers: the vertex when the
curve is concave and the vertex lies inside, else the better edge, flagged `at_grid_edge` (the report then
says "optimum outside the grid", not a number). Its CI is the percentile interval over bootstrap resamples of
whole trials (grid point × seed), all solved at once (`wls.bootstrap`). With fewer than three distinct ratios no
curve is fitted; the report gives the direction instead (which ratio scored higher, by how much).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.nonparametric.smoothers_lowess import lowess

from analysis import wls
from analysis.schema import BASELINE_STATUS
from analysis.series import Series

CI_PERCENTILES = (2.5, 97.5)
EDGE_TOLERANCE = 0.01
"""An optimum within this fraction of the x range from the range's end counts as at the edge."""
CURVE_POINTS = 101
LOWESS_FRACTION = 0.3
"""Share of the points each LOWESS local fit uses: enough to smooth seed noise, little enough to keep a peak..."""
LOWESS_MIN_POINTS = 20
"""...but never fewer than this many points (a small grid gets a wider window)."""


@dataclass(frozen=True)
class CurveFit:
    """One series' fit of score vs log10(lr/bs), and everything the tables, plots and report need from it."""

    level: str
    name: str
    kind: str
    """`quadratic`; `two_ratios` (direction only); `one_ratio` or `no_data` (nothing to say)."""
    n_points: int
    """Task × grid points with an ok score (seeds averaged)."""
    x_range: tuple[float, float] = (np.nan, np.nan)
    best_x: float = np.nan
    ci_low: float = np.nan
    ci_high: float = np.nan
    at_grid_edge: bool = False
    r2: float = np.nan
    cv_rmse: float = np.nan
    coefficients: dict[str, float] = field(default_factory=dict)
    """Quadratic in x (original units): `intercept` (or one `offset[task]` per task), `x`, `x^2`."""
    worse_x: float = np.nan
    """`two_ratios` only: the ratio that scored lower; `score_gain` is by how much."""
    score_gain: float = np.nan
    lowess_best_x: float = np.nan
    lowess_r2: float = np.nan
    curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    """x, fit, band_low, band_high (bootstrap 95% band), lowess, on a grid over x_range."""
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    """task, x, y: the fitted points, task offsets removed for categories."""
    bootstrap_best_x: np.ndarray = field(default_factory=lambda: np.empty(0))
    """The optimum in each bootstrap resample (NaN where the resample could not be fitted), paired across series."""


def fit_series(series: Series, counts: np.ndarray) -> CurveFit:
    """Fit one series; `counts` (B, n_units) are the shared bootstrap resamples of trials."""
    points = series.points
    common = {"level": series.level, "name": series.name, "n_points": len(points)}
    if points.empty:
        return CurveFit(kind="no_data", **common)
    if series.n_distinct_x < 3:
        return _direction(points, common)
    x_low, x_high = float(points["x"].min()), float(points["x"].max())
    center, half = (x_high + x_low) / 2, (x_high - x_low) / 2
    n_tasks = len(series.tasks)

    def design(table: pd.DataFrame) -> np.ndarray:
        scaled = (table["x"].to_numpy() - center) / half
        return wls.with_offsets(table["task_code"].to_numpy(), n_tasks, scaled, scaled**2)

    y, weights = points["y"].to_numpy(), points["weight"].to_numpy()
    point_fit = wls.fit(design(points), y, weights)
    offsets, slope, curvature = point_fit.coef[:n_tasks], *point_fit.coef[n_tasks:]
    rows = series.rows
    coef, _, valid = wls.bootstrap(
        design(rows), rows["y"].to_numpy(), rows["weight"].to_numpy(), rows["unit"].to_numpy(), counts
    )
    boot_best = np.where(valid, _best_on_range(coef[:, n_tasks], coef[:, n_tasks + 1]), np.nan)
    best = float(_best_on_range(slope, curvature))
    grid = np.linspace(-1, 1, CURVE_POINTS)
    fit_curve = offsets.mean() + slope * grid + curvature * grid**2
    boot_curves = coef[valid, :n_tasks].mean(axis=1)[:, None] + coef[valid, n_tasks:] @ np.vstack([grid, grid**2])
    adjusted = y - offsets[points["task_code"].to_numpy()] + offsets.mean()
    smooth = _lowess(points["x"].to_numpy(), adjusted, center + half * grid)
    band = np.percentile(boot_curves, CI_PERCENTILES, axis=0) if valid.any() else np.full((2, CURVE_POINTS), np.nan)
    ci = np.nanpercentile(boot_best, CI_PERCENTILES) if valid.any() else (np.nan, np.nan)
    return CurveFit(
        kind="quadratic",
        x_range=(x_low, x_high),
        best_x=center + half * best,
        ci_low=center + half * float(ci[0]),
        ci_high=center + half * float(ci[1]),
        at_grid_edge=bool(curvature >= 0 or abs(best) >= 1 - 2 * EDGE_TOLERANCE),
        r2=point_fit.r2,
        cv_rmse=point_fit.cv_rmse,
        coefficients=_coefficients_in_x(series.tasks, offsets, slope, curvature, center, half),
        lowess_best_x=float(center + half * grid[np.argmax(smooth)]) if np.isfinite(smooth).all() else np.nan,
        lowess_r2=_r2(adjusted, np.interp(points["x"], center + half * grid, smooth), weights),
        curve=pd.DataFrame(
            {"x": center + half * grid, "fit": fit_curve, "band_low": band[0], "band_high": band[1], "lowess": smooth}
        ),
        points=pd.DataFrame({"task": points["task"], "x": points["x"], "y": adjusted}),
        bootstrap_best_x=center + half * boot_best,
        **common,
    )


def _best_on_range(slope: np.ndarray | float, curvature: np.ndarray | float) -> np.ndarray:
    """Argmax of slope·s + curvature·s² over s in [-1, 1]: the vertex (clipped) if concave, else the better end."""
    slope, curvature = np.asarray(slope), np.asarray(curvature)
    concave = curvature < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.clip(-slope / (2 * curvature), -1.0, 1.0)
    return np.where(concave, vertex, np.where(slope >= 0, 1.0, -1.0))


def _coefficients_in_x(
    tasks: tuple[str, ...], offsets: np.ndarray, slope: float, curvature: float, center: float, half: float
) -> dict[str, float]:
    """Turn the fit in s = (x - center) / half back into intercept(s) + b·x + c·x²."""
    quadratic = curvature / half**2
    linear = slope / half - 2 * curvature * center / half**2
    shift = -slope * center / half + curvature * center**2 / half**2
    names = ["intercept"] if len(tasks) == 1 else [f"offset[{task}]" for task in tasks]
    intercepts = {name: float(offset + shift) for name, offset in zip(names, offsets, strict=True)}
    return {**intercepts, "x": float(linear), "x^2": float(quadratic)}


def _lowess(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """LOWESS (local linear, no robustness passes) evaluated on `grid`: a shape check free of the quadratic form."""
    fraction = min(1.0, max(LOWESS_FRACTION, LOWESS_MIN_POINTS / len(x)))
    return np.asarray(lowess(y, x, frac=fraction, it=0, xvals=grid))


def _r2(y: np.ndarray, fitted: np.ndarray, weights: np.ndarray) -> float:
    total = np.sum(weights * (y - np.average(y, weights=weights)) ** 2)
    return float(1 - np.sum(weights * (y - fitted) ** 2) / total) if total > 0 else np.nan


def _direction(points: pd.DataFrame, common: dict) -> CurveFit:
    """Fewer than three distinct ratios: no curve; which ratio scored higher (weighted mean), and by how much."""
    weighted = (points["y"] * points["weight"]).groupby(points["x"]).sum()
    by_ratio = weighted / points["weight"].groupby(points["x"]).sum()
    if len(by_ratio) < 2:
        return CurveFit(kind="one_ratio", best_x=float(by_ratio.index[0]), **common)
    return CurveFit(
        kind="two_ratios",
        x_range=(float(by_ratio.index.min()), float(by_ratio.index.max())),
        best_x=float(by_ratio.idxmax()),
        worse_x=float(by_ratio.idxmin()),
        score_gain=float(by_ratio.max() - by_ratio.min()),
        at_grid_edge=True,
        **common,
    )


def category_contrasts(fits: list[CurveFit]) -> pd.DataFrame:
    """Difference of optimal log10(lr/bs) for each pair of fitted categories, higher optimum first.

    The CI and the two-sided p-value come from the paired bootstrap (the same resamples of trials for both
    categories). `separable` is False when the CI includes 0: the data cannot tell the two optima apart.
    """
    categories = [fit for fit in fits if fit.level == "category" and fit.kind == "quadratic"]
    rows = []
    for first, second in itertools.combinations(categories, 2):
        high, low = (first, second) if first.best_x >= second.best_x else (second, first)
        difference = high.bootstrap_best_x - low.bootstrap_best_x
        difference = difference[np.isfinite(difference)]
        ci_low, ci_high = np.percentile(difference, CI_PERCENTILES) if difference.size else (np.nan, np.nan)
        tail = min(np.sum(difference <= 0), np.sum(difference >= 0))
        rows.append(
            {
                "category_a": high.name,
                "category_b": low.name,
                "diff_log10_ratio": high.best_x - low.best_x,
                "ci_low": ci_low,
                "ci_high": ci_high,
                "p_value": min(1.0, 2 * (tail + 1) / (difference.size + 1)),
                "separable": bool(ci_low > 0 or ci_high < 0),
                "n_resamples": difference.size,
            }
        )
    columns = [
        "category_a",
        "category_b",
        "diff_log10_ratio",
        "ci_low",
        "ci_high",
        "p_value",
        "separable",
        "n_resamples",
    ]
    return pd.DataFrame(rows, columns=columns)


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
