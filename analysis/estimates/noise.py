"""How noisy each task's scores are, as the study shows it: lm-eval's sampling noise (its stderr), the seed-to-seed
noise beyond it where grid points have several seeds, and the noise the fit found beyond what the data state.

A stderr is only the eval's sampling noise; a fine-tuning seed's luck is in none, and at 135M it is often as large.
The intervals use all of it (series.py takes the seeds' spread beyond the stderr into each point's noise, the GP adds
its nugget, optimum.py's draws of the tried points carry both); this table says how much each part is, in the
metric's units, so a reader can tell a study that needs more seeds from one that needs more eval items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimates.curves import CurveFit
from analysis.schema import FIT_STATUS

COLUMNS = ["task", "metric", "eval_sd", "seed_sd", "replicated_points", "fit_extra_sd"]


def noise_table(frame: pd.DataFrame, fits: list[CurveFit]) -> pd.DataFrame:
    """noise.csv, a row per task: `eval_sd` (median stderr of one run), `seed_sd` (the spread between seeds of one
    grid point beyond the eval noise, pooled over the `replicated_points` that have two or more; NaN where none has),
    `fit_extra_sd` (the noise the task's curve found beyond the stated noise: its GP's nugget; NaN without a curve)."""
    ok = frame[frame["status"] == FIT_STATUS].dropna(subset=["score"])
    cells = ok.assign(eval_variance=ok["stderr"] ** 2).groupby(["task", "learning_rate", "batch_size"])
    spread = cells.agg(variance=("score", "var"), seeds=("score", "size"), eval_variance=("eval_variance", "mean"))
    replicated = spread[spread["seeds"] > 1]
    beyond = (replicated["variance"] - replicated["eval_variance"].fillna(0.0)).groupby(level="task")
    seed_variance, replicated_points = beyond.mean(), beyond.size()
    models = {fit.name: fit.model for fit in fits if fit.level == "task" and fit.model is not None}
    rows = [
        {
            "task": task,
            "metric": ", ".join(sorted(set(rows_of_task["metric"]))),
            "eval_sd": float(rows_of_task["stderr"].median()),
            "seed_sd": float(np.sqrt(max(seed_variance[task], 0.0))) if task in seed_variance else np.nan,
            "replicated_points": int(replicated_points.get(task, 0)),
            "fit_extra_sd": float(np.sqrt(models[task].nugget_variance())) if task in models else np.nan,
        }
        for task, rows_of_task in ok.groupby("task", sort=True)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
