"""The analysis in sentences: report.md's text and its warnings, from the computed tables and fits.

Every claim carries its number and 95% CI. An optimum at the grid's edge is reported as "outside the grid", never
as a number, and a contrast whose CI includes 0 says plainly that the data cannot separate the two categories.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.fit import CurveFit
from analysis.invariants import can_compare
from analysis.schema import BASELINE_STATUS
from analysis.series import Series

FEW_RATIOS = 5
LOW_R2 = 0.5
WIDE_CI_FRACTION = 0.5
"""A CI wider than this fraction of the grid's x range is flagged as high noise."""
SHAPE_TOLERANCE = 0.05
"""The LOWESS and quadratic peaks may differ by the CI's width or this fraction of the x range, whichever is
larger, before the shape is flagged (LOWESS flattens peaks, so small differences are expected)."""


def collect_warnings(
    frame: pd.DataFrame, series: list[Series], fits: list[CurveFit], tables: dict[str, pd.DataFrame]
) -> list[str]:
    """Edge optima, few points, high noise, shape mismatch, diverged/failed trials, skipped comparisons."""
    warnings = []
    for fit, one in zip(fits, series, strict=True):
        label = f"{fit.level} {fit.name}"
        if fit.kind == "no_data":
            warnings.append(f"{label}: no ok score (every run diverged or failed); nothing fitted.")
        elif fit.kind != "quadratic":
            warnings.append(f"{label}: fewer than 3 distinct lr/bs values; no curve fitted, direction only.")
        else:
            warnings += _fit_warnings(label, fit, one)
        if fit.kind == "quadratic" and not can_compare(one):
            warnings.append(
                f"{label}: invariants not compared (needs >= 2 batch sizes, >= 3 learning rates and more grid "
                f"points than the {len(one.tasks) + 5} parameters of the lr x bs surface)."
            )
    trials = frame[frame["status"] != BASELINE_STATUS].drop_duplicates(["learning_rate", "batch_size", "seed"])
    for status in ("diverged", "failed"):
        count = int((trials["status"] == status).sum())
        if count:
            where = " (see divergence_frontier.csv)" if status == "diverged" else " (their `error` column says why)"
            warnings.append(
                f"{count} of {len(trials)} trials {status}{where}; they are left out of the fits and drawn as "
                f"{'x' if status == 'diverged' else '+'} in the plots."
            )
    edge_categories = {fit.name for fit in fits if fit.level == "category" and fit.at_grid_edge}
    for row in tables["category_contrast"].itertuples():
        if {row.category_a, row.category_b} & edge_categories:
            warnings.append(
                f"contrast {row.category_a} - {row.category_b}: an optimum lies at the grid edge, so the "
                "difference is bounded by the grid (a lower bound if the edge optimum is the far one)."
            )
    return warnings


def _fit_warnings(label: str, fit: CurveFit, one: Series) -> list[str]:
    warnings = []
    low, high = fit.x_range
    margin = SHAPE_TOLERANCE * (high - low)
    lowess_inside = low + margin < fit.lowess_best_x < high - margin
    width = fit.ci_high - fit.ci_low
    if fit.at_grid_edge and lowess_inside:
        warnings.append(
            f"{label}: the quadratic puts the optimum at the grid edge but the LOWESS peak (log10 "
            f"{fit.lowess_best_x:.2f}) is inside: the peak is not quadratic (skewed or flat-topped); read the "
            "optimum off plots/score_vs_ratio.png rather than extending the grid."
        )
    elif fit.at_grid_edge:
        warnings.append(f"{label}: optimum outside the grid ({_edge_phrase(fit)}).")
    elif lowess_inside and abs(fit.lowess_best_x - fit.best_x) > max(width, margin):
        warnings.append(
            f"{label}: the LOWESS peak (log10 {fit.lowess_best_x:.2f}) is {abs(fit.lowess_best_x - fit.best_x):.2f} "
            "decades from the quadratic's; the peak may be skewed or flat (compare the two curves in "
            "plots/score_vs_ratio.png)."
        )
    if one.n_distinct_x < FEW_RATIOS:
        warnings.append(
            f"{label}: only {one.n_distinct_x} distinct lr/bs values; the curve and its CI rest on few points."
        )
    if fit.r2 < LOW_R2:
        warnings.append(
            f"{label}: high noise or no clear peak: the quadratic explains R² = {fit.r2:.2f} of the variation."
        )
    if width > WIDE_CI_FRACTION * (high - low):
        warnings.append(f"{label}: high noise: the optimum's 95% CI spans {width:.2f} decades, over half the grid.")
    return warnings


