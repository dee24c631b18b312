"""The data each fit sees: one task's scores, a category's tasks pooled on a common scale, or all tasks pooled.

Every series is oriented so that higher is better: y = sign · score, sign = -1 for a metric lm-eval minimises
(`higher_is_better` False: perplexity, loss-like), so every fit maximises and every optimum is the best score.

A `Series` holds two views of the same `ok` trials: `points`, one row per task × grid point with seeds averaged
(what the Gaussian process and the invariants' fits see), and `rows`, one row per task × trial (what the
invariants' bootstrap resamples, a whole trial at a time).

The noise of a point is the variance of its seed mean: run variance / n_seeds, where run variance = stderr² (lm-eval's
sampling noise of the eval set at that point) + the task's training variance (the seeds' spread beyond what stderr
explains, pooled over the grid points with several seeds: two seeds of one point are too few to estimate it
alone). It is floored at a tenth of the task's median so a perfect score with stderr 0 cannot take all the weight,
and unknown (NaN) when there is neither a stderr nor a second seed: the model then learns it (the GP's nugget).

A category z-scores each task (scores and variances on one scale) and pools the sign-flipped z-scores; its fits
give each task its own level, so only the shape in lr/bs is shared. `Series.pooled` is that rule for anything drawn
per task (posterior curves, surfaces): every estimate of a category goes through it.

A task whose score does not change (`flat_tasks`: a constant, an all-zero task) has no optimum, and z-scoring it
would blow its rounding up to unit variance: its own series is flat, and categories and all tasks pool without it.

Trials are shared by all tasks: a lucky seed lifts every task of its trial, so `shared_correlation` (the
correlation of the seeds' deviations across tasks; 0 with one seed, where it cannot be estimated) becomes noise
covariance between tasks at one grid point.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.estimates.frontier import DivergenceFrontier
from analysis.load import aggregate_seeds
from analysis.schema import BASELINE_STATUS, FIT_STATUS

VARIANCE_FLOOR = 0.1
"""Run variances are floored at this fraction of the task's median run variance."""
ALL_TASKS = "all tasks"
"""The name of the series that pools every task (level `all`): the best single ratio for the whole sweep."""
FLOAT_NOISE = 1e-9
"""Numbers closer than this fraction of their size differ by floating-point rounding (float64 resolves 2e-16), not
by anything a trial did: no evaluation resolves a billionth of its score."""
NOISE_FRACTION = 1e-3
"""A task whose grid points differ by less than this fraction of their noise (sd) does not change at all."""


@dataclass(frozen=True)
class Series:
    """One analysed curve: a task, a category pooled over its tasks, or all tasks pooled."""

    level: str
    """`task`, `category` or `all`."""
    name: str
    tasks: tuple[str, ...]
    """The tasks with at least one ok score, in `task_code` order."""
    scales: pd.DataFrame
    """Per task (index): sign, location, spread, metric; y = sign · (score - location) / spread (location 0 and
    spread 1 for a task's own series: its y is its score in quality units)."""
    points: pd.DataFrame
    """task, task_code, point, learning_rate, batch_size, x, log10_lr, log10_bs, y, noise_variance, weight,
    n_seeds (x = log10(lr/bs); point codes the grid point across series; weight = 1 / noise_variance, or 1)."""
    rows: pd.DataFrame
    """trial, task_code, x, log10_lr, log10_bs, y, quality, weight: one row per task × ok trial (quality = sign ·
    score: the task's score, higher is better, the same in every series that holds the task)."""
    n_trials: int
    """Number of ok trials in the whole sweep (what the bootstrap resamples); `rows.trial` indexes them."""
    frontier: DivergenceFrontier
    """Where the sweep's trials diverged (where the series cannot be scored)."""
    shared_correlation: float = 0.0
    flat: tuple[str, ...] = ()
    """Flat tasks (`flat_tasks`): a task's own series when it is flat, else the flat tasks this series leaves out of
    its pooling."""

    @property
    def is_flat(self) -> bool:
        """Every task with a score is flat: a flat task's own series, or a category of flat tasks only."""
        return bool(self.flat) and set(self.tasks) <= set(self.flat)

    @property
    def n_distinct_x(self) -> int:
        return int(self.points["x"].nunique())

    @property
    def x_range(self) -> tuple[float, float]:
        return float(self.points["x"].min()), float(self.points["x"].max())

    @property
    def metric_sign(self) -> float:
        """Turns quality units back into what this series' figures and tables show: a task's metric direction (its
        own units), 1 for a category or all tasks (z units, higher is better)."""
        return float(self.scales["sign"].iloc[0]) if self.level == "task" else 1.0

    def pooled(self, values: dict[str, np.ndarray], members: list[str]) -> np.ndarray:
        """Per-task values in quality units (posterior draws, surfaces), by task, pooled into this series' quality
        units over `members`: a task's own values, a category's mean of its members' z-scores."""
        scales = self.scales.loc[members]
        pooled = sum((values[task] - row.sign * row.location) / row.spread for task, row in scales.iterrows())
        return pooled / len(members)


