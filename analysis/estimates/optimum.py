"""The optimum's 95% CI: the rule that places every optimum the analysis reports.

An optimum is searched over a range (the ratios a series' ok trials cover, or the learning rates scored at one batch
size). Its estimate is the median of the posterior curves' argmax, its CI their central 95%, open at an end that
reaches the range's bound (intervals.py): the truth may lie beyond.

A smooth curve cannot turn over as fast as scores fall at a cliff, so there it places the peak too early and is sure
of it. `BestTried` is the evidence that needs no curve: in each of N_SAMPLES draws of the tried points' mean scores
from their noise alone, which one scored best. If tried point k scored best, a single-peaked curve peaks between
points k-1 and k+1, whatever its shape; so the CI also spans the tried points next to those that may have scored
best (in 95% of the draws), and an end at the first or last tried point is open.

The ratio optimum (curves.py) and the optimal learning rate at each batch size (surfaces.py, over the learning
rates tried there) both use both parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.estimates.intervals import TAILS, Interval
from analysis.estimates.task_gp import MAX_BINS, N_SAMPLES


@dataclass(frozen=True)
class BestTried:
    """The tried points (sorted) and, per draw of their mean scores from their noise, the index of the best."""

    positions: np.ndarray
    best: np.ndarray

    @classmethod
    def draw(cls, points: pd.DataFrame, rng: np.random.Generator) -> BestTried:
        """From `points` (x, y, variance: each task × grid point, in one series' units), averaged per tried x over
        tasks; a huge grid's x values are binned as the GP's are."""
        many = points["x"].nunique() > MAX_BINS[1]
        keys = pd.cut(points["x"], MAX_BINS[1], labels=False) if many else points["x"]
        grouped = points.groupby(keys)
        positions, mean = grouped["x"].mean().to_numpy(), grouped["y"].mean().to_numpy()
        spread = np.sqrt(grouped["variance"].sum().to_numpy()) / grouped.size().to_numpy()
        draws = mean + spread * rng.standard_normal((N_SAMPLES, len(positions)))
        return cls(positions, np.argmax(draws, axis=1))


def locate_optimum(argmax: np.ndarray, bounds: tuple[float, float], tried: BestTried | None = None) -> Interval:
    """The optimum from the posterior curves' `argmax` samples, which cannot leave `bounds`: their median and central
    95%, widened to the tried points next to those that scored best in 95% of draws when `tried` is given."""
    curve = Interval.from_samples(argmax, bounds)
    if tried is None:
        return curve
    positions = tried.positions
    first, last = np.quantile(tried.best, [TAILS[0], TAILS[2]], method="inverted_cdf")
    return Interval(
        curve.estimate,
        min(curve.low, positions[max(first - 1, 0)]),
        max(curve.high, positions[min(last + 1, len(positions) - 1)]),
        curve.low_open or first == 0,
        curve.high_open or last == len(positions) - 1,
    )
