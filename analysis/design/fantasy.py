"""What a follow-up would show, before it runs: the study with the planned trials scored on a posterior draw.

A GP's posterior covariance after new observations depends on where they are and on their noise, not on their
values; what a follow-up does to an interval therefore depends on where its trials are, and the analysis itself can
say it. Take a draw of every task's curve from the study's joint posterior under the task's most likely GP
hyperparameters as a fantasy truth, score the planned trials on it with the tasks' noise under that same setting
(each task's run variance, its nugget among it, and the trial effect the tasks share), and analyse the fantasy study
exactly as the real one will be analysed: GP hyperparameters re-weighted by the new data, the tried-ratio rule,
everything. The spread of the answers over a few fantasies is what the follow-up is predicted to do.

Why the most likely setting alone: a truth drawn under a setting the data barely allow (a short lengthscale) is
rougher than anything the data show, and its fantasy study keeps wide CIs; drawn under every setting by its weight,
fantasies foresee wider CIs than follow-ups then measure (benchmarks/RESULTS.md compares the two). The noise is that
setting's too: the nugget averaged over every setting mixes in high nuggets that a one-seed pilot cannot rule out,
and fantasies scored with it are noisier than the world their truths stand for. The hyperparameters' uncertainty
still counts where the real analysis counts it: in each fantasy study's analysis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.design.study import PlannedTrial
from analysis.schema import FIT_STATUS, with_ratio_columns


def fantasy_table(
    table: pd.DataFrame,
    trials: Sequence[PlannedTrial],
    quality: dict[str, np.ndarray],
    signs: dict[str, float],
    noise: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """`table` joined by `trials` scored on a fantasy truth: `quality[task]` (per trial, quality units) plus the
    trial's noise (`noise`: (T, T) over the tasks of `quality`), each row otherwise its task's first ok row."""
    tasks = list(quality)
    ok = table[(table["status"] == FIT_STATUS) & table["task"].isin(tasks)]
    template = ok.drop_duplicates("task").drop(
        columns=["learning_rate", "batch_size", "seed", "lr_bs_ratio", "log10_ratio"]
    )
    points = pd.DataFrame(
        [(trial.learning_rate, trial.batch_size, trial.seed) for trial in trials],
        columns=["learning_rate", "batch_size", "seed"],
    )
    scores = np.column_stack([quality[task] for task in tasks])
    scores = scores + rng.multivariate_normal(np.zeros(len(tasks)), noise, size=len(points))
    frame = points.merge(template, how="cross")
    trial_index = np.repeat(np.arange(len(points)), len(template))
    task_index = frame["task"].map({task: index for index, task in enumerate(tasks)}).to_numpy()
    frame = with_ratio_columns(
        frame.assign(score=frame["task"].map(signs).to_numpy() * scores[trial_index, task_index], trial_id="fantasy")
    )
    return pd.concat([table, frame[table.columns]], ignore_index=True)