def sci(value: float) -> str:
    """A number in short scientific notation for prose: 2.1e-6."""
    return f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e+").replace("e+", "e")


def ratio(log10_value: float) -> str:
    """The lr/bs whose log10 is given, for prose: 2.1e-6."""
    return sci(10**log10_value)


def _edge_phrase(fit: CurveFit) -> str:
    high = fit.best_x >= np.mean(fit.x_range)
    side, direction = ("high", "higher") if high else ("low", "lower")
    shape = "the fitted curve has no peak" if fit.coefficients.get("x^2", 0) >= 0 else "the curve still rises"
    return f"{shape} at the {side} edge, lr/bs = {ratio(fit.best_x)}; extend the grid to {direction} lr/bs"


def optimum_sentence(fit: CurveFit) -> str:
    """The optimum of one series in words, with its CI; direction only when there are just two ratios."""
    units = " (z units)" if fit.level == "category" else ""
    if fit.kind == "no_data":
        return "no ok score (every run diverged or failed)"
    if fit.kind == "one_ratio":
        return f"a single lr/bs value ({ratio(fit.best_x)}): nothing to compare"
    if fit.kind == "two_ratios":
        return (
            f"only two lr/bs values: {ratio(fit.best_x)} scored {fit.score_gain:.3g}{units} higher than "
            f"{ratio(fit.worse_x)} (no curve fitted)"
        )
    if fit.at_grid_edge:
        return f"optimum outside the grid ({_edge_phrase(fit)}); R² = {fit.r2:.2f}, {fit.n_points} points"
    return (
        f"best lr/bs = {ratio(fit.best_x)} [95% CI {ratio(fit.ci_low)}, {ratio(fit.ci_high)}] "
        f"(log10 {fit.best_x:.2f} [{fit.ci_low:.2f}, {fit.ci_high:.2f}]), R² = {fit.r2:.2f}, {fit.n_points} points"
    )


def contrast_sentence(row: pd.Series) -> str:
    smallest_p = 2 / (row["n_resamples"] + 1)
    p_value = f"p < {smallest_p:.2g}" if row["p_value"] <= smallest_p else f"p = {row['p_value']:.2g}"
    head = (
        f"{row['category_a']} − {row['category_b']} = {row['diff_log10_ratio']:.2f} decades "
        f"[95% CI {row['ci_low']:.2f}, {row['ci_high']:.2f}], {p_value}"
    )
    if row["separable"]:
        return f"{head}: {row['category_a']} prefers a {10 ** row['diff_log10_ratio']:.2g}x higher lr/bs."
    return f"{head}: the data cannot separate the two optima."


def _invariant_sentence(rows: pd.DataFrame) -> str:
    chosen = rows.loc[rows["chosen"], "invariant"].iloc[0]
    errors = ", ".join(f"{row.invariant} {row.cv_rmse:.3g}" for row in rows.itertuples())
    first = rows.iloc[0]
    alpha = f"free α = {first['alpha_hat']:.2f} [95% CI {first['alpha_ci_low']:.2f}, {first['alpha_ci_high']:.2f}]"
    return f"**{chosen}** (CV RMSE {errors}); {alpha}"


