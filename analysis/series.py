"""The data each fit sees: one task's scores, or one category's tasks pooled on a common scale.

A `Series` holds two views of the same `ok` trials: `points`, one row per task × grid point with seeds averaged
(what is fitted and cross-validated), and `rows`, one row per task × trial (what the bootstrap resamples, a
whole trial at a time, so a category's tasks move together and category contrasts are paired).

Weights are 1 / variance of one run at that grid point, variance = stderr² (lm-eval's sampling noise of the
eval set) + the seeds' score variance (training noise), floored at a tenth of the task's median so a perfect
score with stderr 0 cannot take all the weight. With neither stderr nor several seeds, weights are equal.
A category pools its tasks after z-scoring each task (scores and variances on the same scale), and its fits
give each task its own offset (task fixed effects), so only the shape in lr/bs is shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.load import aggregate_seeds
from analysis.schema import BASELINE_STATUS, FIT_STATUS

VARIANCE_FLOOR = 0.1
"""Run variances are floored at this fraction of the task's median run variance."""


@dataclass(frozen=True)
class Series:
    """One analysed curve: a task, or a category pooled over its tasks."""

    level: str
    """`task` or `category`."""
    name: str
    tasks: tuple[str, ...]
    """The tasks with at least one ok score, in `task_code` order."""
    points: pd.DataFrame
    """task, task_code, learning_rate, batch_size, x, log10_lr, log10_bs, y, weight, n_seeds (x = log10(lr/bs))."""
    rows: pd.DataFrame
    """unit, task_code, x, log10_lr, log10_bs, y, weight: one row per task × ok trial."""
    n_units: int
    """Number of bootstrap units (ok trials) in the whole sweep; `rows.unit` indexes them."""

    @property
    def n_distinct_x(self) -> int:
        return int(self.points["x"].nunique())


def build_series(frame: pd.DataFrame) -> list[Series]:
    """A series per task (sorted), then one per category (sorted), from the validated results frame."""
    ok = frame[(frame["status"] == FIT_STATUS) & frame["score"].notna()]
    units = ok.groupby(["learning_rate", "batch_size", "seed"], sort=True).ngroup()
    n_units = int(units.max()) + 1 if len(ok) else 0
    grid = _with_weights(aggregate_seeds(frame))
    rows = ok[["task", "learning_rate", "batch_size", "score"]].assign(unit=units.to_numpy())
    rows = rows.merge(grid[["task", "learning_rate", "batch_size", "run_variance"]], how="left")
    task_series = [
        _series("task", task, grid[grid["task"] == task], rows, n_units, normalize=False)
        for task in sorted(frame["task"].unique())
    ]
    categories = frame[frame["status"] != BASELINE_STATUS].groupby("category")["task"].unique()
    category_series = [
        _series("category", category, grid[grid["task"].isin(tasks)], rows, n_units, normalize=True)
        for category, tasks in sorted(categories.items())
    ]
    return task_series + category_series


def _with_weights(grid: pd.DataFrame) -> pd.DataFrame:
    """Add `run_variance`: the variance of one run's score at each grid point (see the module docstring)."""
    parts = pd.concat([grid["stderr"] ** 2, grid["score_sd"] ** 2], axis=1)
    variance = parts.sum(axis=1, min_count=1)

    def floored(task_variance: pd.Series) -> pd.Series:
        positive = task_variance[task_variance > 0]
        if positive.empty:
            return pd.Series(1.0, task_variance.index)
        median = positive.median()
        return task_variance.fillna(median).clip(lower=VARIANCE_FLOOR * median)

    return grid.assign(run_variance=variance.groupby(grid["task"]).transform(floored))


def _series(level: str, name: str, grid: pd.DataFrame, rows: pd.DataFrame, n_units: int, normalize: bool) -> Series:
    tasks = tuple(sorted(grid["task"].unique()))
    codes = {task: code for code, task in enumerate(tasks)}
    location = grid.groupby("task")["score"].mean() if normalize else pd.Series(0.0, index=list(tasks))
    spread = grid.groupby("task")["score"].std().fillna(0.0) if normalize else pd.Series(1.0, index=list(tasks))
    spread = spread.where(spread > 0, 1.0)

    def on_scale(table: pd.DataFrame, score: str) -> pd.DataFrame:
        mean, sd = table["task"].map(location).astype(float), table["task"].map(spread).astype(float)
        learning_rate, batch_size = table["learning_rate"], table["batch_size"].astype(float)
        return pd.DataFrame(
            {
                "task": table["task"],
                "task_code": table["task"].map(codes).astype(int),
                "learning_rate": learning_rate,
                "batch_size": batch_size,
                "x": np.log10(learning_rate / batch_size),
                "log10_lr": np.log10(learning_rate),
                "log10_bs": np.log10(batch_size),
                "y": (table[score] - mean) / sd,
                "weight": sd**2 / table["run_variance"],
            }
        )

    points = on_scale(grid, "score").assign(n_seeds=grid["n_seeds"].to_numpy())
    points["weight"] *= points["n_seeds"]
    series_rows = on_scale(rows[rows["task"].isin(tasks)], "score").assign(
        unit=rows.loc[rows["task"].isin(tasks), "unit"]
    )
    return Series(
        level=level,
        name=name,
        tasks=tasks,
        points=points.reset_index(drop=True),
        rows=series_rows.reset_index(drop=True),
        n_units=n_units,
    )
