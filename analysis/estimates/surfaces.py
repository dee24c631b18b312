"""Score over (log10 lr, log10 bs): a GP per task over x = log10(lr/bs) and log10 bs (task_gp.py), all tasks drawn
jointly, a category pooling its tasks' surfaces (`Series.pooled`), as for the ratio curves.

From it: for each batch size of the grid, the optimal learning rate (the argmax over the learning rates tried at
that batch size, per posterior sample) with its CI by optimum.py's rule, the same as the ratio optimum's (where
higher learning rates diverged at that batch size, or a member task's peak falls sharply, that side reaches the
tried learning rate beyond those that may have scored best, so a cliff does not make it sure of a peak placed too
early), open where it reaches the lowest or highest learning rate scored there. Unlike the ratio optimum's, this
widening at the frontier holds whatever divergence follows: a batch size's frontier is a place on its own
learning-rate axis, and Adam's runs can degrade sharply just below the learning rate at which they diverge. Where a
peak falls sharply is read from the task's ratio fit, the evidence the ratio optimum widens on: its warps are richer
than the surface's (which has only the high end's stretch a cliff needs), so the two optima cannot disagree on a
skew. And the posterior mean surface on a fine grid, for the paper's contour figure. The kernel's coordinates are
the ratio and the batch size, so a long batch-size lengthscale is ratio invariance and the data decide how far from
it they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.estimates.frontier import FRONTIER
from analysis.estimates.intervals import Interval
from analysis.estimates.optimum import BestTried, locate_optimum, widened_sides
from analysis.estimates.series import Series
from analysis.estimates.task_gp import (
    MAX_BINS,
    N_SAMPLES,
    TaskGP,
    fit_task_gp,
    joint_draw,
    trial_correlation,
    with_noise_variance,
)

LR_POINTS = 41
"""Learning rates per batch size at which the surface is sampled (the argmax's resolution)."""
MAP_POINTS = 48
"""Points per axis of the mean surface drawn as contours..."""
MAP_MARGIN = 0.06
"""...which reaches this fraction of each axis' range beyond the trials, so none sits on the frame."""
COLUMNS = ("x", "log10_bs")


@dataclass(frozen=True)
class SurfaceFit:
    """One series' surface: the optimal learning rate per batch size, and the mean surface for the contours."""

    level: str
    name: str
    log10_bs: np.ndarray
    """The batch sizes (log10) at which the optimal learning rate is located."""
    optimal_lr: list[Interval]
    """Per batch size: the optimal log10 learning rate and its 95% CI."""
    high_edges: list[str]
    """Per batch size: what ends the learning rates tried there (GRID_EDGE, or FRONTIER when higher ones diverged)."""
    ridge_samples: np.ndarray
    """(samples, batch sizes) optimal log10 lr of each posterior surface; rows are joint draws across batch sizes."""
    map_log10_lr: np.ndarray
    map_log10_bs: np.ndarray
    map_mean: np.ndarray
    """(len(map_log10_bs), len(map_log10_lr)) posterior mean: a task's in its metric's units, a category's in z."""


def can_fit_surface(series: Series) -> bool:
    """A surface needs two batch sizes and three learning rates, and a score that changes (not a flat series)."""
    points = series.points
    return points["batch_size"].nunique() >= 2 and points["learning_rate"].nunique() >= 3 and not series.is_flat


def fit_surfaces(
    series: list[Series], rng: np.random.Generator, ratio_models: dict[str, TaskGP] | None = None
) -> list[SurfaceFit]:
    """The surface of every series that `can_fit_surface`; its tasks' GPs are drawn jointly. `ratio_models`: the
    tasks' ratio GPs by name (`CurveFit.model`) when the caller has fitted them already; the others are fitted here,
    for where each task's peak falls sharply."""
    eligible = [one for one in series if can_fit_surface(one)]
    models = {one.name: fit_task_gp(one, COLUMNS) for one in eligible if one.level == "task"}
    if not models:
        return []
    points = pd.concat([model.series.points for model in models.values()])
    log10_bs = ridge_batch_sizes(points["log10_bs"])
    log10_lr = np.linspace(points["log10_lr"].min(), points["log10_lr"].max(), LR_POINTS)
    lr_grid, bs_grid = np.meshgrid(log10_lr, log10_bs)
    coords = np.column_stack([(lr_grid - bs_grid).ravel(), bs_grid.ravel()])
    correlation = trial_correlation(list(models.values()))
    draws = joint_draw(list(models.values()), coords, N_SAMPLES, rng, correlation)
    map_lr, map_bs = (
        np.linspace(
            axis[0] - MAP_MARGIN * (axis[-1] - axis[0]), axis[-1] + MAP_MARGIN * (axis[-1] - axis[0]), MAP_POINTS
        )
        for axis in (log10_lr, log10_bs)
    )
    map_lr_grid, map_bs_grid = np.meshgrid(map_lr, map_bs)
    map_coords = np.column_stack([(map_lr_grid - map_bs_grid).ravel(), map_bs_grid.ravel()])
    means = {name: model.mean(map_coords) for name, model in models.items()}
    ratio_models = ratio_models or {}
    skew = {
        name: (ratio_models.get(name) or fit_task_gp(model.series, ("x",))).skew_evidence
        for name, model in models.items()
    }
    fits = []
    for one in eligible:
        members = [task for task in one.tasks if task in models]
        if not members:
            continue
        surface = (one.pooled(draws, members) * one.metric_sign).reshape(-1, len(log10_bs), LR_POINTS)
        mean = one.pooled({name: means[name][None, :] for name in members}, members)[0] * one.metric_sign
        contour = (map_lr, map_bs, mean.reshape(map_lr_grid.shape))
        noisy = (with_noise_variance(one, models), correlation, [skew[task] for task in members])
        fits.append(_surface_fit(one, (log10_bs, log10_lr), surface, contour, noisy))
    return fits


def ridge_batch_sizes(values: pd.Series) -> np.ndarray:
    """The grid's batch sizes (log10), or MAX_BINS[2] of them spread over their range on a huge grid."""
    distinct = np.sort(values.unique())
    return distinct if len(distinct) <= MAX_BINS[2] else np.quantile(distinct, np.linspace(0, 1, MAX_BINS[2]))


def _surface_fit(
    series: Series,
    axes: tuple[np.ndarray, np.ndarray],
    surface: np.ndarray,
    contour: tuple[np.ndarray, np.ndarray, np.ndarray],
    noisy: tuple[pd.DataFrame, float, list[np.ndarray]],
) -> SurfaceFit:
    """Locate each batch size's optimal learning rate among the learning rates scored at (the nearest) it, where
    they span at least two of the surface's learning rates: one learning rate (a follow-up's new batch size, or a
    batch size only another task tried) locates nothing, and the batch size is left out of this series' ridge.
    `axes`: the batch sizes and learning rates (log10) the surface was drawn at; `noisy`: the series' points with
    their noise variance, how alike a trial's noise is across its tasks, and each member task's evidence that its peak
    falls sharply on either side (its ratio fit's `skew_evidence`)."""
    log10_bs, log10_lr = axes
    sign, (noisy, correlation, skew) = series.metric_sign, noisy
    points = series.points
    nearest = np.abs(points["log10_bs"].to_numpy()[:, None] - log10_bs[None, :]).argmin(axis=1)
    located, intervals, edges, ridge = [], [], [], []
    for index, batch_log10_bs in enumerate(log10_bs):
        tried = points.loc[nearest == index, "log10_lr"]
        inside = (log10_lr >= tried.min() - 1e-9) & (log10_lr <= tried.max() + 1e-9)
        if inside.sum() < 2:
            continue
        located.append(batch_log10_bs)
        lrs = log10_lr[inside]
        best = lrs[np.argmax(sign * surface[:, index, inside], axis=1)]
        ridge.append(best)
        edge = series.frontier.learning_rate_edge(batch_log10_bs, lrs[-1])
        at_batch = noisy[nearest == index].assign(x=lambda frame: frame["log10_lr"])
        widen = widened_sides(skew, edge == FRONTIER)
        tried = BestTried.of(at_batch, correlation) if any(widen) else None
        intervals.append(locate_optimum(best, lrs, tried, widen))
        edges.append(edge)
    return SurfaceFit(
        level=series.level,
        name=series.name,
        log10_bs=np.array(located),
        optimal_lr=intervals,
        high_edges=edges,
        ridge_samples=np.column_stack(ridge) if ridge else np.empty((len(surface), 0)),
        map_log10_lr=contour[0],
        map_log10_bs=contour[1],
        map_mean=contour[2],
    )


def optimal_lr_table(fits: list[SurfaceFit]) -> pd.DataFrame:
    """optimal_lr.csv: per series and batch size, the optimal learning rate with its CI (log10) and open flags."""
    rows = [
        {
            "level": fit.level,
            "name": fit.name,
            "batch_size": float(10**log10_bs),
            **interval.as_columns("best_log10_lr"),
            "best_learning_rate": 10**interval.estimate,
            "high_edge": edge,
        }
        for fit in fits
        for log10_bs, interval, edge in zip(fit.log10_bs, fit.optimal_lr, fit.high_edges, strict=True)
    ]
    columns = [
        "level", "name", "batch_size", "best_log10_lr", "ci_low", "ci_high", "ci_low_open", "ci_high_open",
        "best_learning_rate", "high_edge",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
