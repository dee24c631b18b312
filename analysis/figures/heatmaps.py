"""One task's score over the learning rate × batch size grid, like SmolTulu's contour plots: seeds averaged per
cell on log axes, iso-ratio lines lr/bs = const as labelled dashed diagonals, the task's best ratio as a solid
line, and an x on every cell where a run diverged (grey cells: no run scored; on very large grids grey only).
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, NullLocator

from analysis.load import aggregate_seeds
from analysis.schema import BASELINE_STATUS

COLOUR_MAP = mpl.colormaps["viridis"].with_extremes(bad="0.85")
OUTLINE = [patheffects.withStroke(linewidth=2.2, foreground="white")]
MAX_LABELLED_TICKS = 6
MAX_MARKED_CELLS = 400
"""Above this many cells the diverged ones are left grey, unmarked: an x per cell would be a smear."""


def draw_heatmap(axes: Axes, rows: pd.DataFrame, best_ratio: float | None) -> None:
    """Draw one task's rows (all statuses) into `axes`; `best_ratio` is its fitted optimum lr/bs, if any."""
    trained = rows[rows["status"] != BASELINE_STATUS]
    axes.set_xlabel("learning rate")
    axes.set_ylabel("batch size")
    if trained.empty:
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
            path_effects=OUTLINE,
            zorder=4,
        )
    x_limits, y_limits = _edges(learning_rates)[[0, -1]], _edges(batch_sizes)[[0, -1]]
    ratios = trained["lr_bs_ratio"]
    for ratio in iso_ratios(ratios.min(), ratios.max()):
        ratio_line(axes, ratio, x_limits, y_limits, f"{ratio:.0e}".replace("e-0", "e-"), "--", 0.8)
    if best_ratio is not None:
        ratio_line(axes, best_ratio, x_limits, y_limits, None, "-", 1.4)
    axes.set_xscale("log")
    axes.set_yscale("log", base=2)
    axes.set_xlim(*x_limits)
    axes.set_ylim(*y_limits)
    log_ticks(axes.xaxis, learning_rates, 10, "{:.0e}")
    log_ticks(axes.yaxis, batch_sizes, 2, "{:g}")


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


def iso_ratios(low: float, high: float) -> list[float]:
    """Round lr/bs values inside [low, high] for guide lines: decades, or half decades on a narrow grid."""
    decades = np.arange(np.ceil(np.log10(low)), np.floor(np.log10(high)) + 1)
    if decades.size < 2:
        halves = np.arange(np.ceil(2 * np.log10(low)), np.floor(2 * np.log10(high)) + 1) / 2
        return [float(10**value) for value in halves]
    return [float(10**value) for value in decades[:: 1 + decades.size // 5]]


def ratio_line(
    axes: Axes, ratio: float, x_limits: np.ndarray, y_limits: np.ndarray, label: str | None, style: str, width: float
) -> None:
    """The line batch_size = learning_rate / ratio across the axes, labelled where it leaves the plot."""
    learning_rate = np.geomspace(x_limits[0], x_limits[1], 50)
    axes.plot(
        learning_rate,
        learning_rate / ratio,
        linestyle=style,
        color="white",
        linewidth=width,
        path_effects=[patheffects.withStroke(linewidth=width + 1.2, foreground="0.2")],
        zorder=3,
    )
    if label is None:
        return
    top_lr = ratio * y_limits[1]
    x, y = (top_lr, y_limits[1]) if x_limits[0] < top_lr < x_limits[1] else (x_limits[1], x_limits[1] / ratio)
    if y_limits[0] < y <= y_limits[1]:
        axes.text(
            x,
            y,
            label,
            fontsize=6,
            ha="right",
            va="top",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )


def log_ticks(axis: mpl.axis.Axis, values: np.ndarray, base: int, template: str) -> None:
    """Tick the grid's own values when few enough to label, else the powers of `base` inside the grid; no
    minor ticks (a fixed, short tick list also keeps constrained layout fast on big grids)."""
    if len(values) > MAX_LABELLED_TICKS:
        exponents = np.arange(
            np.ceil(np.log(values.min()) / np.log(base)), np.floor(np.log(values.max()) / np.log(base)) + 1
        )
        values = base**exponents if exponents.size >= 2 else values[[0, -1]]
    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(lambda value, _: template.format(value).replace("e-0", "e-"))
    axis.set_minor_locator(NullLocator())
