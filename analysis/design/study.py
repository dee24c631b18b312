"""What a study has tried and what one more trial costs: the facts a follow-up sweep is planned within.

A study is a sweep and the follow-ups planned into it, read as one results table. A follow-up uses the batch sizes
the sweep side says it can split, learning rates inside the study's (3 significant digits, so trial ids stay
readable), never a point a divergence predicts will diverge (frontier.py's `blocks`: over lr and bs, so a ratio
above the lowest that diverged stays open at learning rates that trained), and never an (lr, bs, seed) the study
holds: another seed of a trained point takes the next seed number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.estimates.frontier import DivergenceFrontier


@dataclass(frozen=True)
class Point:
    """A learning rate at a batch size."""

    learning_rate: float
    batch_size: int

    @property
    def log10_ratio(self) -> float:
        return float(np.log10(self.learning_rate / self.batch_size))

    def same_point(self, other: Point) -> bool:
        """Whether `other` trains at this point (learning rates equal to float precision)."""
        same_rate = np.isclose(self.learning_rate, other.learning_rate, rtol=1e-9)
        return self.batch_size == other.batch_size and bool(same_rate)


@dataclass(frozen=True)
class Candidate(Point):
    """A point a follow-up may train, and one trial's predicted seconds there."""

    seconds: float


@dataclass(frozen=True)
class PlannedTrial(Point):
    """One trial of a follow-up, and why it is there."""

    seed: int
    reason: str
    seconds: float
    """Predicted cost: the study's measured train + eval seconds at this batch size's steps."""


def rounded(learning_rate: float) -> float:
    """A learning rate to 3 significant digits."""
    return float(f"{learning_rate:.3g}")


class Study:
    """The study's trials (every (lr, bs, seed) taken), learning rates, divergence frontier and trial costs."""

    def __init__(
        self, table: pd.DataFrame, batch_sizes: Sequence[int], seconds_per_trial: Callable[[int], float]
    ) -> None:
        self.divergence = DivergenceFrontier.of(table)
        """Where the study's trials diverged: no follow-up trains a point it `blocks`."""
        trials = self.divergence.trials
        self.taken = trials[["learning_rate", "batch_size", "seed", "status", "log10_ratio"]]
        self.learning_rates = (float(trials["learning_rate"].min()), float(trials["learning_rate"].max()))
        self.batch_sizes = sorted(int(size) for size in batch_sizes)
        self.seconds_per_trial = seconds_per_trial

    def candidate(self, learning_rate: float, batch_size: int, learning_rates: tuple[float, float]) -> Candidate | None:
        """The point at `learning_rate` (rounded) and `batch_size`, if a follow-up may train it: the batch size is
        one it may use, the learning rate inside `learning_rates`, the point not predicted to diverge."""
        rate = rounded(learning_rate)
        inside = learning_rates[0] * (1 - 1e-9) <= rate <= learning_rates[1] * (1 + 1e-9)
        if batch_size not in self.batch_sizes or not inside or self.divergence.blocks(rate, batch_size):
            return None
        return Candidate(rate, batch_size, float(self.seconds_per_trial(batch_size)))

    def cheapest(self, log10_ratio: float, learning_rates: tuple[float, float]) -> Candidate | None:
        """Ratio 10**log10_ratio at the batch size where one trial costs least (ties: the learning rate nearest the
        middle of `learning_rates`, in decades); None where no batch size reaches it."""
        middle = np.mean(np.log10(learning_rates))
        options = [
            candidate
            for size in self.batch_sizes
            if (candidate := self.candidate(10**log10_ratio * size, size, learning_rates)) is not None
        ]
        return min(options, key=lambda one: (one.seconds, abs(np.log10(one.learning_rate) - middle)), default=None)

    def trained(self) -> list[Candidate]:
        """Every point the study trained (an ok trial) that a follow-up may train again, for another seed."""
        points = self.taken[self.taken["status"] == "ok"].drop_duplicates(["learning_rate", "batch_size"])
        return [
            Candidate(float(row.learning_rate), int(row.batch_size), float(self.seconds_per_trial(int(row.batch_size))))
            for row in points.itertuples()
            if row.batch_size in self.batch_sizes and not self.divergence.blocks(row.learning_rate, row.batch_size)
        ]

    def next_seed(self, candidate: Candidate, planned: Sequence[PlannedTrial]) -> int:
        """The next seed of `candidate`'s point, after the study's trials there and those `planned`."""
        taken = self.taken
        same = np.isclose(taken["learning_rate"], candidate.learning_rate, rtol=1e-9)
        seeds = [*taken.loc[same & (taken["batch_size"] == candidate.batch_size), "seed"].astype(int)]
        seeds += [trial.seed for trial in planned if trial.same_point(candidate)]
        return max(seeds, default=-1) + 1
