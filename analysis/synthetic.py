"""Results tables with a planted truth, to check that the analysis recovers it (tests, benchmark, a user's dry run).

Each task's expected score peaks at z = log10(lr) - alpha·log10(bs) = `best_z`: alpha = 1 makes lr/bs the
invariant (then `best_z` is the best log10(lr/bs)), alpha = 0.5 makes it lr/sqrt(bs). `skew` bends the peak
asymmetrically without moving it. Runs above `diverge_above` (an lr/bs) diverge and have no score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PlantedTask:
    """The truth behind one task's scores."""

    category: str
    best_z: float
    alpha: float = 1.0
    peak: float = 0.8
    curvature: float = 0.1
    """Score lost one decade away from the optimum (for skew = 0)."""
    skew: float = 0.0
    """> 0 makes the score fall faster above the optimum than below it."""
    noise: float = 0.01
    """Standard deviation of one run's score, reported as its stderr."""
    metric: str = "acc"

    def expected_score(self, learning_rate: np.ndarray, batch_size: np.ndarray) -> np.ndarray:
        distance = np.log10(learning_rate) - self.alpha * np.log10(batch_size) - self.best_z
        if self.skew == 0:
            return self.peak - self.curvature * distance**2
        bent = np.expm1(self.skew * distance) - self.skew * distance
        return self.peak - self.curvature * 2 * bent / self.skew**2


def planted_table(
    tasks: Mapping[str, PlantedTask],
    learning_rates: Sequence[float],
    batch_sizes: Sequence[float],
    seeds: Sequence[int] = (0,),
    diverge_above: float = np.inf,
    random_state: int = 0,
) -> pd.DataFrame:
    """One row per (lr, bs, seed) trial × task on the full grid, plus one `baseline` row per task."""
    rng = np.random.default_rng(random_state)
    learning_rate, batch_size, seed = (
        grid.ravel() for grid in np.meshgrid(learning_rates, batch_sizes, seeds, indexing="ij")
    )
    diverged = learning_rate / batch_size > diverge_above
    frames = []
    for task, truth in tasks.items():
        score = truth.expected_score(learning_rate, batch_size) + rng.normal(0, truth.noise, learning_rate.size)
        trial = pd.DataFrame(
            {
                "trial_id": [f"lr{lr:.2e}_bs{int(bs)}_s{s}" for lr, bs, s in zip(learning_rate, batch_size, seed)],
                "learning_rate": learning_rate,
                "batch_size": batch_size.astype(int),
                "seed": seed,
                "score": np.where(diverged, np.nan, score),
                "stderr": np.where(diverged, np.nan, truth.noise),
                "status": np.where(diverged, "diverged", "ok"),
            }
        )
        baseline = pd.DataFrame(
            {
                "trial_id": ["baseline"],
                "learning_rate": [np.nan],
                "batch_size": [pd.NA],
                "seed": [0],
                "score": [truth.peak - 3 * truth.curvature],
                "stderr": [truth.noise],
                "status": ["baseline"],
            }
        )
        frames.append(pd.concat([baseline, trial]).assign(task=task, category=truth.category, metric=truth.metric))
    return pd.concat(frames, ignore_index=True).assign(sweep="planted", method="sft")
