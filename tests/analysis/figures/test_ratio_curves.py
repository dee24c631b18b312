"""score_vs_ratio and category_curves: a panel per task (per category), every ok run a point, a fitted task's GP mean
with its 95% band and its optimum's CI (an arrow at an open end), no curve for a task scored at two ratios, diverged
runs as x along the bottom, the base model dashed, and a legend of what is shown."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from analysis.figures.ratio_curves import RATIO_LABEL, category_curves_figure, score_vs_ratio_figure
from tests.analysis.figures.helpers import curves, legend_labels, marked_lines, markers, panels, scatters
from tests.analysis.figures.planted import Analysed


@pytest.fixture(scope="module")
def figure(analysed: Analysed) -> Figure:
    return score_vs_ratio_figure(analysed.frame, analysed.task_fits, analysed.task_category, analysed.colours)


def _bands(axes) -> list[PolyCollection]:
    return [layer for layer in axes.collections if isinstance(layer, PolyCollection)]


def test_one_panel_per_task_on_the_ratio_axis_in_its_metrics_units(figure: Figure) -> None:
    assert [axes.get_title() for axes in figure.axes] == ["arc", "gsm8k", "hellaswag", "ifeval"]
    assert {axes.get_xlabel() for axes in figure.axes} == {RATIO_LABEL} == {"log10(lr / batch size)"}
    assert [axes.get_ylabel() for axes in figure.axes] == ["acc", "exact_match", "acc", "acc"]


def test_a_fitted_task_has_its_curve_band_and_optimum_and_a_direction_has_none(
    figure: Figure, analysed: Analysed
) -> None:
    by_title = {axes.get_title(): axes for axes in figure.axes}
    for task in ("arc", "gsm8k", "hellaswag"):
        axes, fit = by_title[task], analysed.task_fits[task]
        (curve,) = curves(axes, len(fit.curve))
        np.testing.assert_allclose(curve.get_xdata(), fit.curve["x"])
        np.testing.assert_allclose(curve.get_ydata(), fit.curve["fit"])
        assert len(_bands(axes)) == 1
        (estimate,) = marked_lines(axes, "D")
        assert estimate.get_xdata()[0] == pytest.approx(fit.best_log10_ratio)
    ifeval = by_title["ifeval"]
    assert analysed.task_fits["ifeval"].kind == "two_ratios"
    assert _bands(ifeval) == [] and markers(ifeval) == [] and curves(ifeval, 121) == []


def test_an_open_optimum_ends_in_an_arrow_and_a_closed_one_in_bars(figure: Figure, analysed: Analysed) -> None:
    by_title = {axes.get_title(): axes for axes in figure.axes}
    hellaswag, gsm8k = analysed.task_fits["hellaswag"].optimum, analysed.task_fits["gsm8k"].optimum
    assert hellaswag.high_open and not hellaswag.low_open and not gsm8k.is_open
    assert markers(by_title["hellaswag"]) == ["|", ">", "D"]
    (arrow,) = marked_lines(by_title["hellaswag"], ">")
    assert arrow.get_xdata()[0] == pytest.approx(hellaswag.high)
    assert markers(by_title["gsm8k"]) == ["|", "|", "D"]


def test_every_ok_run_is_a_point_and_every_diverged_one_an_x(figure: Figure, analysed: Analysed) -> None:
    frame = analysed.frame
    for axes in figure.axes:
        rows = frame[frame["task"] == axes.get_title()]
        (points,) = scatters(axes, "o")
        ok = rows[rows["status"] == "ok"]
        np.testing.assert_allclose(np.sort(points.get_offsets()[:, 0]), np.sort(ok["log10_ratio"]))
        (diverged,) = scatters(axes, "x")
        expected = np.sort(rows.loc[rows["status"] == "diverged", "log10_ratio"])
        np.testing.assert_allclose(np.sort(diverged.get_offsets()[:, 0]), expected)
        (baseline,) = [line for line in axes.lines if line.get_linestyle() == "--"]
        assert baseline.get_ydata()[0] == pytest.approx(rows.loc[rows["status"] == "baseline", "score"].iloc[0])
    assert len(scatters(figure.axes[0], "x")[0].get_offsets()) == 3


def test_the_legend_names_the_categories_and_each_kind_of_mark_shown(figure: Figure) -> None:
    assert legend_labels(figure) == [
        "pattern",
        "reasoning",
        "GP mean, 95% band",
        "optimum, 95% CI",
        "CI open (reaches the range's end)",
        "diverged",
        "base model",
    ]


def test_a_category_panel_shows_its_tasks_z_scores_and_its_pooled_curve(analysed: Analysed) -> None:
    pooled = [fit for fit in analysed.fits if fit.level != "task"]
    figure = category_curves_figure(pooled, analysed.colours)
    assert [axes.get_title() for axes in panels(figure)] == ["pattern", "reasoning", "all tasks"]
    for axes, fit in zip(figure.axes, pooled, strict=True):
        assert (axes.get_xlabel(), axes.get_ylabel()) == (RATIO_LABEL, "score, z per task")
        assert len(_bands(axes)) == 1 and len(curves(axes, len(fit.curve))) == 1
        point_layers = [layer for layer in axes.collections if not isinstance(layer, PolyCollection)]
        assert len(point_layers) == fit.points["task"].nunique()
        assert sum(len(layer.get_offsets()) for layer in point_layers) == len(fit.points)
    assert markers(figure.axes[0]) == ["|", ">", "D"], "pattern's optimum is open at the frontier"
    assert sorted(legend_labels(figure)) == ["arc", "gsm8k", "hellaswag", "ifeval"], "each task once"