def render_report(
    frame: pd.DataFrame,
    fits: list[CurveFit],
    tables: dict[str, pd.DataFrame],
    warnings: list[str],
    files: list[Path],
    n_bootstrap: int,
) -> str:
    """report.md: summary, categories and their contrasts, tasks, invariants, divergence, warnings, figures."""
    trials = frame[frame["status"] != BASELINE_STATUS].drop_duplicates(["learning_rate", "batch_size", "seed"])
    counts = trials["status"].value_counts()
    sweep = ", ".join(sorted(set(frame["sweep"]) - {""})) or "sweep"
    task_categories = frame.groupby("task")["category"].first()
    grid = " × ".join(
        _count(trials[column].nunique(), noun)
        for column, noun in (("learning_rate", "learning rate"), ("batch_size", "batch size"), ("seed", "seed"))
    )
    tasks = _count(frame["task"].nunique(), "task")
    categories = _count(frame["category"].nunique(), "category", "categories")
    lines = [
        f"# lr / batch-size analysis: {sweep}",
        "",
        f"{_count(len(trials), 'trial')} ({counts.get('ok', 0)} ok, {counts.get('diverged', 0)} diverged, "
        f"{counts.get('failed', 0)} failed): {grid}, {tasks} in {categories}. x = log10(lr / batch size); "
        f"95% CIs from {n_bootstrap} bootstrap resamples of whole trials.",
        "",
        "## Categories",
        "",
    ]
    for fit in (fit for fit in fits if fit.level == "category"):
        tasks = ", ".join(task_categories.index[task_categories == fit.name])
        lines.append(f"- **{fit.name}** ({tasks}): {optimum_sentence(fit)}.")
    contrasts = [f"- {contrast_sentence(row)}" for _, row in tables["category_contrast"].iterrows()]
    lines += ["", *contrasts, *([""] if contrasts else []), "## Tasks", ""]
    for fit in (fit for fit in fits if fit.level == "task"):
        lines.append(f"- **{fit.name}** ({task_categories[fit.name]}): {optimum_sentence(fit)}.")
    lines += ["", "## Which invariant: lr/bs, lr/sqrt(bs), or lr and bs separately", ""]
    invariants = tables["invariants"]
    if invariants.empty:
        lines.append("Not compared: the grid has too few learning rates, batch sizes or points.")
    else:
        chosen = invariants.loc[invariants["chosen"], "invariant"].value_counts()
        tally = ", ".join(f"{name} for {count}" for name, count in chosen.items())
        lines += [f"Chosen: {tally} of {len(invariants.groupby(['level', 'name']))} tasks and categories.", ""]
    for (level, name), rows in invariants.groupby(["level", "name"], sort=False):
        lines.append(f"- {level} **{name}**: {_invariant_sentence(rows)}.")
    lines += ["", "## Divergence frontier", "", *_frontier_lines(tables["divergence_frontier"])]
    lines += ["", "## Warnings", "", *(f"- {warning}" for warning in warnings or ["none."])]
    lines += ["", "## Figures", ""]
    for path in files:
        if path.suffix == ".png":
            lines += [f"![{path.stem}]({path.as_posix()}) ([PDF]({path.with_suffix('.pdf').as_posix()}))", ""]
    lines += [
        "Tables: [optima.csv](optima.csv), [fits.csv](fits.csv), [invariants.csv](invariants.csv), "
        "[category_contrast.csv](category_contrast.csv), [divergence_frontier.csv](divergence_frontier.csv).",
        "",
    ]
    return "\n".join(lines)


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _frontier_lines(frontier: pd.DataFrame) -> list[str]:
    diverging = frontier[frontier["n_diverged"] > 0]
    if diverging.empty:
        return ["No trial diverged."]
    lines = []
    for row in diverging.itertuples():
        stable = (
            f", stable up to {sci(row.largest_stable_lr_bs_ratio)}"
            if np.isfinite(row.largest_stable_lr_bs_ratio)
            else ""
        )
        lines.append(
            f"- batch size {row.batch_size}: {row.n_diverged} of {row.n_trials} trials diverged, the first at "
            f"lr/bs = {sci(row.frontier_lr_bs_ratio)} (lr {sci(row.frontier_learning_rate)}){stable}."
        )
    return lines
