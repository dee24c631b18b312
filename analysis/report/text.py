"""report.md's text: the Answer first (a few sentences a reader can act on), then the detail that backs it.

The Answer gives each category's optimal ratio with its CI, whether the categories differ, what one shared ratio
(and the reference ratio, when given) costs in each metric's units, and how far to trust it all: confidence is
high when every category's CI is closed and at most a decade wide, moderate when one is open or up to 1.5 decades
wide, low when an optimum is not located or a CI spans more than a decade and a half (the grid is then too
coarse for the noise, and the Answer says so). The CIs do not assume a smooth peak (estimates/optimum.py), so a
decade is typical of a 7 × 5 grid with one seed at lm-eval's noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.estimates.curves import CurveFit
from analysis.estimates.regret import REFERENCE, SHARED
from analysis.report.findings import (
    contrast_sentence,
    invariant_sentence,
    law_sentence,
    optimum_sentence,
    regret_sentence,
    sci,
    verdict,
)
from analysis.schema import BASELINE_STATUS

CONFIDENT_WIDTH = 1.0
"""Decades: a category's CI at most this wide (and closed) is a confident answer..."""
COARSE_WIDTH = 1.5
"""...and one wider than this means the grid is too coarse for the noise."""


def answer_text(fits: list[CurveFit], tables: dict[str, pd.DataFrame], task_categories: pd.Series) -> str:
    """The Answer section's sentences (markdown bullets), also logged to W&B."""
    categories = [fit for fit in fits if fit.level == "category"]
    lines = []
    for fit in categories:
        tasks = ", ".join(task_categories.index[task_categories == fit.name])
        lines.append(f"- **{fit.name}** ({tasks}): {optimum_sentence(fit)}.")
    contrasts = tables["category_contrast"]
    for _, row in contrasts.iterrows():
        verdict = "The categories differ" if row["separable"] else "The categories do not differ measurably"
        lines.append(f"- {verdict}: {contrast_sentence(row)}")
    regret = tables["regret"]
    for against, label in ((SHARED, "One ratio for all tasks"), (REFERENCE, "The reference ratio")):
        rows = regret[(regret["against"] == against) & (regret["level"] == "category")]
        if not rows.empty:
            costs = "; ".join(f"{row.name} {_cost(row)}" for row in rows.itertuples())
            lines.append(
                f"- {label} (lr/bs {sci(rows['lr_bs_ratio'].iloc[0])}) costs, against each own optimum: {costs}."
            )
    lines.append(f"- {confidence(categories or [fit for fit in fits if fit.level == 'task'])}")
    return "\n".join(lines)


def _cost(row: tuple) -> str:
    if not np.isfinite(row.regret):
        return row.note
    within = " (within noise)" if row.ci_low <= 0 <= row.ci_high else ""
    return f"{row.regret:.3g} {row.metric} [95% CI {row.ci_low:.3g}, {row.ci_high:.3g}]{within}"


def confidence(fits: list[CurveFit]) -> str:
    """How far to trust the optima, and why."""
    fitted = [fit for fit in fits if fit.kind == "gp"]
    if not fitted:
        return (
            "Confidence: low: no curve could be fitted (too few distinct lr/bs values, no ok scores, or scores that "
            "do not change)."
        )
    widths = {fit.name: fit.optimum.high - fit.optimum.low for fit in fitted}
    not_located = [fit.name for fit in fitted if fit.optimum.low_open and fit.optimum.high_open]
    open_ends = [fit.name for fit in fitted if fit.optimum.is_open]
    widest = max(widths.values())
    if not_located or widest > COARSE_WIDTH:
        where = f"{', '.join(not_located)} not located" if not_located else f"CIs up to {widest:.1f} decades wide"
        return (
            f"Confidence: low ({where}): the grid is too coarse for the noise to place the optima; a denser grid "
            "around them, or more seeds, would narrow the intervals."
        )
    if open_ends or widest > CONFIDENT_WIDTH:
        why = f"open CI for {', '.join(open_ends)}" if open_ends else f"CIs up to {widest:.2f} decades wide"
        coarse = (
            f": the grid is too coarse to place the optima closer than {widest:.1f} decades; a denser grid around "
            "them, or more seeds, would narrow the intervals"
            if widest > CONFIDENT_WIDTH
            else ""
        )
        return f"Confidence: moderate ({why}){coarse}; see the warnings below."
    return f"Confidence: high (every CI closed, at most {widest:.2f} decades wide)."


