"""What the ratio is worth: the score a category loses by training at another ratio than its own optimum.

For each category and each alternative ratio r (every other category's optimum, the best single ratio for all
tasks, and a named reference such as Tulu 3's 5e-6/128), the regret is the mean over the category's tasks of
f_t(x*) - f_t(r), where x* is the category's estimated optimum and f_t a task's curve, in the task's own metric
units and direction (positive: worse, e.g. accuracy lost or perplexity gained). Its CI comes from the joint
posterior curves (curves.py), so tasks and the two ratios stay paired; it may include 0 (r is as good, within noise)
or go below it (r beats the estimate). The task rows show where a category's loss lies.

This answers in points what the optima answer in decades: whether choosing the ratio per category matters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimates.curves import CurveFit
from analysis.estimates.intervals import Interval
from analysis.estimates.series import Series

COLUMNS = [
    "level", "name", "category", "against", "log10_ratio", "lr_bs_ratio", "regret", "ci_low", "ci_high", "metric",
    "note",
]  # fmt: skip
REFERENCE = "reference"
SHARED = "best single ratio"
OUTSIDE = "outside the sweep's lr/bs range: not measured"
OPEN_OPTIMUM = "the category's optimum is an open interval (at the range's end): a lower bound"


def parse_ratio(text: str | float | None) -> float | None:
    """A learning-rate / batch-size ratio from a number or "lr/bs" text such as "5e-6/128"; None stays None."""
    if text is None or isinstance(text, float | int):
        return None if text is None else float(text)
    learning_rate, _, batch_size = str(text).partition("/")
    ratio = float(learning_rate) / float(batch_size) if batch_size else float(learning_rate)
    if not ratio > 0:
        raise ValueError(f"reference ratio must be > 0, got {text!r}")
    return ratio


def regret_table(fits: list[CurveFit], series: list[Series], reference_ratio: float | None = None) -> pd.DataFrame:
    """regret.csv: per category (and its tasks) and alternative ratio, the score lost with its 95% CI."""
    by_name = {(fit.level, fit.name): fit for fit in fits if fit.kind == "gp"}
    categories = [one for one in series if one.level == "category" and ("category", one.name) in by_name]
    alternatives = [(f"category {one.name}", by_name["category", one.name].best_log10_ratio) for one in categories]
    shared = next((fit for fit in fits if fit.level == "all" and fit.kind == "gp"), None)
    if shared is not None:
        alternatives.append((SHARED, shared.best_log10_ratio))
    if reference_ratio is not None:
        alternatives.append((REFERENCE, float(np.log10(reference_ratio))))
    rows = []
    for category in categories:
        own = by_name["category", category.name]
        tasks = [task for task in category.tasks if ("task", task) in by_name]
        for against, ratio in alternatives:
            if against == f"category {category.name}":
                continue
            losses = {task: _loss(by_name["task", task], own.best_log10_ratio, ratio) for task in tasks}
            note = OPEN_OPTIMUM if own.optimum.is_open else ""
            metrics = category.scales["metric"]
            where = {"category": category.name, "against": against, "log10_ratio": ratio}
            rows.append(_row({"level": "category", "name": category.name, **where}, losses, metrics, note))
            rows += [
                _row({"level": "task", "name": task, **where}, {task: loss}, metrics.loc[[task]], note)
                for task, loss in losses.items()
            ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _loss(fit: CurveFit, best_log10_ratio: float, ratio: float) -> np.ndarray:
    """Samples of f(best_log10_ratio) - f(ratio) in the task's quality units (NaN where either is outside its range)."""
    return fit.samples_at(best_log10_ratio) - fit.samples_at(ratio)


def _row(where: dict, losses: dict[str, np.ndarray], metrics: pd.Series, note: str) -> dict:
    """One regret.csv row: `where` (level, name, category, against, log10_ratio) and the mean loss over `losses`'
    tasks with its 95% CI."""
    mean = np.mean(list(losses.values()), axis=0)
    interval = Interval.from_samples(mean, (-np.inf, np.inf))
    outside = not np.isfinite(mean).all()
    return {
        **where,
        "lr_bs_ratio": 10 ** where["log10_ratio"],
        "regret": np.nan if outside else interval.estimate,
        "ci_low": np.nan if outside else interval.low,
        "ci_high": np.nan if outside else interval.high,
        "metric": ", ".join(sorted(set(metrics))),
        "note": OUTSIDE if outside else note,
    }