def build_series(frame: pd.DataFrame) -> list[Series]:
    """A series per task (sorted), per category (sorted), and one of all tasks when there are several categories.
    Flat tasks are left out of everything the other series share (trials, their correlation, pooling), so a flat
    task changes no other series."""
    signs = frame.groupby("task")["higher_is_better"].first().map({True: 1.0, False: -1.0})
    grid = _with_noise(aggregate_seeds(frame))
    flat = flat_tasks(grid)
    ok = frame[(frame["status"] == FIT_STATUS) & frame["score"].notna() & ~frame["task"].isin(flat)]
    trial_codes = ok.groupby(["learning_rate", "batch_size", "seed"], sort=True).ngroup()
    n_trials = int(trial_codes.max()) + 1 if len(ok) else 0
    grid["point"] = grid.groupby(["learning_rate", "batch_size"]).ngroup()
    grid["metric"] = grid["task"].map(frame.groupby("task")["metric"].first())
    ok = ok.assign(quality=ok["score"] * ok["task"].map(signs).astype(float))
    rows = ok[["task", "learning_rate", "batch_size", "log10_ratio", "score", "quality"]].assign(
        trial=trial_codes.to_numpy()
    )
    rows = rows.merge(grid[["task", "learning_rate", "batch_size", "run_variance"]], how="left")
    sweep = _Sweep(rows, n_trials, signs, DivergenceFrontier.of(frame), shared_correlation(ok))
    series = [
        _series("task", task, grid[grid["task"] == task], sweep, normalize=False, flat=(task,) if task in flat else ())
        for task in sorted(frame["task"].unique())
    ]
    categories = frame[frame["status"] != BASELINE_STATUS].groupby("category")["task"].unique()
    pooled = grid[~grid["task"].isin(flat)]
    for category, tasks in sorted(categories.items()):
        left_out = tuple(sorted(flat.intersection(tasks)))
        series.append(
            _series("category", category, pooled[pooled["task"].isin(tasks)], sweep, normalize=True, flat=left_out)
        )
    if len(categories) > 1:
        series.append(_series("all", ALL_TASKS, pooled, sweep, normalize=True, flat=tuple(sorted(flat))))
    return series


def flat_tasks(grid: pd.DataFrame) -> set[str]:
    """The tasks whose score does not change: scored at two or more grid points, whose mean scores (seeds averaged:
    what every fit sees) all lie within floating-point noise of each other (FLOAT_NOISE of their size: a constant,
    all zeros) or within NOISE_FRACTION of one point's noise (the median sd of a point's seed mean). Such a task has
    no optimum. A curve that is flat only within its noise (its points differ by about their noise) is not flat
    here: the fits see it, and its optimum's CI spans the range."""
    by_task = grid.groupby("task")["score"]
    spread = by_task.max() - by_task.min()
    size = grid["score"].abs().groupby(grid["task"]).max()
    noise = np.sqrt(grid.groupby("task")["noise_variance"].median())
    flat = (by_task.size() >= 2) & (within_float_noise(spread, size) | (spread <= NOISE_FRACTION * noise))
    return set(flat.index[flat])


def within_float_noise(difference: float | pd.Series, size: float | pd.Series) -> bool | pd.Series:
    """Whether `difference` is floating-point rounding of numbers of `size` (at most FLOAT_NOISE of it)."""
    return abs(difference) <= FLOAT_NOISE * size