def render_report(
    frame: pd.DataFrame,
    fits: list[CurveFit],
    tables: dict[str, pd.DataFrame],
    answer: str,
    warnings: list[str],
    files: list[Path],
) -> str:
    """report.md: the Answer, then categories and contrasts, regret, tasks, invariants, batch-size laws,
    divergence, warnings and figures."""
    trials = frame[frame["status"] != BASELINE_STATUS].drop_duplicates(["learning_rate", "batch_size", "seed"])
    counts = trials["status"].value_counts()
    sweep = ", ".join(sorted(set(frame["sweep"]) - {""})) or "sweep"
    task_categories = frame.groupby("task")["category"].first()
    grid = " × ".join(
        _count(trials[column].nunique(), noun)
        for column, noun in (("learning_rate", "learning rate"), ("batch_size", "batch size"), ("seed", "seed"))
    )
    lines = [
        f"# lr / batch-size analysis: {sweep}",
        "",
        "## Answer",
        "",
        answer,
        "",
        f"{_count(len(trials), 'trial')} ({counts.get('ok', 0)} ok, {counts.get('diverged', 0)} diverged, "
        f"{counts.get('failed', 0)} failed): {grid}, {_count(frame['task'].nunique(), 'task')} in "
        f"{_count(frame['category'].nunique(), 'category', 'categories')}. x = log10(lr / batch size); each optimum "
        "is the median argmax of a Gaussian process's posterior curves (one per task, a category averaging its "
        "tasks' z-scores); its 95% CI is the shortest interval holding 95% of their argmax, and where the data show "
        "a sharp fall it reaches the tried ratio next to those that may have scored best, so it assumes no smooth "
        "peak there; an end that reaches the range scored is open.",
        "",
        "## Categories",
        "",
    ]
    for fit in fits:
        if fit.level != "task":
            tasks = ", ".join(task_categories.index[task_categories == fit.name]) or "every task"
            lines.append(f"- **{fit.name}** ({tasks}): {optimum_sentence(fit)}.")
    contrasts = [f"- {contrast_sentence(row)}" for _, row in tables["category_contrast"].iterrows()]
    lines += ["", *contrasts, *([""] if contrasts else [])]
    lines += ["## What the ratio is worth (regret)", "", *_regret_lines(tables["regret"]), ""]
    lines += ["## Tasks", ""]
    for fit in (fit for fit in fits if fit.level == "task"):
        lines.append(f"- **{fit.name}** ({task_categories[fit.name]}): {optimum_sentence(fit)}.")
    lines += ["", "## Noise per task (in each metric's units)", "", *_noise_lines(tables["noise"])]
    lines += ["", "## Which invariant: lr/bs, lr/sqrt(bs), or lr and bs separately", ""]
    invariants = tables["invariants"]
    if invariants.empty:
        lines.append("Not compared: the grid has too few learning rates, batch sizes or points.")
    else:
        chosen = invariants[invariants["chosen"]].groupby(["level", "name"], sort=False)["invariant"].agg(verdict)
        chosen = chosen.value_counts()
        tally = ", ".join(f"{name} for {count}" for name, count in chosen.items())
        lines += [f"Chosen: {tally} of {len(invariants.groupby(['level', 'name']))} tasks and categories.", ""]
    for (level, name), rows in invariants.groupby(["level", "name"], sort=False):
        lines.append(f"- {level} **{name}**: {invariant_sentence(rows)}.")
    lines += ["", "## How the optimal learning rate moves with batch size", "", *_law_lines(tables), ""]
    lines += ["## Divergence frontier", "", *_frontier_lines(tables["divergence_frontier"])]
    lines += ["", "## Warnings", "", *(f"- {warning}" for warning in warnings or ["none."])]
    lines += ["", "## Figures", ""]
    for path in files:
        if path.suffix == ".png":
            lines += [f"![{path.stem}]({path.as_posix()}) ([PDF]({path.with_suffix('.pdf').as_posix()}))", ""]
    names = [path.name for path in files if path.suffix == ".csv"]
    lines += ["Tables: " + ", ".join(f"[{name}]({name})" for name in names) + ".", ""]
    return "\n".join(lines)


def _regret_lines(regret: pd.DataFrame) -> list[str]:
    if regret.empty:
        return ["Not measured: it needs fitted category curves."]
    lines = [
        "Score lost by a category (mean over its tasks, in their metrics' units; positive is worse) when it trains "
        "at another ratio than its own optimum:",
        "",
    ]
    for row in regret[regret["level"] == "category"].itertuples():
        lines.append(f"- **{row.name}** {regret_sentence(pd.Series(row._asdict()))}.")
    return lines


def _noise_lines(noise: pd.DataFrame) -> list[str]:
    """Each task's eval noise, seed noise beyond it, and the noise its curve found beyond the stated noise."""
    lines = []
    for row in noise.itertuples():
        seeds = (
            f"seeds {row.seed_sd:.3g} beyond it (from {_count(row.replicated_points, 'grid point')} with 2+ seeds)"
            if np.isfinite(row.seed_sd)
            else "no grid point has two seeds, so the seeds' own spread is not measured"
        )
        fit = (
            f"; the curve found {row.fit_extra_sd:.3g} beyond the stated noise" if np.isfinite(row.fit_extra_sd) else ""
        )
        lines.append(f"- **{row.task}** ({row.metric}): eval (stderr) {row.eval_sd:.3g}; {seeds}{fit}.")
    return lines or ["No task has an ok score."]


def _law_lines(tables: dict[str, pd.DataFrame]) -> list[str]:
    laws = tables["batch_laws"]
    if laws.empty:
        return ["Not fitted: the grid needs two or more batch sizes and three or more learning rates."]
    lines = [
        "Optimal learning rate per batch size (optimal_lr.csv) fitted by lr ∝ bs (linear), lr ∝ sqrt(bs) (sqrt) and "
        "the Adam surge of Li et al. (2024), compared by leave-one-out CV over the batch sizes whose optimal lr is "
        "located (batch_laws.csv):",
        "",
    ]
    optimal = tables["optimal_lr"]
    for (level, name), rows in laws.groupby(["level", "name"], sort=False):
        per_bs = optimal[(optimal["level"] == level) & (optimal["name"] == name)]
        points = ", ".join(f"bs {row.batch_size:g}: {_lr_interval(row)}" for row in per_bs.itertuples())
        lines.append(f"- {level} **{name}**: {law_sentence(rows)}. Optimal lr: {points}.")
    return lines


def _lr_interval(row: tuple) -> str:
    low = "≤ " if row.ci_low_open else ""
    high = " ≥" if row.ci_high_open else ""
    return f"{sci(10**row.best_log10_lr)} [{low}{sci(10**row.ci_low)}, {sci(10**row.ci_high)}{high}]"


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
