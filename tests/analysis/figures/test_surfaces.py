"""surfaces: a contour panel per task, category and the all-tasks pool on log learning rate × batch size axes, the
trials on top (diverged ones as x), the ridge of optimal learning rates as a line, and an arrow at each open end of
its band."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from analysis.figures.surfaces import surface_figure
from tests.analysis.figures.helpers import colour_bars, marked_lines, panels, scatters
from tests.analysis.figures.planted import Analysed


@pytest.fixture(scope="module")
def figure(analysed: Analysed) -> Figure:
    return surface_figure(analysed.frame, analysed.surfaces)


def test_a_contour_panel_per_series_on_log_axes(figure: Figure, analysed: Analysed) -> None:
    assert [axes.get_title() for axes in panels(figure)] == [
        "arc",
        "gsm8k",
        "hellaswag",
        "pattern (category)",
        "reasoning (category)",
        "all tasks (all)",
    ], "ifeval, scored at one batch size, has no surface"
    assert [bar.get_ylabel() for bar in colour_bars(figure)] == ["acc", "exact_match", "acc"] + [
        "score, z per task"
    ] * 3
    for axes in panels(figure):
        assert (axes.get_xscale(), axes.get_yscale(), axes.yaxis.get_transform().base) == ("log", "log", 2)
        assert (axes.get_xlabel(), axes.get_ylabel()) == ("learning rate", "batch size")
        assert len([layer for layer in axes.collections if isinstance(layer, ContourSet)]) == 1


def test_the_trials_and_the_ridge_are_drawn_with_an_arrow_at_each_open_end(figure: Figure, analysed: Analysed) -> None:
    trials = analysed.frame[analysed.frame["status"] != "baseline"].drop_duplicates(["learning_rate", "batch_size"])
    diverged = trials[trials["status"] == "diverged"]
    for axes, surface in zip(panels(figure), analysed.surfaces, strict=True):
        (marks,) = scatters(axes, "x")
        np.testing.assert_allclose(np.sort(marks.get_offsets()[:, 0]), np.sort(diverged["learning_rate"]))
        (ridge,) = [line for line in axes.lines if line.get_linewidth() == 1.6]
        np.testing.assert_allclose(ridge.get_xdata(), [10**interval.estimate for interval in surface.optimal_lr])
        np.testing.assert_allclose(ridge.get_ydata(), 10**surface.log10_bs)
        high = [10**interval.high for interval in surface.optimal_lr if interval.high_open]
        low = [10**interval.low for interval in surface.optimal_lr if interval.low_open]
        assert [line.get_xdata()[0] for line in marked_lines(axes, ">")] == pytest.approx(high)
        assert [line.get_xdata()[0] for line in marked_lines(axes, "<")] == pytest.approx(low)
    assert any(interval.high_open for interval in analysed.surfaces[2].optimal_lr), "hellaswag's lr is open"