def _with_noise(grid: pd.DataFrame) -> pd.DataFrame:
    """Add `run_variance` (one run's score variance; NaN when unknown) and `noise_variance` (of the seed mean)."""
    eval_variance = grid["stderr"] ** 2
    excess = (grid["score_sd"] ** 2 - eval_variance.fillna(0.0)).groupby(grid["task"]).transform("mean")
    training = excess.clip(lower=0.0)
    run_variance = eval_variance.fillna(eval_variance.groupby(grid["task"]).transform("median"))
    run_variance = run_variance.fillna(0.0).where(eval_variance.groupby(grid["task"]).transform("count") > 0)
    run_variance = pd.concat([run_variance, training], axis=1).sum(axis=1, min_count=1)
    median = run_variance.where(run_variance > 0).groupby(grid["task"]).transform("median")
    run_variance = run_variance.clip(lower=VARIANCE_FLOOR * median).where(median.notna())
    return grid.assign(run_variance=run_variance, noise_variance=run_variance / grid["n_seeds"])


def shared_correlation(ok: pd.DataFrame) -> float:
    """Mean correlation across task pairs of the seeds' deviations from their grid point's mean (`ok`'s `quality`
    column), clipped to [0, 0.95]; 0 when no grid point has two seeds of two tasks."""
    by_point = ok.groupby(["task", "learning_rate", "batch_size"])["quality"]
    repeated = ok.assign(deviation=ok["quality"] - by_point.transform("mean"))[by_point.transform("size") > 1]
    wide = repeated.pivot_table(index=["learning_rate", "batch_size", "seed"], columns="task", values="deviation")
    return mean_pair_correlation(wide)


def mean_pair_correlation(wide: pd.DataFrame, min_shared: int = 2) -> float:
    """The mean over column pairs of their correlation on the rows both have (at least `min_shared`), clipped to
    [0, 0.95]; 0 when no pair has enough: how alike a trial's luck is across its tasks."""
    pairs = itertools.combinations(wide.columns, 2)
    correlations = [wide[first].corr(wide[second], min_periods=min_shared) for first, second in pairs]
    correlations = [value for value in correlations if np.isfinite(value)]
    return float(np.clip(np.mean(correlations), 0.0, 0.95)) if correlations else 0.0


@dataclass(frozen=True)
class _Sweep:
    """What every series of a sweep shares: its ok trials' rows, their count, each task's sign, the frontier, and
    the trial effect shared by the tasks."""

    rows: pd.DataFrame
    n_trials: int
    signs: pd.Series
    frontier: DivergenceFrontier
    shared_correlation: float


def _series(
    level: str, name: str, grid: pd.DataFrame, sweep: _Sweep, *, normalize: bool, flat: tuple[str, ...]
) -> Series:
    tasks = tuple(sorted(grid["task"].unique()))
    codes = {task: code for code, task in enumerate(tasks)}
    by_task = grid.groupby("task")["score"]
    scales = pd.DataFrame(
        {
            "sign": sweep.signs.reindex(list(tasks)).fillna(1.0),
            "location": by_task.mean() if normalize else 0.0,
            "spread": by_task.std().fillna(0.0).where(lambda spread: spread > 0, 1.0) if normalize else 1.0,
            "metric": grid.groupby("task")["metric"].first(),
        },
        index=list(tasks),
    )

    def on_scale(table: pd.DataFrame) -> pd.DataFrame:
        sign, location, spread = (table["task"].map(scales[column]).astype(float) for column in scales.columns[:3])
        learning_rate, batch_size = table["learning_rate"], table["batch_size"].astype(float)
        return pd.DataFrame(
            {
                "task": table["task"],
                "task_code": table["task"].map(codes).astype(int),
                "learning_rate": learning_rate,
                "batch_size": batch_size,
                "x": table["log10_ratio"],
                "log10_lr": np.log10(learning_rate),
                "log10_bs": np.log10(batch_size),
                "y": sign * (table["score"] - location) / spread,
                "run_variance": table["run_variance"] / spread**2,
            }
        )

    points = on_scale(grid).assign(point=grid["point"].to_numpy(), n_seeds=grid["n_seeds"].to_numpy())
    points["noise_variance"] = points.pop("run_variance") / points["n_seeds"]
    points["weight"] = (1.0 / points["noise_variance"]).fillna(points["n_seeds"])
    rows = sweep.rows[sweep.rows["task"].isin(tasks)]
    series_rows = on_scale(rows).assign(trial=rows["trial"], quality=rows["quality"])
    series_rows["weight"] = (1.0 / series_rows.pop("run_variance")).fillna(1.0)
    return Series(
        level=level,
        name=name,
        tasks=tasks,
        scales=scales,
        points=points.reset_index(drop=True),
        rows=series_rows.reset_index(drop=True),
        n_trials=sweep.n_trials,
        frontier=sweep.frontier,
        shared_correlation=sweep.shared_correlation,
        flat=flat,
    )
