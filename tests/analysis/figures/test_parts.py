"""The parts many figures draw: an interval's mark (an open end an arrow, a closed one a bar), the learning rate ×
batch size axes of the maps, iso-ratio lines and ticks at the grid's own values."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.estimates.intervals import Interval
from analysis.figures.parts import draw_interval, iso_ratio_lines, iso_ratios, log_ticks, lr_bs_axes, ratio_line
from tests.analysis.figures.helpers import marked_lines, markers


def _axes() -> Axes:
    return Figure().subplots()


@pytest.mark.parametrize(
    ("low_open", "high_open", "horizontal", "expected"),
    [
        (False, False, True, ["|", "|", "D"]),
        (False, True, True, ["|", ">", "D"]),
        (True, False, True, ["<", "|", "D"]),
        (True, True, True, ["<", ">", "D"]),
        (False, False, False, ["_", "_", "D"]),
        (False, True, False, ["_", "^", "D"]),
        (True, False, False, ["v", "_", "D"]),
    ],
)
def test_an_interval_is_a_bar_with_an_arrow_at_each_open_end(
    low_open: bool, high_open: bool, horizontal: bool, expected: list[str]
) -> None:
    axes = _axes()
    draw_interval(axes, Interval(-4.5, -5.0, -4.0, low_open, high_open), 2.0, horizontal=horizontal)
    assert markers(axes) == expected
    along, across = (0, 1) if horizontal else (1, 0)
    (bar,) = [line for line in axes.lines if len(line.get_xdata()) == 2]
    np.testing.assert_allclose(bar.get_data()[along], [-5.0, -4.0])
    np.testing.assert_allclose(bar.get_data()[across], [2.0, 2.0])
    (estimate,) = marked_lines(axes, "D")
    assert estimate.get_data()[along][0] == -4.5
    for marker, end in zip(expected[:2], (-5.0, -4.0), strict=True):
        (mark,) = [line for line in marked_lines(axes, marker) if line.get_data()[along][0] == end]
        assert mark.get_data()[across][0] == 2.0


def test_an_interval_without_an_estimate_draws_nothing() -> None:
    axes = _axes()
    draw_interval(axes, Interval.missing(), 0.0, horizontal=True)
    assert len(axes.lines) == 0


def test_the_maps_axes_are_logarithmic_labelled_and_ticked_at_the_grid() -> None:
    axes = _axes()
    learning_rates, batch_sizes = np.array([1e-4, 1e-3, 1e-2]), np.array([8.0, 32.0, 128.0])
    lr_bs_axes(axes, np.array([5e-5, 2e-2]), np.array([6.0, 160.0]), learning_rates, batch_sizes)
    assert (axes.get_xscale(), axes.get_yscale()) == ("log", "log")
    assert axes.yaxis.get_transform().base == 2
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("learning rate", "batch size")
    assert axes.get_xlim() == pytest.approx((5e-5, 2e-2)) and axes.get_ylim() == pytest.approx((6.0, 160.0))
    np.testing.assert_allclose(axes.get_xticks(), learning_rates)
    np.testing.assert_allclose(axes.get_yticks(), batch_sizes)
    assert [axes.xaxis.get_major_formatter()(value, 0) for value in learning_rates] == ["1e-4", "1e-3", "1e-2"]


def test_many_grid_values_are_ticked_at_powers_of_the_base() -> None:
    axes = _axes()
    axes.set_yscale("log", base=2)
    log_ticks(axes.yaxis, 2.0 ** np.arange(2, 11), 2, "{:g}")
    np.testing.assert_allclose(axes.get_yticks(), 2.0 ** np.arange(2, 11))
    log_ticks(axes.xaxis, np.geomspace(2e-6, 1e-2, 13), 10, "{:.0e}")
    np.testing.assert_allclose(axes.get_xticks(), 10.0 ** np.arange(-5, -1))
    log_ticks(axes.xaxis, np.geomspace(1e-6, 1e-3, 7), 10, "{:.0e}")
    np.testing.assert_allclose(axes.get_xticks(), 10.0 ** np.arange(-6, -2), err_msg="a grid starting at a power")
    assert len(axes.xaxis.get_minorticklocs()) == 0


def test_iso_ratio_lines_are_round_ratios_inside_the_range_drawn_dashed_and_labelled() -> None:
    assert iso_ratios(3e-7, 2e-4) == pytest.approx([1e-6, 1e-5, 1e-4])
    assert iso_ratios(2e-5, 2e-4) == pytest.approx([10**-4.5, 1e-4]), "half decades on a narrow grid"
    assert iso_ratios(3e-7, 2e-2) == pytest.approx([1e-6, 1e-4, 1e-2]), "every other decade on a wide one"
    axes = _axes()
    x_limits, y_limits = np.array([1e-5, 1e-2]), np.array([4.0, 256.0])
    iso_ratio_lines(axes, x_limits, y_limits, (3e-7, 2e-2), 0.8)
    assert [line.get_linestyle() for line in axes.lines] == ["--"] * 3
    for line, ratio in zip(axes.lines, (1e-6, 1e-4, 1e-2), strict=True):
        learning_rate, batch_size = line.get_data()
        np.testing.assert_allclose(learning_rate / batch_size, ratio)
    assert [text.get_text() for text in axes.texts] == ["1e-6", "1e-4"], "lr/bs 1e-2 stays below batch size 4"


def test_a_ratio_line_without_a_label_is_a_plain_line() -> None:
    axes = _axes()
    ratio_line(axes, 1e-4, (np.array([1e-5, 1e-2]), np.array([4.0, 256.0])), None, "-", 1.4)
    (line,) = axes.lines
    assert line.get_linestyle() == "-" and line.get_linewidth() == 1.4 and len(axes.texts) == 0
