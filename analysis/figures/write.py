"""Paper-quality figures of a sweep: score vs lr/bs per task, pooled category curves, lr × bs heatmaps with
iso-ratio lines, the invariant comparison, and (surface_plots.py) the fitted surfaces as contours and the optimal
learning rate against batch size. Each is written as PNG (200 dpi) and PDF. An open interval is drawn open: its
line runs to the end of the range and ends in an arrow.

Figures are sized for print (3.4 in single column, 7 in for several panels, 8 pt text) and use constrained
layout so no text overlaps. Each category keeps one Okabe–Ito colour (colour-blind safe) in every figure.
Matplotlib's object API is used (no pyplot), so plotting never touches global state or a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter

from analysis.estimates.curves import CurveFit
from analysis.estimates.intervals import Interval
from analysis.estimates.invariants import INVARIANTS, SEPARATE
from analysis.estimates.surfaces import SurfaceFit
from analysis.figures.heatmaps import draw_heatmap
from analysis.figures.style import DOUBLE_COLUMN, draw_interval, figure_legend, panel_grid
from analysis.figures.surfaces import batch_law_figure, surface_figure
from analysis.files import write_atomically
from analysis.schema import BASELINE_STATUS, FIT_STATUS

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
TASK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
STYLE = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "axes.spines.top": False, "axes.spines.right": False, "lines.linewidth": 1.2,
}  # fmt: skip
RATIO_LABEL = "log10(lr / batch size)"
RASTERIZE_ABOVE = 500
"""Scatter layers with more points than this are drawn small, faint and rasterized in the PDF."""
OUTLINE = [patheffects.withStroke(linewidth=2.6, foreground="white")]
"""A white edge that keeps a fitted curve visible on top of points of its own colour."""


def category_colours(categories: Sequence[str]) -> dict[str, str]:
    """One Okabe–Ito colour per category, by sorted name, so every figure of a sweep agrees."""
    return {name: OKABE_ITO[index % len(OKABE_ITO)] for index, name in enumerate(sorted(pd.unique(categories)))}


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
        written += _save(_score_vs_ratio(frame, task_fits, task_category, colours), directory, "score_vs_ratio")
        written += _save(_category_curves(category_fits, colours), directory, "category_curves")
        written += _save(_heatmaps(frame, task_fits, task_category, colours), directory, "heatmaps")
        if surfaces:
            written += _save(surface_figure(frame, surfaces), directory, "surfaces")
            written += _save(batch_law_figure(surfaces, tables["batch_laws"]), directory, "batch_laws")
        if not tables["invariants"].empty:
            written += _save(_invariants(tables["invariants"]), directory, "invariants")
    return written


def _save(figure: Figure, directory: Path, name: str) -> list[Path]:
    """PNG then PDF; the layout solved for the PNG is kept for the PDF (constrained layout is the slow part)."""
    paths = [directory / f"{name}.{suffix}" for suffix in ("png", "pdf")]
    for path in paths:
        write_atomically(path, lambda temp, path=path: figure.savefig(temp, dpi=200, format=path.suffix[1:]))
        figure.set_layout_engine("none")
    return paths


def _point_style(count: int) -> dict:
    """Scatter style by point count: many points are drawn smaller, fainter and rasterized, so the fit stays visible
    and the PDF small."""
    dense = count > RASTERIZE_ABOVE
    return {"s": 3 if dense else 9, "alpha": 0.25 if dense else 0.6, "linewidths": 0, "rasterized": dense}


def _draw_fit(axes: Axes, fit: CurveFit, colour: str, limits: tuple[float, float] | None = None) -> None:
    """The posterior mean curve with its 95% band, and the optimum with its CI. `limits` clips the band to the
    range the score can take (an accuracy cannot leave [0, 1], its band should not either)."""
    if fit.kind != "gp":
        return
    curve = fit.curve
    low, high = (np.clip(curve[side], *limits) if limits else curve[side] for side in ("band_low", "band_high"))
    axes.fill_between(curve["x"], low, high, color=colour, alpha=0.3, linewidth=0, zorder=3)
    axes.plot(curve["x"], curve["fit"], color=colour, path_effects=OUTLINE, zorder=4)
    height = np.interp(fit.best_log10_ratio, curve["x"], curve["fit"])
    draw_interval(axes, fit.optimum, height, horizontal=True)


def _score_vs_ratio(
    frame: pd.DataFrame, fits: dict[str, CurveFit], task_category: pd.Series, colours: dict[str, str]
) -> Figure:
    tasks = sorted(frame["task"].unique())
    figure, panels = panel_grid(len(tasks))
    x_values = np.log10(frame["lr_bs_ratio"].dropna())
    margin = 0.04 * (x_values.max() - x_values.min()) + 0.05 if len(x_values) else 0.0
    for axes, task in zip(panels, tasks, strict=False):
        rows = frame[frame["task"] == task]
        if len(x_values):
            axes.set_xlim(x_values.min() - margin, x_values.max() + margin)
        _task_panel(axes, rows, fits.get(task), colours[task_category.get(task, rows["category"].iloc[0])])
        axes.set_title(task)
    figure_legend(figure, _legend_handles(colours, frame, list(fits.values())))
    return figure


def _task_panel(axes: Axes, rows: pd.DataFrame, fit: CurveFit | None, colour: str) -> None:
    """Each ok run as a point, the fit, the base model as a dashed line, lost runs as marks along the bottom."""
    ok = rows[(rows["status"] == FIT_STATUS) & rows["score"].notna()]
    axes.scatter(np.log10(ok["lr_bs_ratio"]), ok["score"], color=colour, **_point_style(len(ok)))
    for score in rows.loc[rows["status"] == BASELINE_STATUS, "score"].dropna():
        axes.axhline(score, color="0.4", linestyle="--", linewidth=0.8)
    if fit is not None:
        bounded = rows["score"].dropna().between(0.0, 1.0).all()  # accuracies, exact match: fractions
        _draw_fit(axes, fit, colour, (0.0, 1.0) if bounded else None)
    if rows["status"].isin(["diverged", "failed"]).any():
        low, high = axes.get_ylim()
        axes.set_ylim(low - 0.12 * (high - low), high)
    for status, marker, shade in (("diverged", "x", "black"), ("failed", "+", "0.5")):
        lost = rows[rows["status"] == status]
        axes.scatter(
            np.log10(lost["lr_bs_ratio"]),
            np.full(len(lost), 0.04),
            marker=marker,
            color=shade,
            s=14,
            linewidths=0.8,
            transform=axes.get_xaxis_transform(),
            clip_on=False,
        )
    axes.set_xlabel(RATIO_LABEL)
    axes.set_ylabel(rows["metric"].iloc[0] or "score")


def _legend_handles(colours: dict[str, str], frame: pd.DataFrame, fits: list[CurveFit]) -> list[Line2D]:
    """Categories, then a key for each kind of mark that some panel actually shows."""
    statuses = set(frame["status"])
    fitted = [fit for fit in fits if fit.kind == "gp"]
    marks = [
        (bool(fitted), Line2D([], [], color="0.2", label="GP mean, 95% band")),
        (bool(fitted), Line2D([], [], marker="D", markerfacecolor="white", color="black", label="optimum, 95% CI")),
        (
            any(fit.optimum.is_open for fit in fitted),
            Line2D([], [], marker=">", linestyle="none", color="black", label="CI open (reaches the range's end)"),
        ),
        ("diverged" in statuses, Line2D([], [], marker="x", linestyle="none", color="black", label="diverged")),
        ("failed" in statuses, Line2D([], [], marker="+", linestyle="none", color="0.5", label="failed")),
        (BASELINE_STATUS in statuses, Line2D([], [], color="0.4", linestyle="--", label="base model")),
    ]
    categories = [
        Line2D([], [], marker="o", linestyle="none", color=colour, label=name) for name, colour in colours.items()
    ]
    return categories + [handle for shown, handle in marks if shown]


def _category_curves(fits: list[CurveFit], colours: dict[str, str]) -> Figure:
    figure, panels = panel_grid(len(fits))
    markers: dict[str, str] = {}
    handles = []
    for axes, fit in zip(panels, fits, strict=False):
        colour = colours.get(fit.name, "0.3")
        for task, points in fit.points.groupby("task", sort=True) if not fit.points.empty else ():
            marker = markers.setdefault(task, TASK_MARKERS[len(markers) % len(TASK_MARKERS)])
            axes.scatter(points["x"], points["y"], marker=marker, color=colour, **_point_style(len(fit.points)))
            handles.append(Line2D([], [], marker=marker, linestyle="none", color=colour, label=task))
        _draw_fit(axes, fit, colour)
        axes.set_title(fit.name)
        axes.set_xlabel(RATIO_LABEL)
        axes.set_ylabel("score, z per task")
    if handles:
        figure_legend(figure, handles)
    return figure


def _heatmaps(
    frame: pd.DataFrame, fits: dict[str, CurveFit], task_category: pd.Series, colours: dict[str, str]
) -> Figure:
    tasks = sorted(frame["task"].unique())
    figure, panels = panel_grid(len(tasks), panel_height=2.3, columns=2)
    for axes, task in zip(panels, tasks, strict=False):
        fit = fits.get(task)
        best_ratio = 10**fit.best_log10_ratio if fit is not None and fit.kind == "gp" else None
        rows = frame[frame["task"] == task]
        draw_heatmap(axes, rows, best_ratio)
        axes.set_title(task, color=colours[task_category.get(task, rows["category"].iloc[0])])
    return figure


def _invariants(table: pd.DataFrame) -> Figure:
    """Left: each invariant's CV RMSE relative to the row's best (1 = best, log axis). Right: free α with CI."""
    series = list(dict.fromkeys(zip(table["level"], table["name"], strict=True)))
    positions = np.arange(len(series))
    figure = Figure(figsize=(DOUBLE_COLUMN, 0.28 * len(series) + 1.2), layout="constrained")
    relative_axes, alpha_axes = figure.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    best = table.groupby(["level", "name"])["cv_rmse"].min()
    for model, marker, colour in zip([*INVARIANTS, SEPARATE], "os^", ("black", "#E69F00", "#56B4E9"), strict=True):
        rows = table[table["invariant"] == model].set_index(["level", "name"]).reindex(series)
        relative = (rows["cv_rmse"] / best.reindex(series)).to_numpy(dtype=float)
        chosen = rows["chosen"].fillna(False).to_numpy(dtype=bool)
        relative_axes.scatter(relative, positions, marker=marker, color=colour, s=18, label=model, zorder=3)
        relative_axes.scatter(
            relative[chosen], positions[chosen], marker="o", s=90, facecolors="none", edgecolors=colour, linewidths=1
        )
    relative_axes.set_xscale("log")
    relative_axes.xaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    relative_axes.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    relative_axes.set_yticks(positions, [f"{name} ({level})" for level, name in series])
    relative_axes.invert_yaxis()
    relative_axes.grid(axis="y", color="0.9", linewidth=0.6)
    relative_axes.set_xlabel("CV RMSE / best CV RMSE of the row (circled: chosen)")
    relative_axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    alphas = table.drop_duplicates(["level", "name"]).set_index(["level", "name"]).reindex(series)
    columns = ["alpha_hat", "alpha_ci_low", "alpha_ci_high", "alpha_ci_low_open", "alpha_ci_high_open"]
    for position, values in zip(positions, alphas[columns].itertuples(index=False), strict=True):
        draw_interval(alpha_axes, Interval(*values), position, horizontal=True)
    for value, name in ((1.0, "lr/bs"), (0.5, "lr/sqrt(bs)")):
        alpha_axes.axvline(value, color="0.5", linestyle="--", linewidth=0.8)
        alpha_axes.text(
            value, 1.01, name, transform=alpha_axes.get_xaxis_transform(), ha="center", va="bottom", fontsize=7
        )
    alpha_axes.set_xlabel("free exponent α of lr / bs^α (95% CI; arrow: open)")
    return figure
