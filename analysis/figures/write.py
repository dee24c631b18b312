"""Every figure of an analysis, written as PNG (200 dpi) and PDF into the plots folder: `write_plots` draws one
condition's in turn, `write_comparison_plots` a study's across conditions (to add a figure, draw it in a module of
its own and add it here). Matplotlib's object API is used (no
pyplot), so plotting never touches global state or a display.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure

from analysis.estimates.curves import CurveFit
from analysis.estimates.shifts import SizeLaw
from analysis.estimates.surfaces import SurfaceFit
from analysis.figures.batch_laws import batch_law_figure
from analysis.figures.conditions import condition_optima_figure, size_law_figure
from analysis.figures.heatmaps import heatmaps_figure
from analysis.figures.invariants import invariants_figure
from analysis.figures.ratio_curves import category_curves_figure, score_vs_ratio_figure
from analysis.figures.style import STYLE, category_colours
from analysis.figures.surfaces import surface_figure
from analysis.files import write_atomically
from analysis.schema import BASELINE_STATUS


def write_plots(
    frame: pd.DataFrame,
    fits: list[CurveFit],
    surfaces: list[SurfaceFit],
    tables: dict[str, pd.DataFrame],
    directory: Path,
) -> list[Path]:
    """Draw every figure into `directory`; returns the written paths (PNG and PDF of each)."""
    colours = category_colours(frame["category"])
    task_fits = {fit.name: fit for fit in fits if fit.level == "task"}
    category_fits = [fit for fit in fits if fit.level != "task"]
    trained = frame[frame["status"] != BASELINE_STATUS]
    task_category = trained.groupby("task")["category"].first()
    written: list[Path] = []
    with mpl.rc_context(STYLE):
        written += _save(score_vs_ratio_figure(frame, task_fits, task_category, colours), directory, "score_vs_ratio")
        written += _save(category_curves_figure(category_fits, colours), directory, "category_curves")
        written += _save(heatmaps_figure(frame, task_fits, task_category, colours), directory, "heatmaps")
        if surfaces:
            written += _save(surface_figure(frame, surfaces), directory, "surfaces")
            written += _save(batch_law_figure(surfaces, tables["batch_laws"]), directory, "batch_laws")
        if not tables["invariants"].empty:
            written += _save(invariants_figure(tables["invariants"]), directory, "invariants")
    return written


def write_comparison_plots(optima: pd.DataFrame, laws: list[SizeLaw], directory: Path) -> list[Path]:
    """The study's figures into `directory`: the optima per condition, and the size law when one was fitted."""
    colours = category_colours(optima.loc[optima["level"] == "category", "name"])
    with mpl.rc_context(STYLE):
        written = _save(condition_optima_figure(optima, colours), directory, "condition_optima")
        if laws:
            written += _save(size_law_figure(optima, laws, colours), directory, "size_law")
    return written


def _save(figure: Figure, directory: Path, name: str) -> list[Path]:
    """PNG then PDF; the layout solved for the PNG is kept for the PDF (constrained layout is the slow part)."""
    paths = [directory / f"{name}.{suffix}" for suffix in ("png", "pdf")]
    for path in paths:
        write_atomically(path, lambda temp, path=path: figure.savefig(temp, dpi=200, format=path.suffix[1:]))
        figure.set_layout_engine("none")
    return paths
