"""invariants.png: which invariant explains the scores, per series. Left: each model's CV RMSE relative to the
row's best (1 = best, log axis; the chosen one circled). Right: the free exponent α of lr / bs^α with its 95% CI."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from analysis.estimates.intervals import Interval
from analysis.estimates.invariants import INVARIANTS, SEPARATE
from analysis.figures.parts import draw_interval
from analysis.figures.style import DOUBLE_COLUMN


def invariants_figure(table: pd.DataFrame) -> Figure:
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
