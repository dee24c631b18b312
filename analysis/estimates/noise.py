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
    cells = ok.groupby(["task", "learning_rate", "batch_size"])
    spread = cells["score"].agg(["var", "count"]).join(cells["stderr"].apply(lambda values: (values**2).mean()))
    replicated = spread[spread["count"] > 1]
    models = {fit.name: fit.model for fit in fits if fit.level == "task" and fit.model is not None}
    rows = []
    for task, rows_of_task in ok.groupby("task", sort=True):
        own = replicated.loc[[task]] if task in replicated.index.get_level_values("task") else replicated.iloc[:0]
        beyond = (own["var"] - own["stderr"].fillna(0.0)).mean() if len(own) else np.nan
        model = models.get(task)
        rows.append(
            {
                "task": task,
                "metric": ", ".join(sorted(set(rows_of_task["metric"]))),
                "eval_sd": float(rows_of_task["stderr"].median()),
                "seed_sd": float(np.sqrt(max(beyond, 0.0))) if np.isfinite(beyond) else np.nan,
                "replicated_points": len(own),
                "fit_extra_sd": float(np.sqrt(model.nugget_variance())) if model is not None else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
