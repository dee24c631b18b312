"""The analysis in sentences: each optimum, contrast, invariant, batch-size law and regret in words, and the
warnings, from the computed fits and tables.

Every claim carries its number and 95% CI. An interval that reaches the end of what was measured is open and reads
so ("≥ 1.8e-4 (95% CI reaches the grid's edge, …)"); an optimum pressed against the divergence frontier says so
and does not advise extending the grid into it; a contrast whose CI includes 0 says plainly that the data cannot
separate the two categories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimates.batch_laws import MIN_COMPARED, SURGE
from analysis.estimates.curves import CurveFit
from analysis.estimates.frontier import FRONTIER
from analysis.estimates.intervals import Interval
from analysis.estimates.invariants import ALPHA_GRID, PEAK_SHARE, can_compare
from analysis.estimates.series import Series
from analysis.schema import BASELINE_STATUS

FEW_RATIOS = 5
LOW_R2 = 0.5
WIDE_CI_FRACTION = 0.5
"""A CI wider than this fraction of the series' x range is flagged."""


def sci(value: float) -> str:
    """A number in short scientific notation for prose: 2.1e-6."""
    return f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e+").replace("e+", "e")


def ratio(log10_value: float) -> str:
    """The lr/bs whose log10 is given, for prose: 2.1e-6."""
    return sci(10**log10_value)


def optimum_text(fit: CurveFit) -> str:
    """An optimum as lr/bs with its CI, open ends read as bounds, then in log10: "= 2.1e-6 [95% CI 1.2e-6, 3.4e-6]
    (log10 -5.68 [-5.92, -5.47])" or "≥ 1.2e-6 (95% CI reaches the grid's edge, 3.4e-6) (log10 ≥ -5.92)"."""
    words = fit.optimum.describe(ratio, high_edge=fit.high_edge)
    return f"{words} (log10 {fit.optimum.compact(lambda value: f'{value:.2f}')})"


def optimum_sentence(fit: CurveFit) -> str:
    """The optimum of one series in words, with its CI; direction only when there are just two ratios."""
    units = " (z units)" if fit.level != "task" else ""
    if fit.kind == "no_data":
        return "no ok score (every run diverged, failed or reported no score)"
    if fit.kind == "flat":
        scored = f"{fit.flat_score:.4g} at every lr/bs tried" if fit.level == "task" else "every task in it is flat"
        return f"flat: no optimum ({scored})"
    if fit.kind == "one_ratio":
        return f"a single lr/bs value ({ratio(fit.best_log10_ratio)}): nothing to compare"
    if fit.kind == "two_ratios" and not fit.score_gain:
        low, high = fit.x_range
        return f"only two lr/bs values: {ratio(high)} and {ratio(low)} scored the same within noise (no curve fitted)"
    if fit.kind == "two_ratios":
        return (
            f"only two lr/bs values: {ratio(fit.best_log10_ratio)} scored {fit.score_gain:.3g}{units} better than "
            f"{ratio(fit.worse_log10_ratio)} (no curve fitted)"
        )
    quality = f", leave-one-out R² = {fit.r2:.2f}" if np.isfinite(fit.r2) else ""
    return f"best lr/bs {optimum_text(fit)}{quality}, {fit.n_points} points"


def flat_warning(fit: CurveFit, series: Series) -> str:
    """Why a flat series has no optimum, and what its categories do without it."""
    if fit.level != "task":
        return f"{fit.level} {fit.name}: every task in it is flat ({', '.join(series.flat)}): no optimum."
    return (
        f"task {fit.name}: its score does not change ({fit.flat_score:.4g} at every lr/bs tried, within "
        "floating-point noise or a thousandth of its noise): no optimum, and it is left out of its category's curve "
        "and the all-tasks curve."
    )


def frontier_batch_sizes(bounds: pd.Series) -> str:
    """The batch sizes that hold an optimum at the frontier, in words: "batch size 4 (diverged from lr 1.0e-2)"."""
    parts = [f"{batch_size} (diverged from lr {sci(rate)})" for batch_size, rate in bounds.items()]
    return f"batch size{'s' if len(parts) > 1 else ''} {', '.join(parts)}"


