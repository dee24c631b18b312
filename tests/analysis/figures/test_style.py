"""What every figure shares: one colour per category whatever the order it is met in, a grid of exactly as many
panels as asked, titles that say a category or the pool, and scatter layers thinned when dense."""

from __future__ import annotations

import pandas as pd

from analysis.figures.style import (
    DOUBLE_COLUMN,
    OKABE_ITO,
    RASTERIZE_ABOVE,
    SINGLE_COLUMN,
    category_colours,
    panel_grid,
    panel_title,
    point_style,
)


def test_a_category_keeps_its_colour_whatever_the_order() -> None:
    colours = category_colours(pd.Series(["reasoning", "pattern", "reasoning", "code"]))
    assert colours == {"code": OKABE_ITO[0], "pattern": OKABE_ITO[1], "reasoning": OKABE_ITO[2]}
    assert category_colours(pd.Series(["pattern", "code", "reasoning"])) == colours


def test_a_panel_grid_has_as_many_panels_as_asked() -> None:
    figure, axes = panel_grid(4, columns=3)
    assert len(axes) == 4 and len(figure.axes) == 4, "the two unused cells of the second row are removed"
    assert figure.get_figwidth() == DOUBLE_COLUMN
    single, (only,) = panel_grid(1)
    assert single.get_figwidth() == SINGLE_COLUMN and single.axes == [only]


def test_titles_and_point_styles() -> None:
    assert panel_title("task", "arc") == "arc"
    assert panel_title("category", "reasoning") == "reasoning (category)"
    assert not point_style(RASTERIZE_ABOVE)["rasterized"] and point_style(RASTERIZE_ABOVE + 1)["rasterized"]
    assert point_style(RASTERIZE_ABOVE + 1)["s"] < point_style(10)["s"]
