"""Parts drawn into many figures: the mark of an interval (an estimate with its CI; an open end is an arrow, so no
plot shows a bound the data never gave), and the learning rate × batch size axes of the maps (log axes ticked at the
grid's own values, iso-ratio lines lr/bs = const as labelled diagonals).
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, NullLocator

from analysis.estimates.intervals import Interval

MAX_LABELLED_TICKS = 6


def draw_interval(axes: Axes, interval: Interval, at: float, horizontal: bool) -> None:
    """An estimate with its CI as an error bar along x (`horizontal`) or y; an open end becomes an arrow."""
    if not np.isfinite(interval.estimate):
        return
    style = {"color": "black", "linewidth": 1, "zorder": 5}
    ends = (interval.low, interval.high)
    line = (ends, (at, at)) if horizontal else ((at, at), ends)
    axes.plot(*line, **style)
    for end, is_open, arrow in ((interval.low, interval.low_open, "<v"), (interval.high, interval.high_open, ">^")):
        marker = arrow[0 if horizontal else 1] if is_open else ("|" if horizontal else "_")
        point = (end, at) if horizontal else (at, end)
        axes.plot(*point, marker=marker, markersize=5 if is_open else 4, linestyle="none", **style)
    point = (interval.estimate, at) if horizontal else (at, interval.estimate)
    axes.plot(*point, marker="D", markerfacecolor="white", markersize=4, linestyle="none", **style)


def lr_bs_axes(
    axes: Axes, x_limits: np.ndarray, y_limits: np.ndarray, learning_rates: np.ndarray, batch_sizes: np.ndarray
) -> None:
    """Learning rate (log10) across, batch size (log2) up, over `x_limits` × `y_limits`, ticked at the grid's values."""
    axes.set_xscale("log")
    axes.set_yscale("log", base=2)
    axes.set_xlim(*x_limits)
    axes.set_ylim(*y_limits)
    log_ticks(axes.xaxis, learning_rates, 10, "{:.0e}")
    log_ticks(axes.yaxis, batch_sizes, 2, "{:g}")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("batch size")


def iso_ratio_lines(
    axes: Axes, x_limits: np.ndarray, y_limits: np.ndarray, ratios: tuple[float, float], width: float
) -> None:
    """Labelled dashed lines lr/bs = const at round ratios between `ratios` (low, high)."""
    for ratio in iso_ratios(*ratios):
        ratio_line(axes, ratio, (x_limits, y_limits), f"{ratio:.0e}".replace("e-0", "e-"), "--", width)


def iso_ratios(low: float, high: float) -> list[float]:
    """Round lr/bs values inside [low, high] for guide lines: decades, or half decades on a narrow grid."""
    decades = np.arange(np.ceil(np.log10(low)), np.floor(np.log10(high)) + 1)
    if decades.size < 2:
        halves = np.arange(np.ceil(2 * np.log10(low)), np.floor(2 * np.log10(high)) + 1) / 2
        return [float(10**value) for value in halves]
    return [float(10**value) for value in decades[:: 1 + decades.size // 5]]


def ratio_line(
    axes: Axes, ratio: float, limits: tuple[np.ndarray, np.ndarray], label: str | None, style: str, width: float
) -> None:
    """The line batch_size = learning_rate / ratio across the axes (`limits`: x and y), labelled where it leaves the
    plot."""
    x_limits, y_limits = limits
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
        low, high = (np.log(value) / np.log(base) for value in (values.min(), values.max()))
        exponents = np.arange(np.ceil(low - 1e-9), np.floor(high + 1e-9) + 1)
        values = base**exponents if exponents.size >= 2 else values[[0, -1]]
    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(lambda value, _: template.format(value).replace("e-0", "e-"))
    axis.set_minor_locator(NullLocator())