def edge_warning(fit: CurveFit, series: Series) -> str | None:
    """What an open optimum means and what to do about it; None for a closed one."""
    optimum, (low, high) = fit.optimum, fit.x_range
    label = f"{fit.level} {fit.name}"
    if optimum.low_open and optimum.high_open:
        return (
            f"{label}: optimum not located: its 95% CI spans the whole range {ratio(low)} … {ratio(high)} (a flat "
            "curve within noise, or a grid too coarse for the noise); more seeds or a denser grid would narrow it."
        )
    if optimum.high_open and fit.high_edge == FRONTIER:
        first_diverged = series.frontier.lowest_log10_ratio(above=high)
        return (
            f"{label}: the score still rises at the largest stable lr/bs ({ratio(high)}) and every higher ratio "
            f"diverged (from {ratio(first_diverged)}): the optimum lies at the divergence frontier, held there by "
            f"{frontier_batch_sizes(fit.frontier_bounds)}. A wider grid cannot help; ratios between {ratio(high)} and "
            f"{ratio(first_diverged)} can place it, and where divergence follows the learning rate so can higher "
            "ratios at smaller batch sizes, with learning rates below those that diverged."
        )
    if optimum.high_open:
        return (
            f"{label}: the optimum's CI reaches the grid's high edge (lr/bs {ratio(high)}): the optimum may lie "
            "beyond it; extend the grid to higher lr/bs."
        )
    if optimum.low_open:
        return (
            f"{label}: the optimum's CI reaches the grid's low edge (lr/bs {ratio(low)}): the optimum may lie "
            "below it; extend the grid to lower lr/bs."
        )
    return None


