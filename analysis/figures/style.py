"""Pieces every figure shares: print sizes, a grid of panels, one legend under them, and the mark of an interval
(an estimate with its CI; an open end is an arrow, so no plot shows a bound the data never gave)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.estimates.intervals import Interval

SINGLE_COLUMN, DOUBLE_COLUMN = 3.4, 7.0


def panel_grid(count: int, panel_height: float = 2.0, columns: int = 3) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure with `count` panels, `columns` per row (one panel: single-column width)."""
    columns = max(1, min(count, columns))
    rows = -(-max(count, 1) // columns)
    width = SINGLE_COLUMN if columns == 1 else DOUBLE_COLUMN
    figure = Figure(figsize=(width, panel_height * rows + 0.6), layout="constrained")
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for extra in axes[max(count, 1) :]:
        extra.remove()
    return figure, axes[: max(count, 1)]


def figure_legend(figure: Figure, handles: list[Line2D]) -> None:
    """One legend under all panels; two columns at single-column width so it fits the page."""
    columns = 4 if figure.get_figwidth() >= DOUBLE_COLUMN else 2
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), columns), frameon=False)


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
