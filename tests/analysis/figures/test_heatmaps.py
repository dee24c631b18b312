"""heatmaps: a panel per task titled in its category's colour, its scores as cells on log learning rate × batch size
axes with a colour bar, an x on every cell where a run diverged, iso-ratio lines dashed, and the task's best ratio
as a solid line when a curve located it."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

from analysis.figures.heatmaps import MAX_MARKED_CELLS, draw_heatmap, heatmaps_figure
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.figures.helpers import colour_bars, panels, scatters
from tests.analysis.figures.planted import Analysed


@pytest.fixture(scope="module")
def figure(analysed: Analysed) -> Figure:
    return heatmaps_figure(analysed.frame, analysed.task_fits, analysed.task_category, analysed.colours)


def test_a_panel_per_task_in_its_categorys_colour_on_log_axes(figure: Figure, analysed: Analysed) -> None:
    maps = panels(figure)
    assert [axes.get_title() for axes in maps] == ["arc", "gsm8k", "hellaswag", "ifeval"]
    assert [bar.get_ylabel() for bar in colour_bars(figure)] == ["acc", "exact_match", "acc", "acc"]
    for axes in maps:
        category = analysed.task_category[axes.get_title()]
        assert axes.title.get_color() == analysed.colours[category]
        assert (axes.get_xscale(), axes.get_yscale(), axes.yaxis.get_transform().base) == ("log", "log", 2)
        assert (axes.get_xlabel(), axes.get_ylabel()) == ("learning rate", "batch size")
        assert len([layer for layer in axes.collections if isinstance(layer, QuadMesh)]) == 1


def test_the_cells_hold_the_seed_mean_scores(figure: Figure, analysed: Analysed) -> None:
    (mesh,) = [layer for layer in panels(figure)[0].collections if isinstance(layer, QuadMesh)]
    cells = np.ma.masked_invalid(np.asarray(mesh.get_array())).reshape(3, 7)
    arc = analysed.frame[(analysed.frame["task"] == "arc") & (analysed.frame["status"] == "ok")]
    expected = arc.pivot_table(index="batch_size", columns="learning_rate", values="score").to_numpy()
    np.testing.assert_allclose(cells.filled(np.nan), expected)
    assert cells.mask.sum() == 3, "the three diverged cells are blank"


def test_every_diverged_cell_is_marked_and_the_best_ratio_drawn_where_located(
    figure: Figure, analysed: Analysed
) -> None:
    frame = analysed.frame
    for axes in panels(figure):
        task = axes.get_title()
        diverged = frame[(frame["task"] == task) & (frame["status"] == "diverged")]
        marks = [layer.get_offsets() for layer in scatters(axes, "x")]
        assert len(marks) == 1
        assert sorted(map(tuple, np.asarray(marks[0], dtype=float))) == sorted(
            zip(diverged["learning_rate"], diverged["batch_size"].astype(float), strict=True)
        )
        solid = [line for line in axes.lines if line.get_linestyle() == "-"]
        assert all(line.get_linestyle() == "--" for line in axes.lines if line not in solid)
        fit = analysed.task_fits[task]
        if fit.kind == "gp":
            (best,) = solid
            learning_rate, batch_size = best.get_data()
            np.testing.assert_allclose(learning_rate / batch_size, 10**fit.best_log10_ratio)
        else:
            assert solid == []
    assert len(scatters(panels(figure)[0], "x")[0].get_offsets()) == 3


def test_a_task_without_trained_runs_says_so() -> None:
    axes = Figure().subplots()
    rows = load_results(planted_table({"t": PlantedTask("r", -4.0)}, [1e-4], [8])).query("status == 'baseline'")
    draw_heatmap(axes, rows, None)
    assert [text.get_text() for text in axes.texts] == ["no trained runs"]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("learning rate", "batch size")


def test_a_huge_grid_leaves_its_diverged_cells_unmarked() -> None:
    learning_rates, batch_sizes = np.geomspace(1e-5, 1e-2, 21), 2 ** np.arange(1, 22)
    assert len(learning_rates) * len(batch_sizes) > MAX_MARKED_CELLS
    table = planted_table({"t": PlantedTask("r", -4.0)}, learning_rates, batch_sizes, diverge_above=1e-4)
    frame = load_results(table)
    assert (frame["status"] == "diverged").any()
    axes = Figure().subplots()
    draw_heatmap(axes, frame, None)
    assert scatters(axes, "x") == [] and isinstance(axes.collections[0], QuadMesh)
