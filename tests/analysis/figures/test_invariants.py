"""invariants: a row per series; left, each invariant's CV RMSE relative to the row's best on a log axis with the
chosen one circled; right, the free exponent α with its CI (an arrow at an open end) beside α = 1 and α = 0.5."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimates.invariants import INVARIANTS, SEPARATE
from analysis.figures.invariants import invariants_figure
from tests.analysis.figures.helpers import marked_lines, markers
from tests.analysis.figures.planted import Analysed

MODELS = [*INVARIANTS, SEPARATE]


def _table() -> pd.DataFrame:
    """Two series: lr/bs chosen with α in [0.8, 1.1]; lr/sqrt(bs) chosen with α's CI open at its high end."""
    rows = []
    for level, name, chosen, alpha in (("task", "arc", MODELS[0], (0.95, 0.8, 1.1, False, False)),
                                       ("category", "reasoning", MODELS[1], (3.5, 2.0, 4.0, False, True))):  # fmt: skip
        for model, cv_rmse in zip(MODELS, (0.010, 0.012, 0.020), strict=True):
            rows.append(
                {
                    "level": level, "name": name, "invariant": model, "chosen": model == chosen,
                    "cv_rmse": cv_rmse if model != chosen else 0.009, "alpha_hat": alpha[0], "alpha_ci_low": alpha[1],
                    "alpha_ci_high": alpha[2], "alpha_ci_low_open": alpha[3], "alpha_ci_high_open": alpha[4],
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_each_series_is_a_row_with_its_models_fit_and_alpha() -> None:
    figure = invariants_figure(_table())
    relative, alpha = figure.axes
    assert [label.get_text() for label in relative.get_yticklabels()] == ["arc (task)", "reasoning (category)"]
    assert relative.get_xscale() == "log" and "CV RMSE / best CV RMSE" in relative.get_xlabel()
    assert [text.get_text() for text in relative.get_legend().get_texts()] == MODELS
    for position, chosen in enumerate(MODELS[:2]):
        (circle,) = [
            layer for layer in relative.collections if len(layer.get_offsets()) and layer.get_sizes()[0] == 90
            and layer.get_offsets()[0][1] == position
        ]  # fmt: skip
        assert circle.get_offsets()[0][0] == 1.0, f"{chosen}, chosen, is the row's best"
    assert "free exponent α" in alpha.get_xlabel()
    assert markers(alpha) == ["|", "|", "D", "|", ">", "D"]
    (arrow,) = marked_lines(alpha, ">")
    assert (arrow.get_xdata()[0], arrow.get_ydata()[0]) == (4.0, 1.0)
    references = [line.get_xdata()[0] for line in alpha.lines if line.get_linestyle() == "--"]
    assert references == [1.0, 0.5] and [text.get_text() for text in alpha.texts] == ["lr/bs", "lr/sqrt(bs)"]


def test_the_planted_sweeps_series_each_get_a_row(analysed: Analysed) -> None:
    table = analysed.tables["invariants"]
    figure = invariants_figure(table)
    relative, alpha = figure.axes
    series = list(dict.fromkeys(zip(table["level"], table["name"], strict=True)))
    assert [label.get_text() for label in relative.get_yticklabels()] == [f"{n} ({lvl})" for lvl, n in series]
    assert len(marked_lines(alpha, "D")) == len(series)
    points = [layer for layer in relative.collections if len(layer.get_offsets()) and layer.get_sizes()[0] == 18]
    assert len(points) == len(MODELS) and all(len(layer.get_offsets()) == len(series) for layer in points)
    assert np.isclose([layer.get_offsets()[:, 0].min() for layer in points], 1.0).any()
