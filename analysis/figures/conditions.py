"""The figures of a study across conditions: each category's optimum per condition with its CI, side by side (a
forest plot), and, over three or more model sizes, the optimum against parameters with each category's fitted line
and its 95% band.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.estimates.conditions import parameter_count
from analysis.estimates.intervals import Interval
from analysis.estimates.shifts import SizeLaw
from analysis.figures.parts import draw_interval
from analysis.figures.style import DOUBLE_COLUMN, SINGLE_COLUMN, figure_legend, panel_grid, panel_title


def _interval(row: pd.Series) -> Interval:
    return Interval(row["best_log10_ratio"], row["ci_low"], row["ci_high"], row["ci_low_open"], row["ci_high_open"])


def condition_optima_figure(optima: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """One panel per category (and all tasks), on one shared x axis so shifts read across panels: a row per
    condition, its optimal log10(lr/bs) with the 95% CI (an open end an arrow); a condition with no located optimum
    is named, with no mark."""
    names = list(dict.fromkeys(zip(optima["level"], optima["name"], strict=True)))
    conditions = list(dict.fromkeys(optima["condition"]))
    figure, panels = panel_grid(len(names), panel_height=0.4 + 0.32 * len(conditions), columns=2)
    for axes, (level, name) in zip(panels, names, strict=True):
        rows = optima[(optima["level"] == level) & (optima["name"] == name)].set_index("condition")
        for index, condition in enumerate(conditions):
            if condition in rows.index:
                draw_interval(axes, _interval(rows.loc[condition]), at=-index, horizontal=True)
        axes.set_yticks([-index for index in range(len(conditions))], conditions)
        axes.set_ylim(-len(conditions) + 0.5, 0.5)
        axes.set_title(panel_title(level, name), color=colours.get(name, "black"))
        axes.set_xlabel("optimal log10(lr / batch size)")
        axes.grid(axis="x", linewidth=0.3, alpha=0.5)
    ends = optima[["best_log10_ratio", "ci_low", "ci_high"]].to_numpy(dtype=float)
    if np.isfinite(ends).any():
        low, high = np.nanmin(ends), np.nanmax(ends)
        margin = 0.05 * max(high - low, 0.5)
        for axes in panels:
            axes.set_xlim(low - margin, high + margin)
    return figure


def size_law_figure(optima: pd.DataFrame, laws: list[SizeLaw], colours: dict[str, str]) -> Figure:
    """Each category's optimum (with its CI) at each model size, its fitted line and the line's 95% band over the
    sizes measured and a decade beyond, on log10 parameters."""
    figure = Figure(figsize=(SINGLE_COLUMN if len(laws) < 3 else DOUBLE_COLUMN / 1.5, 2.6), layout="constrained")
    axes = figure.subplots()
    handles = []
    for law in laws:
        colour = colours.get(law.category, "black")
        rows = optima[(optima["level"] == "category") & (optima["name"] == law.category)]
        for _, row in rows[np.isfinite(rows["model_parameters"])].iterrows():
            draw_interval(axes, _interval(row), at=np.log10(row["model_parameters"]), horizontal=False)
        x = np.linspace(law.log10_parameters.min() - 0.3, law.log10_parameters.max() + 1.0, 50)
        band = [law.predict(10**value)[0] for value in x]
        low, high = [one.low for one in band], [one.high for one in band]
        axes.fill_between(x, low, high, color=colour, alpha=0.15, linewidth=0)
        label = f"{law.category}: slope {law.slope:.2f}"
        (line,) = axes.plot(x, [one.estimate for one in band], color=colour, label=label)
        handles.append(line)
    sizes = sorted({value for law in laws for value in law.log10_parameters})
    axes.set_xticks(sizes, [parameter_count(10**value) for value in sizes])
    axes.set_xlabel("model parameters (log scale)")
    axes.set_ylabel("optimal log10(lr / batch size)")
    figure_legend(figure, handles)
    return figure
