"""score_vs_ratio.png and category_curves.png: score against log10(lr/bs), one panel per task (every run as a point,
the base model dashed, lost runs marked along the bottom) and per category (its tasks' z-scores), each with the GP's
posterior mean, its 95% band and the optimum with its CI (an open end is an arrow).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.estimates.curves import CurveFit
from analysis.figures.parts import draw_interval
from analysis.figures.style import CURVE_OUTLINE, TASK_MARKERS, figure_legend, panel_grid, point_style
from analysis.schema import BASELINE_STATUS, FIT_STATUS

RATIO_LABEL = "log10(lr / batch size)"


def score_vs_ratio_figure(
    frame: pd.DataFrame, fits: dict[str, CurveFit], task_category: pd.Series, colours: dict[str, str]
) -> Figure:
    tasks = sorted(frame["task"].unique())
    figure, panels = panel_grid(len(tasks))
    x_values = frame["log10_ratio"].dropna()
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
    axes.scatter(ok["log10_ratio"], ok["score"], color=colour, **point_style(len(ok)))
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
            lost["log10_ratio"],
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


def category_curves_figure(fits: list[CurveFit], colours: dict[str, str]) -> Figure:
    figure, panels = panel_grid(len(fits))
    markers: dict[str, str] = {}
    handles = []
    for axes, fit in zip(panels, fits, strict=False):
        colour = colours.get(fit.name, "0.3")
        for task, points in fit.points.groupby("task", sort=True) if not fit.points.empty else ():
            if task not in markers:
                markers[task] = TASK_MARKERS[len(markers) % len(TASK_MARKERS)]
                handles.append(Line2D([], [], marker=markers[task], linestyle="none", color=colour, label=task))
            axes.scatter(points["x"], points["y"], marker=markers[task], color=colour, **point_style(len(fit.points)))
        _draw_fit(axes, fit, colour)
        axes.set_title(fit.name)
        axes.set_xlabel(RATIO_LABEL)
        axes.set_ylabel("score, z per task")
    if handles:
        figure_legend(figure, handles)
    return figure


def _draw_fit(axes: Axes, fit: CurveFit, colour: str, limits: tuple[float, float] | None = None) -> None:
    """The posterior mean curve with its 95% band, and the optimum with its CI. `limits` clips the band to the
    range the score can take (an accuracy cannot leave [0, 1], its band should not either)."""
    if fit.kind != "gp":
        return
    curve = fit.curve
    low, high = (np.clip(curve[side], *limits) if limits else curve[side] for side in ("band_low", "band_high"))
    axes.fill_between(curve["x"], low, high, color=colour, alpha=0.3, linewidth=0, zorder=3)
    axes.plot(curve["x"], curve["fit"], color=colour, path_effects=CURVE_OUTLINE, zorder=4)
    height = np.interp(fit.best_log10_ratio, curve["x"], curve["fit"])
    draw_interval(axes, fit.optimum, height, horizontal=True)
