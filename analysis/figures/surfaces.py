"""surfaces.png, SmolTulu's figure: the fitted score over learning rate × batch size as contours, one panel per
task, category and the all-tasks pool.

Contours are the GP's posterior mean (a task's in its metric's units, a category's in z units), left blank past
the largest learning rate that trained at each batch size (the model has nothing to say where runs diverged).
On top: the trials (diverged ones as x), iso-ratio lines, and the ridge of optimal learning rate per batch size
with its 95% band; an open end of the band is an arrow.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.figure import Figure

from analysis.estimates.surfaces import SurfaceFit
from analysis.figures.parts import iso_ratio_lines, lr_bs_axes
from analysis.figures.style import MARK_OUTLINE, panel_grid, panel_title
from analysis.schema import BASELINE_STATUS, FIT_STATUS

CONTOUR_MAP = mpl.colormaps["viridis"]
DARK_OUTLINE = [patheffects.withStroke(linewidth=2.6, foreground="0.15")]
"""Keeps the white ridge visible over the light end of the colour map."""


def surface_figure(frame: pd.DataFrame, surfaces: list[SurfaceFit]) -> Figure:
    """One contour panel per task, category and the all-tasks pool."""
    figure, axes_list = panel_grid(len(surfaces), panel_height=2.4, columns=2)
    trials = frame[frame["status"] != BASELINE_STATUS].drop_duplicates(["learning_rate", "batch_size", "seed"])
    ok = trials[trials["status"] == FIT_STATUS]
    metrics = frame.groupby("task")["metric"].first()
    for axes, surface in zip(axes_list, surfaces, strict=False):
        learning_rate, batch_size = 10**surface.map_log10_lr, 10**surface.map_log10_bs
        mean = np.ma.masked_where(_past_stable(ok, surface), surface.map_mean)
        filled = axes.contourf(learning_rate, batch_size, mean, levels=12, cmap=CONTOUR_MAP)
        label = (metrics.get(surface.name) or "score") if surface.level == "task" else "score, z per task"
        axes.figure.colorbar(filled, ax=axes, label=label, fraction=0.08, pad=0.02)
        axes.scatter(ok["learning_rate"], ok["batch_size"], s=7, color="white", edgecolors="0.2", linewidths=0.4)
        lost = trials[trials["status"] == "diverged"]
        axes.scatter(
            lost["learning_rate"], lost["batch_size"], marker="x", s=14, color="black", path_effects=MARK_OUTLINE
        )
        x_limits, y_limits = learning_rate[[0, -1]], batch_size[[0, -1]]
        ratios = learning_rate[[0, -1]] / batch_size[[-1, 0]]
        iso_ratio_lines(axes, x_limits, y_limits, (ratios[0], ratios[1]), 0.7)
        _ridge(axes, surface)
        learning_rates, batch_sizes = (
            np.sort(ok["learning_rate"].unique()),
            np.sort(ok["batch_size"].astype(float).unique()),
        )
        lr_bs_axes(axes, x_limits, y_limits, learning_rates, batch_sizes)
        axes.set_title(panel_title(surface.level, surface.name))
    return figure


def _past_stable(ok: pd.DataFrame, surface: SurfaceFit) -> np.ndarray:
    """Mask of the map's points above the largest learning rate that trained ok at the nearest batch size."""
    largest = ok.groupby("batch_size")["learning_rate"].max()
    grid_bs = np.log10(largest.index.to_numpy(dtype=float))
    nearest = np.abs(surface.map_log10_bs[:, None] - grid_bs[None, :]).argmin(axis=1)
    limit = np.log10(largest.to_numpy(dtype=float))[nearest]
    return surface.map_log10_lr[None, :] > limit[:, None] + 1e-9


def _ridge(axes: mpl.axes.Axes, surface: SurfaceFit) -> None:
    """The optimal learning rate per batch size, its 95% band, and arrows at the band's open ends."""
    batch_size = 10**surface.log10_bs
    estimate, low, high = (
        10 ** np.array([getattr(interval, side) for interval in surface.optimal_lr])
        for side in ("estimate", "low", "high")
    )
    axes.fill_betweenx(batch_size, low, high, color="white", alpha=0.35, linewidth=0, zorder=3)
    axes.plot(estimate, batch_size, color="white", linewidth=1.6, path_effects=DARK_OUTLINE, zorder=4)
    for bs, interval in zip(batch_size, surface.optimal_lr, strict=True):
        for end, is_open, marker in ((interval.low, interval.low_open, "<"), (interval.high, interval.high_open, ">")):
            if is_open:
                axes.plot(10**end, bs, marker=marker, color="white", markersize=5, path_effects=DARK_OUTLINE, zorder=5)