def collect_warnings(
    frame: pd.DataFrame, series: list[Series], fits: list[CurveFit], tables: dict[str, pd.DataFrame]
) -> list[str]:
    """Open optima, few points, wide CIs, poor fits, diverged/failed trials, skipped comparisons, open α and
    batch-size laws that leave open optima out."""
    warnings = []
    for fit, one in zip(fits, series, strict=True):
        label = f"{fit.level} {fit.name}"
        if fit.kind == "no_data":
            warnings.append(f"{label}: no ok score (every run diverged, failed or reported no score); nothing fitted.")
        elif fit.kind == "flat":
            warnings.append(flat_warning(fit, one))
        elif fit.kind == "one_ratio":
            warnings.append(f"{label}: a single lr/bs value; nothing to fit or compare.")
        elif fit.kind != "gp":
            warnings.append(f"{label}: fewer than 3 distinct lr/bs values; no curve fitted, direction only.")
        else:
            warnings += _fit_warnings(label, fit, one)
        if fit.kind == "gp" and not can_compare(one):
            warnings.append(
                f"{label}: invariants not compared (needs, among each task's best {PEAK_SHARE:.0%} of grid points, "
                f">= 2 batch sizes, >= 3 learning rates and more points than the {len(one.tasks) + 5} parameters of "
                "the lr x bs surface)."
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
    for row in tables["category_contrast"].itertuples():
        if row.bounded_by_range:
            warnings.append(
                f"contrast {row.category_a} - {row.category_b}: an optimum's CI is open, so the difference is "
                "bounded by the range the grid covers, not measured."
            )
    for row in tables["invariants"].drop_duplicates(["level", "name"]).itertuples():
        if row.alpha_ci_low_open or row.alpha_ci_high_open:
            warnings.append(
                f"{row.level} {row.name}: the free exponent α's CI reaches its search bound "
                f"({ALPHA_GRID[0]:g} … {ALPHA_GRID[-1]:g}): the data do not bound α on that side."
            )
    for row in tables["batch_laws"].drop_duplicates(["level", "name"]).itertuples():
        if row.n_open_optima:
            warnings.append(
                f"{row.level} {row.name}: the batch-size laws leave out {row.n_open_optima} optimal learning "
                "rate(s) whose CI reaches the learning rates tried (see optimal_lr.csv); `sweeper plan --batch-law` "
                "plans the trials that locate them."
            )
    return warnings


def _fit_warnings(label: str, fit: CurveFit, one: Series) -> list[str]:
    warnings = [warning for warning in [edge_warning(fit, one)] if warning]
    low, high = fit.x_range
    width = fit.optimum.high - fit.optimum.low
    if one.n_distinct_x < FEW_RATIOS:
        warnings.append(
            f"{label}: only {one.n_distinct_x} distinct lr/bs values; the curve and its CI rest on few points."
        )
    if fit.r2 < LOW_R2:
        warnings.append(
            f"{label}: the curve predicts little of the points' spread (leave-one-out R² = {fit.r2:.2f}): high noise "
            "or no clear peak."
        )
    if width > WIDE_CI_FRACTION * (high - low) and not (fit.optimum.low_open and fit.optimum.high_open):
        warnings.append(f"{label}: the optimum's 95% CI spans {width:.2f} decades, over half the range.")
    return warnings


def contrast_sentence(row: pd.Series) -> str:
    smallest_p = 2 / (row["n_samples"] + 1)
    p_value = f"p < {smallest_p:.2g}" if row["p_value"] <= smallest_p else f"p = {row['p_value']:.2g}"
    head = (
        f"{row['category_a']} − {row['category_b']} = {row['diff_log10_ratio']:.2f} decades "
        f"[95% CI {row['ci_low']:.2f}, {row['ci_high']:.2f}], {p_value}"
    )
    bounded = " (bounded by the grid: an optimum's CI is open)" if row["bounded_by_range"] else ""
    if row["separable"]:
        return f"{head}: {row['category_a']} prefers a {10 ** row['diff_log10_ratio']:.2g}x higher lr/bs{bounded}."
    return f"{head}: the data cannot separate the two optima{bounded}."


def verdict(chosen: pd.Series) -> str:
    """The chosen models in bold; several are a tie the data cannot break, and say so."""
    names = [f"**{name}**" for name in chosen]
    return names[0] if len(names) == 1 else f"undecided between {', '.join(names[:-1])} and {names[-1]}"


def invariant_sentence(rows: pd.DataFrame) -> str:
    chosen = verdict(rows.loc[rows["chosen"], "invariant"])
    errors = ", ".join(
        f"{row.invariant} {row.cv_rmse:.3g}"
        if np.isfinite(row.cv_rmse)
        else f"{row.invariant} n/a (a grid point it cannot do without)"
        for row in rows.itertuples()
    )
    first = rows.iloc[0]
    alpha = Interval(*first[["alpha_hat", "alpha_ci_low", "alpha_ci_high", "alpha_ci_low_open", "alpha_ci_high_open"]])
    words = alpha.describe(lambda value: f"{value:.2f}", "α's search bound", "α's search bound")
    return f"{chosen} (CV RMSE {errors}); free α {words}"


def law_sentence(rows: pd.DataFrame) -> str:
    """One series' batch-size laws: the chosen ones, each CV error, and the surge's B_noise; or why none is chosen."""
    first = rows.iloc[0]
    located = first["n_batch_sizes"] - first["n_open_optima"]
    if not rows["chosen"].any():
        return (
            f"no verdict: {located} of {first['n_batch_sizes']} batch sizes locate their optimal learning rate (a CI "
            f"closed at both ends), {MIN_COMPARED} needed"
        )
    chosen = verdict(rows.loc[rows["chosen"], "law"])
    errors = ", ".join(f"{row.law} {row.cv_rmse:.3g}" for row in rows.itertuples() if np.isfinite(row.cv_rmse))
    caveat = ""
    if first["n_open_optima"]:
        caveat = (
            f" (on the {located} of {first['n_batch_sizes']} batch sizes whose optimal learning rate is located; "
            f"{first['n_open_optima']} open, left out)"
        )
    surge = rows[rows["law"] == SURGE].iloc[0]
    b_noise = Interval(
        *surge[["b_noise", "b_noise_ci_low", "b_noise_ci_high", "b_noise_ci_low_open", "b_noise_ci_high_open"]]
    )
    words = b_noise.describe(lambda value: f"{value:.3g}", "the range searched", "the range searched")
    beyond = " (beyond the grid: the sqrt law there, so not compared)" if b_noise.high_open else ""
    return f"{chosen}{caveat}; CV RMSE in decades of lr: {errors}; surge B_noise {words}{beyond}"


def regret_sentence(row: pd.Series) -> str:
    """One regret row in words, in the metric's units."""
    where = f"{row['against']} (lr/bs {sci(row['lr_bs_ratio'])})"
    if not np.isfinite(row["regret"]):
        return f"at {where}: {row['note']}"
    note = f"; {row['note']}" if row["note"] else ""
    return (
        f"at {where}: {row['regret']:.3g} {row['metric']} lost [95% CI {row['ci_low']:.3g}, {row['ci_high']:.3g}]{note}"
    )
