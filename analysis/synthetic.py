"""Results tables with a planted truth, to check that the analysis recovers it (tests, benchmarks, a user's dry run).

Each task's expected score peaks at z = log10(lr) - alpha·log10(bs) = `best_z`: alpha = 1 makes lr/bs the
invariant (then `best_z` is the best log10(lr/bs)), alpha = 0.5 makes it lr/sqrt(bs); with `b_noise` the optimal
lr follows Li et al.'s Adam surge instead, rising then falling with batch size. The peak's shape is what
fools a model of the optimum: `width_above` makes it asymmetric, `power` = 4 flat-topped, `cliff` a sharp fall past
the optimum (as divergence nears), `worst` the level a broken run sinks to (chance). Runs above `diverge_above`
(an lr/bs) diverge and have no score. Noise is Gaussian (`noise`) or, with `n_items`, lm-eval's: the share of
`n_items` eval items a run gets right, with the binomial stderr lm-eval would report.
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
    b_noise: float = 0.0
    """> 0: the optimal lr at batch B is 2·lr_max / (sqrt(b_noise/B) + sqrt(B/b_noise)), lr_max = 10**best_z (the
    surge of Li et al., 2024); alpha is then unused."""
    peak: float = 0.8
    curvature: float = 0.1
    """Score lost one decade below the optimum (and above it, for width_above = 1)."""
    power: float = 2.0
    """Loss grows as |distance|^power: 2 is a parabola, 4 a flat top."""
    width_above: float = 1.0
    """Width of the peak above the optimum relative to below: 1/3 falls three times faster above."""
    cliff: float = 0.0
    """> 0: above the optimum the score falls linearly by this much per decade instead (a cliff when large)."""
    worst: float | None = None
    """The score a broken run sinks to (chance level); None: no bound."""
    noise: float = 0.01
    """Standard deviation of one run's score, reported as its stderr (when n_items is 0)."""
    n_items: int = 0
    """> 0: the score is the share of this many eval items right (binomial noise), as lm-eval scores it."""
    higher_is_better: bool = True
    """False plants a metric to minimise (perplexity-like): the curve is a valley at best_z."""
    metric: str = "acc"

    def optimal_log10_lr(self, batch_size: np.ndarray) -> np.ndarray:
        """The planted optimal log10 learning rate at each batch size."""
        if self.b_noise:
            surge = np.sqrt(self.b_noise / batch_size) + np.sqrt(batch_size / self.b_noise)
            return self.best_z + np.log10(2 / surge)
        return self.best_z + self.alpha * np.log10(batch_size)

    def expected_score(self, learning_rate: np.ndarray, batch_size: np.ndarray) -> np.ndarray:
        distance = np.log10(learning_rate) - self.optimal_log10_lr(np.asarray(batch_size, dtype=float))
        scaled = np.abs(np.where(distance > 0, distance / self.width_above, distance))
        loss = self.curvature * scaled**self.power
        if self.cliff:
            loss = np.where(distance > 0, self.cliff * distance, loss)
        direction = 1.0 if self.higher_is_better else -1.0
        score = self.peak - direction * loss
        if self.worst is not None:
            score = direction * np.maximum(direction * score, direction * self.worst)
        return score

    def scores(
        self, learning_rate: np.ndarray, batch_size: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """One run's score and its reported stderr at each grid point."""
        expected = self.expected_score(learning_rate, batch_size)
        if not self.n_items:
            return expected + rng.normal(0, self.noise, expected.size), np.full(expected.size, self.noise)
        share = rng.binomial(self.n_items, np.clip(expected, 0.0, 1.0)) / self.n_items
        return share, np.sqrt(share * (1 - share) / self.n_items)


def planted_table(
    tasks: Mapping[str, PlantedTask],
    learning_rates: Sequence[float],
    batch_sizes: Sequence[float],
    seeds: Sequence[int] = (0,),
    diverge_above: float = np.inf,
    random_state: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """One row per (lr, bs, seed) trial × task on the full grid, plus one `baseline` row per task."""
    rng = np.random.default_rng(random_state)
    learning_rate, batch_size, seed = (
        grid.ravel() for grid in np.meshgrid(learning_rates, batch_sizes, seeds, indexing="ij")
    )
    diverged = learning_rate / batch_size > diverge_above
    frames = []
    for task, truth in tasks.items():
        score, stderr = truth.scores(learning_rate, batch_size, rng)
        trial = pd.DataFrame(
            {
                "trial_id": [f"lr{lr:.2e}_bs{int(bs)}_s{s}" for lr, bs, s in zip(learning_rate, batch_size, seed)],
                "learning_rate": learning_rate,
                "batch_size": batch_size.astype(int),
                "seed": seed,
                "score": np.where(diverged, np.nan, score),
                "stderr": np.where(diverged, np.nan, stderr),
                "status": np.where(diverged, "diverged", "ok"),
            }
        )
        direction = 1 if truth.higher_is_better else -1
        baseline = pd.DataFrame(
            {
                "trial_id": ["baseline"],
                "learning_rate": [np.nan],
                "batch_size": [pd.NA],
                "seed": [0],
                "score": [truth.peak - direction * 3 * truth.curvature],
                "stderr": [truth.noise],
                "status": ["baseline"],
            }
        )
        frames.append(
            pd.concat([baseline, trial]).assign(
                task=task, category=truth.category, metric=truth.metric, higher_is_better=truth.higher_is_better
            )
        )
    return pd.concat(frames, ignore_index=True).assign(sweep="planted", method="sft")
