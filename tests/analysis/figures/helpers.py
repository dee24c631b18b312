"""Reading a matplotlib Figure back: its panels (colour bars left out), the markers its lines and scatters draw, and
its legend."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle


def panels(figure: Figure) -> list[Axes]:
    """The figure's axes without its colour bars."""
    return [axes for axes in figure.axes if axes.get_label() != "<colorbar>"]


def colour_bars(figure: Figure) -> list[Axes]:
    return [axes for axes in figure.axes if axes.get_label() == "<colorbar>"]


def marked_lines(axes: Axes, marker: str) -> list[Line2D]:
    """The lines drawn with `marker` (draw_interval draws each end and the estimate as a one-point line)."""
    return [line for line in axes.lines if line.get_marker() == marker]


def markers(axes: Axes) -> list[str]:
    """Every line's marker, lines without one left out."""
    return [line.get_marker() for line in axes.lines if line.get_marker() not in (None, "None", "")]


def scatters(axes: Axes, marker: str) -> list[PathCollection]:
    """The scatter layers drawn with `marker` ('x' and '+' are told apart by their paths)."""
    style = MarkerStyle(marker)
    path = style.get_path().transformed(style.get_transform())
    return [
        layer
        for layer in axes.collections
        if isinstance(layer, PathCollection)
        and len(layer.get_paths()) == 1
        and layer.get_paths()[0].vertices.shape == path.vertices.shape
        and np.allclose(layer.get_paths()[0].vertices, path.vertices)
    ]


def curves(axes: Axes, length: int) -> list[Line2D]:
    """Lines of `length` points without markers: fitted curves, law lines."""
    return [line for line in axes.lines if len(line.get_xdata()) == length and line.get_marker() in (None, "None")]


def legend_labels(figure: Figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]
