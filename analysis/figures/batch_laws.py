"""batch_laws.png: per series, the optimal learning rate at each batch size with its 95% CI, and the three fitted
batch-size laws (linear, sqrt, surge; the chosen one solid)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.estimates.batch_laws import law_curve
from analysis.estimates.surfaces import SurfaceFit
from analysis.figures.parts import draw_interval, log_ticks
from analysis.figures.style import figure_legend, panel_grid, panel_title

LAW_STYLES = {"linear": "#0072B2", "sqrt": "#E69F00", "surge": "#009E73"}


def batch_law_figure(surfaces: list[SurfaceFit], laws: pd.DataFrame) -> Figure:
    """Per series: the optimal learning rate at each batch size (95% CI) and the three fitted laws (the chosen one
    solid)."""
    figure, axes_list = panel_grid(len(surfaces), panel_height=2.0, columns=3)
    for axes, surface in zip(axes_list, surfaces, strict=False):
        rows = laws[(laws["level"] == surface.level) & (laws["name"] == surface.name)]
        dense = np.linspace(surface.log10_bs.min() - 0.15, surface.log10_bs.max() + 0.15, 100)
        for row in rows.itertuples():
            if np.isfinite(row.coefficient):
                style = {"linewidth": 1.6, "linestyle": "-"} if row.chosen else {"linewidth": 0.9, "linestyle": "--"}
                series_row = pd.Series(row._asdict())
                axes.plot(10**dense, 10 ** law_curve(series_row, dense), color=LAW_STYLES[row.law], **style)
        for log10_bs, interval in zip(surface.log10_bs, surface.optimal_lr, strict=True):
            draw_interval(axes, interval.mapped(lambda value: 10**value), 10**log10_bs, horizontal=False)
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        log_ticks(axes.xaxis, 10**surface.log10_bs, 2, "{:g}")
        axes.set_xlabel("batch size")
        axes.set_ylabel("optimal learning rate")
        axes.set_title(panel_title(surface.level, surface.name))
    handles = [Line2D([], [], color=colour, label=law) for law, colour in LAW_STYLES.items()]
    handles.append(Line2D([], [], marker="D", markerfacecolor="white", color="black", label="optimal lr, 95% CI"))
    handles.append(Line2D([], [], color="0.3", linewidth=1.6, label="chosen law (solid)"))
    figure_legend(figure, handles)
    return figure
