"""batch_laws: a panel per series on log batch size × log learning rate axes, the optimal learning rate at each batch
size with its CI (an arrow at an open end), the three laws drawn in their colours, the chosen one solid."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from analysis.figures.batch_laws import LAW_STYLES, batch_law_figure
from analysis.figures.style import panel_title
from tests.analysis.figures.helpers import legend_labels, marked_lines, markers, panels
from tests.analysis.figures.planted import Analysed


@pytest.fixture(scope="module")
def figure(analysed: Analysed) -> Figure:
    return batch_law_figure(analysed.surfaces, analysed.tables["batch_laws"])


def test_a_panel_per_series_on_log_axes(figure: Figure, analysed: Analysed) -> None:
    assert [axes.get_title() for axes in panels(figure)] == [
        panel_title(surface.level, surface.name) for surface in analysed.surfaces
    ]
    for axes in panels(figure):
        assert (axes.get_xscale(), axes.get_yscale()) == ("log", "log")
        assert (axes.xaxis.get_transform().base, axes.yaxis.get_transform().base) == (2, 10)
        assert (axes.get_xlabel(), axes.get_ylabel()) == ("batch size", "optimal learning rate")
    assert legend_labels(figure) == ["linear", "sqrt", "surge", "optimal lr, 95% CI", "chosen law (solid)"]


def test_the_chosen_law_is_solid_the_others_dashed(figure: Figure, analysed: Analysed) -> None:
    laws = analysed.tables["batch_laws"]
    colour_of = {colour: law for law, colour in LAW_STYLES.items()}
    for axes, surface in zip(panels(figure), analysed.surfaces, strict=True):
        rows = laws[laws["name"] == surface.name].set_index("law")
        drawn = {colour_of[line.get_color()]: line for line in axes.lines if line.get_color() in colour_of}
        assert set(drawn) == set(rows.index[np.isfinite(rows["coefficient"])])
        solid = [law for law, line in drawn.items() if line.get_linestyle() == "-"]
        assert solid == list(rows.index[rows["chosen"]])
        assert all(drawn[law].get_linestyle() == "--" for law in drawn if law not in solid)


def test_each_batch_sizes_optimal_learning_rate_is_an_interval_open_ends_arrows(
    figure: Figure, analysed: Analysed
) -> None:
    for axes, surface in zip(panels(figure), analysed.surfaces, strict=True):
        estimates = marked_lines(axes, "D")
        np.testing.assert_allclose([line.get_xdata()[0] for line in estimates], 10**surface.log10_bs)
        np.testing.assert_allclose(
            [line.get_ydata()[0] for line in estimates], [10**interval.estimate for interval in surface.optimal_lr]
        )
        ends = [marker for marker in markers(axes) if marker != "D"]
        expected = [
            marker
            for interval in surface.optimal_lr
            for marker in ("v" if interval.low_open else "_", "^" if interval.high_open else "_")
        ]
        assert ends == expected
    drawn = {marker for axes in panels(figure) for marker in markers(axes)}
    assert {"^", "_"} <= drawn, "the planted sweep has open and closed ends"
