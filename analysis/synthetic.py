"""Results tables with a planted truth, to check that the analysis recovers it (tests, benchmarks, a user's dry run).

Each task's expected score peaks at z = log10(lr) - alpha·log10(bs) = `best_z`: alpha = 1 makes lr/bs the
invariant (then `best_z` is the best log10(lr/bs)), alpha = 0.5 makes it lr/sqrt(bs); with `b_noise` the optimal
lr follows Li et al.'s Adam surge instead, rising then falling with batch size. The peak's shape is what
fools a model of the optimum: `width_above` makes it asymmetric, `power` = 4 flat-topped, `cliff` a sharp fall past
the optimum (as divergence nears), `worst` the level a broken run sinks to (chance). Runs above `diverge_above`
(an lr/bs) diverge and have no score. Noise is Gaussian (`noise`) or, with `n_items`, lm-eval's: the share of
`n_items` eval items a run gets right, with the binomial stderr lm-eval would report.

`messy_table` draws what real studies hand the analysis besides: tasks that never change (constant, all zero) or
never scored, metrics to minimise, huge or negative scores, one to three ratios, lone or many seeds, repeated
trials, every trial diverged, optional columns missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

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
    cliff_above_lr: float = np.inf
    """Finite (with `cliff`): the cliff follows the learning rate instead: above this rate the score falls by `cliff`
    per decade of lr at every batch size, as Adam's runs degrade by the learning rate before they diverge."""
    worst: float | None = None
    """The score a broken run sinks to (chance level); None: no bound."""
    noise: float = 0.01
    """Standard deviation of one run's score, reported as its stderr (when n_items is 0)."""
    n_items: int = 0
    """> 0: the score is the share of this many eval items right (binomial noise), as lm-eval scores it."""
    seed_noise: float = 0.0
    """Standard deviation of a run's own effect on its score (a fine-tuning seed's luck), which its reported stderr
    does not contain: real seeds vary by about as much as eval sampling, often more."""
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
        if self.cliff and np.isfinite(self.cliff_above_lr):
            loss = loss + self.cliff * np.maximum(np.log10(learning_rate / self.cliff_above_lr), 0.0)
        elif self.cliff:
            loss = np.where(distance > 0, self.cliff * distance, loss)
        direction = 1.0 if self.higher_is_better else -1.0
        score = self.peak - direction * loss
        if self.worst is not None:
            score = direction * np.maximum(direction * score, direction * self.worst)
        return score

    def scores(
        self,
        learning_rate: np.ndarray,
        batch_size: np.ndarray,
        rng: np.random.Generator,
        shared: np.ndarray | float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One run's score and its reported stderr at each grid point; `shared` is each run's effect on every task
        of the trial (in quality units: higher is better), which the stderr does not report, nor `seed_noise`'s."""
        expected = self.expected_score(learning_rate, batch_size)
        if self.seed_noise:
            shared = shared + rng.normal(0, self.seed_noise, expected.size)
        expected = expected + (1.0 if self.higher_is_better else -1.0) * shared
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
    *,
    trial_effect: float = 0.0,
    diverge_above_lr: float = np.inf,
) -> pd.DataFrame:
    """One row per (lr, bs, seed) trial × task on the full grid, plus one `baseline` row per task. `trial_effect`:
    the standard deviation of an effect each trial has on all its tasks alike (a seed that trained well), in
    quality units and in no stderr. Runs diverge above lr/bs `diverge_above` (SGD-like) or above the learning rate
    `diverge_above_lr` at any batch size (Adam-like)."""
    rng = np.random.default_rng(random_state)
    learning_rate, batch_size, seed = (
        grid.ravel() for grid in np.meshgrid(learning_rates, batch_sizes, seeds, indexing="ij")
    )
    diverged = (learning_rate / batch_size > diverge_above) | (learning_rate > diverge_above_lr)
    shared = rng.normal(0, trial_effect, learning_rate.size) if trial_effect else 0.0
    frames = []
    for task, truth in tasks.items():
        score, stderr = truth.scores(learning_rate, batch_size, rng, shared)
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


T = TypeVar("T")
Choose = Callable[[Sequence[T]], T]
"""Picks one of the options: `rng.choice`-like, or a hypothesis `data.draw(sampled_from(...))` (which shrinks)."""

TASK_KINDS = ("planted", "planted", "constant", "zero", "no_score")
FIXED_SCORES = {"constant": (0.8, 0.01), "zero": (0.0, 0.0), "no_score": (np.nan, np.nan)}
"""(score, stderr) of every ok trial of a task that is not planted."""
METRICS = {True: ("acc", "exact_match", "judge_score"), False: ("word_perplexity", "bits_per_byte", "judge_loss")}
"""By direction: two metrics lm-eval knows and one it does not (whose direction only the table can give)."""
OPTIONAL_COLUMNS = ((), (), ("stderr",), ("higher_is_better",), ("metric", "higher_is_better"), ("trial_id", "sweep"))


def messy_table(choose: Choose) -> pd.DataFrame:
    """A small results table of the kinds real studies produce, every choice made by `choose`: 1 to 3 tasks in 1 or
    2 categories, each planted (higher or lower is better, any metric), constant, all zero, or never scored; 1 to 4
    learning rates × 1 to 3 batch sizes (so 1 to 12 ratios) × 1 to 3 seeds; huge, negative or ordinary scores; no
    trial, some or all trials diverged, a few failed; repeated rows; optional columns dropped."""
    tasks, kinds = {}, {}
    for index in range(choose((1, 2, 3))):
        higher_is_better = choose((True, False))
        tasks[f"t{index}"] = PlantedTask(
            choose(("reasoning", "pattern")),
            best_z=choose((-6.0, -5.0, -4.0)),
            noise=choose((0.0, 0.01, 0.05)),
            higher_is_better=higher_is_better,
            metric=choose(METRICS[higher_is_better]),
        )
        kinds[f"t{index}"] = choose(TASK_KINDS)
    learning_rates = np.geomspace(1e-5, 1e-2, choose((1, 2, 3, 4)))
    batch_sizes = [8, 32, 128][: choose((1, 2, 3))]
    table = planted_table(
        tasks,
        learning_rates,
        batch_sizes,
        seeds=range(choose((1, 2, 3))),
        diverge_above=choose((np.inf, np.inf, 1e-4, 0.0)),
        random_state=choose(range(1000)),
    )
    for task, kind in kinds.items():
        if kind != "planted":
            table.loc[(table["task"] == task) & (table["status"] == "ok"), ["score", "stderr"]] = FIXED_SCORES[kind]
    scale, offset = choose(((1.0, 0.0), (1.0, 0.0), (1e9, 0.0), (1.0, -1e4), (1e6, -3e6)))
    table["score"] = scale * table["score"] + offset
    table["stderr"] = scale * table["stderr"]
    failed = table.index[table["status"] == "ok"][: choose((0, 0, 2))]
    table.loc[failed, ["status", "score", "stderr"]] = ["failed", np.nan, np.nan]
    repeated = table.tail(choose((0, 0, 3)))
    table = pd.concat([table, repeated], ignore_index=True)
    return table.drop(columns=list(choose(OPTIONAL_COLUMNS)))
