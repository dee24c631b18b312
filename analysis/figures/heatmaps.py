"""heatmaps.png: each task's score over the learning rate × batch size grid, like SmolTulu's contour plots: seeds
averaged per cell on log axes, iso-ratio lines lr/bs = const as labelled dashed diagonals, the task's best ratio as
a solid line, and an x on every cell where a run diverged (grey cells: no run scored; on very large grids grey only).
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.estimates.curves import CurveFit
from analysis.figures.parts import iso_ratio_lines, lr_bs_axes, ratio_line
from analysis.figures.style import MARK_OUTLINE, panel_grid
from analysis.load import aggregate_seeds
from analysis.schema import BASELINE_STATUS

COLOUR_MAP = mpl.colormaps["viridis"].with_extremes(bad="0.85")
MAX_MARKED_CELLS = 400
"""Above this many cells the diverged ones are left grey, unmarked: an x per cell would be a smear."""


def heatmaps_figure(
    frame: pd.DataFrame, fits: dict[str, CurveFit], task_category: pd.Series, colours: dict[str, str]
) -> Figure:
    """One panel per task, titled in its category's colour."""
    tasks = sorted(frame["task"].unique())
    figure, panels = panel_grid(len(tasks), panel_height=2.3, columns=2)
    for axes, task in zip(panels, tasks, strict=False):
        fit = fits.get(task)
        best_ratio = 10**fit.best_log10_ratio if fit is not None and fit.kind == "gp" else None
        rows = frame[frame["task"] == task]
        draw_heatmap(axes, rows, best_ratio)
        axes.set_title(task, color=colours[task_category.get(task, rows["category"].iloc[0])])
    return figure


def draw_heatmap(axes: Axes, rows: pd.DataFrame, best_ratio: float | None) -> None:
    """Draw one task's rows (all statuses) into `axes`; `best_ratio` is its fitted optimum lr/bs, if any."""
    trained = rows[rows["status"] != BASELINE_STATUS]
    if trained.empty:
        axes.set_xlabel("learning rate")
        axes.set_ylabel("batch size")
        axes.text(0.5, 0.5, "no trained runs", transform=axes.transAxes, ha="center", va="center")
        return
    learning_rates = np.sort(trained["learning_rate"].unique())
    batch_sizes = np.sort(trained["batch_size"].astype(float).unique())
    cells = aggregate_seeds(rows)
    _draw_scores(axes, trained, cells, learning_rates, batch_sizes, rows["metric"].iloc[0] or "score")
    diverged = trained[trained["status"] == "diverged"].drop_duplicates(["learning_rate", "batch_size"])
    if len(learning_rates) * len(batch_sizes) <= MAX_MARKED_CELLS:
        axes.scatter(
            diverged["learning_rate"],
            diverged["batch_size"],
            marker="x",
            color="black",
            s=16,
            linewidths=1,
            path_effects=MARK_OUTLINE,
            zorder=4,
        )
    x_limits, y_limits = _edges(learning_rates)[[0, -1]], _edges(batch_sizes)[[0, -1]]
    iso_ratio_lines(axes, x_limits, y_limits, (trained["lr_bs_ratio"].min(), trained["lr_bs_ratio"].max()), 0.8)
    if best_ratio is not None:
        ratio_line(axes, best_ratio, (x_limits, y_limits), None, "-", 1.4)
    lr_bs_axes(axes, x_limits, y_limits, learning_rates, batch_sizes)


def _draw_scores(
    axes: Axes,
    trained: pd.DataFrame,
    cells: pd.DataFrame,
    learning_rates: np.ndarray,
    batch_sizes: np.ndarray,
    metric: str,
) -> None:
    """Cells of a full grid as a mesh; scattered points (random search) as coloured squares."""
    n_grid_points = len(trained.drop_duplicates(["learning_rate", "batch_size"]))
    finite = cells["score"].notna().any()
    if n_grid_points == len(learning_rates) * len(batch_sizes):
        matrix = cells.pivot_table(index="batch_size", columns="learning_rate", values="score")
        matrix = matrix.reindex(index=batch_sizes, columns=learning_rates)
        mesh = axes.pcolormesh(
            _edges(learning_rates),
            _edges(batch_sizes),
            np.ma.masked_invalid(matrix.to_numpy()),
            cmap=COLOUR_MAP,
            shading="flat",
            rasterized=True,
        )
    else:
        mesh = axes.scatter(
            cells["learning_rate"],
            cells["batch_size"],
            c=cells["score"],
            cmap=COLOUR_MAP,
            marker="s",
            s=12,
            linewidths=0,
        )
    if finite:
        axes.figure.colorbar(mesh, ax=axes, label=metric, fraction=0.08, pad=0.02)


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges on a log axis: geometric midpoints between grid values, half a step beyond the ends."""
    logs = np.log10(values.astype(float))
    step = np.diff(logs)
    pad = np.r_[step[:1], step[-1:]] / 2 if step.size else np.array([0.15, 0.15])
    return 10 ** np.r_[logs[0] - pad[0], logs[:-1] + step / 2, logs[-1] + pad[1]]
