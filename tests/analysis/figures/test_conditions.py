"""The study figures: a forest panel per category with a row per condition on one shared x axis (an arrow at an
open end, no mark where no optimum was located), and the size law's points, line and band on log parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimates.curves import CurveFit
from analysis.estimates.intervals import Interval
from analysis.estimates.shifts import ConditionFit, condition_optima, size_laws
from analysis.figures.conditions import condition_optima_figure, size_law_figure
from analysis.figures.style import category_colours
from tests.analysis.figures.helpers import marked_lines, panels

SIZES = (1.35e8, 3.6e8, 1.7e9)


def _study() -> tuple[pd.DataFrame, list]:
    conditions = []
    for size in SIZES:
        y = -4.0 - 0.8 * np.log10(size / SIZES[0])
        fits = [
            CurveFit("category", "reasoning", "gp", 35, optimum=Interval(y, y - 0.3, y + 0.3)),
            CurveFit("category", "pattern", "gp", 35, optimum=Interval(y - 1, y - 1.3, y - 0.7, high_open=size > 1e9)),
            CurveFit("all", "all tasks", "no_data", 0),
        ]
        conditions.append(ConditionFit(f"{size:g}", size, fits, []))
    return condition_optima(conditions), size_laws(conditions)


def test_a_forest_panel_per_category_a_row_per_condition_on_one_axis() -> None:
    optima, _ = _study()
    figure = condition_optima_figure(optima, category_colours(["reasoning", "pattern"]))
    axes = panels(figure)
    assert [one.get_title() for one in axes] == ["reasoning (category)", "pattern (category)", "all tasks (all)"]
    assert len({one.get_xlim() for one in axes}) == 1
    reasoning, pattern, pooled = axes
    assert [label.get_text() for label in reasoning.get_yticklabels()] == [f"{size:g}" for size in SIZES]
    assert len(marked_lines(reasoning, "D")) == 3 and len(marked_lines(pattern, ">")) == 1
    assert marked_lines(pooled, "D") == []  # not located: named, not marked


def test_the_size_law_draws_each_optimum_its_line_and_band() -> None:
    optima, laws = _study()
    assert [law.category for law in laws] == ["reasoning"]  # pattern's open optimum leaves two sizes
    figure = size_law_figure(optima, laws, category_colours(["reasoning", "pattern"]))
    (axes,) = panels(figure)
    assert len(axes.collections) == 1  # the band
    (line,) = [one for one in axes.lines if one.get_label().startswith("reasoning: slope")]
    assert np.polyfit(line.get_xdata(), line.get_ydata(), 1)[0] == pytest.approx(laws[0].slope)
    assert len(marked_lines(axes, "D")) == 3  # the category's optimum at each size
    assert [label.get_text() for label in axes.get_xticklabels()] == ["135M", "360M", "1.7B"]
