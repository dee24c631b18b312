"""How every figure looks: print sizes, type sizes, one colour per category, outlines, a grid of panels with one
legend under them, and panel titles.

Figures are sized for print (3.4 in single column, 7 in for several panels, 8 pt text) and use constrained layout
so no text overlaps. Each category keeps one Okabe–Ito colour (colour-blind safe) in every figure.
"""

from __future__ import annotations

from collections.abc import Iterable

from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

SINGLE_COLUMN, DOUBLE_COLUMN = 3.4, 7.0
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
TASK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
STYLE = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "axes.spines.top": False, "axes.spines.right": False, "lines.linewidth": 1.2,
}  # fmt: skip
"""matplotlib rc settings every figure is drawn under."""
RASTERIZE_ABOVE = 500
"""Scatter layers with more points than this are drawn small, faint and rasterized in the PDF."""
CURVE_OUTLINE = [patheffects.withStroke(linewidth=2.6, foreground="white")]
"""A white edge that keeps a fitted curve visible on top of points of its own colour."""
MARK_OUTLINE = [patheffects.withStroke(linewidth=2.2, foreground="white")]
"""A white edge that keeps a diverged trial's x visible on any colour of a map."""


def category_colours(categories: Iterable[str]) -> dict[str, str]:
    """One Okabe–Ito colour per category, by sorted name, so every figure of a sweep agrees."""
    return {name: OKABE_ITO[index % len(OKABE_ITO)] for index, name in enumerate(sorted(set(categories)))}


def point_style(count: int) -> dict:
    """Scatter style by point count: many points are drawn smaller, fainter and rasterized, so the fit stays visible
    and the PDF small."""
    dense = count > RASTERIZE_ABOVE
    return {"s": 3 if dense else 9, "alpha": 0.25 if dense else 0.6, "linewidths": 0, "rasterized": dense}


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


def panel_title(level: str, name: str) -> str:
    """A task's panel is titled by its name; a category's or the all-tasks pool's says which it is."""
    return name if level == "task" else f"{name} ({level})"
