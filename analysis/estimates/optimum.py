"""The optimum's 95% CI: the rule that places every optimum the analysis reports.

An optimum is searched over a range (the ratios a series' ok trials cover, or the learning rates scored at one batch
size). Its estimate is the median of the posterior curves' argmax, its CI the shortest interval holding 95% of them
(to the grid's resolution), open at an end that reaches the range's bound (intervals.py): the truth may lie beyond.

A smooth curve cannot turn over as fast as scores fall at a cliff, so there it places the peak too early and is sure
of it; a strongly skewed peak strains it the same way on its sharp side. `BestTried` is the evidence that needs no
curve: which tried points may have scored best, given their noise. If tried point k is truly the best, a
single-peaked curve peaks between points k-1 and k+1, whatever its shape. So on a side where the data show a sharp
fall (the range ends above at the divergence frontier, one that may follow lr/bs for the ratio optimum, or the member
tasks' data, pooled, leave the warps that stretch that side of the peak more likely than not, and more so than a
symmetric peak at the same place would: gp.py's `kinked`, task_gp.py's `skew_evidence` and `sharp_sides`), the
CI's end also reaches the tried point beyond the last that may have scored best, open when that is the range's
last tried point. Elsewhere the curve's own CI stands: widening a smooth side would spend the user's trials on width
the data do not call for.

The ratio optimum (curves.py) and the optimal learning rate at each batch size (surfaces.py, over the learning
rates tried there) both use this rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.estimates.intervals import LEVEL, Interval
from analysis.estimates.task_gp import MAX_BINS, sharp_sides


@dataclass(frozen=True)
class BestTried:
    """The tried points (sorted) and which of them may have scored best: Gupta's subset selection (1965), the set
    that holds the truly best tried point with 95% probability. Point k stays in when no other point beat it by more
    than `d` standard errors of their difference, `d` being what the largest lead of n - 1 equal rivals over the best
    would reach in 95% of cases. Counting every tried point as a rival assumes all may tie, which a peaked curve
    never has: n is the number of contenders, the points within reach of the best at the constant of all of them
    (at least two)."""

    positions: np.ndarray
    possible: np.ndarray
    """(len(positions),) bool: may have scored best."""

    @classmethod
    def of(cls, points: pd.DataFrame, shared_correlation: float = 0.0) -> BestTried:
        """From `points` (x, y, variance: each task × grid point, in one series' units), averaged per tried x over
        tasks whose noise is `shared_correlation` alike at one grid point (a trial's luck lifts all its tasks); a
        huge grid's x values are binned as the GP's are."""
        many = points["x"].nunique() > MAX_BINS[1]
        keys = pd.cut(points["x"], MAX_BINS[1], labels=False) if many else points["x"]
        grouped = points.assign(sd=np.sqrt(points["variance"])).groupby(keys)
        positions, mean = grouped["x"].mean().to_numpy(), grouped["y"].mean().to_numpy()
        own, together = grouped["variance"].sum().to_numpy(), grouped["sd"].sum().to_numpy() ** 2
        variance = (own + shared_correlation * (together - own)) / grouped.size().to_numpy() ** 2
        lead = (mean[None, :] - mean[:, None]) / np.sqrt(variance[None, :] + variance[:, None])
        contenders = (lead <= _gupta_constant(len(positions))).all(axis=1)
        return cls(positions, (lead <= _gupta_constant(max(int(contenders.sum()), 2))).all(axis=1))


def _gupta_constant(n: int) -> float:
    """d with P(max over n - 1 rivals of (Z_k - Z_best) / sqrt(2) <= d) = 95% for standard normals Z."""
    if n < 2:
        return 0.0
    z = np.linspace(-8.0, 8.0, 2001)
    density = stats.norm.pdf(z) * (z[1] - z[0])

    def coverage(d: float) -> float:
        return float(density @ stats.norm.cdf(z + d * np.sqrt(2.0)) ** (n - 1)) - LEVEL

    return float(optimize.brentq(coverage, 0.0, 10.0))


def widened_sides(skew: list[np.ndarray], at_frontier: bool) -> tuple[bool, bool]:
    """(low, high): the ends of an optimum's CI that the data show falling sharply: a side where the member tasks'
    peaks fall sharply (`skew`: each one's `TaskGP.skew_evidence` of its ratio fit, pooled by `sharp_sides`), and
    the high side where the range ends at the divergence frontier (`at_frontier`; for the ratio optimum only a
    frontier that may follow lr/bs, frontier.py's `follows_ratio`; for a batch size's learning rates, that batch
    size's own frontier)."""
    low, high = sharp_sides(skew)
    return low, at_frontier or high


def posterior_optimum(argmax: np.ndarray, grid: np.ndarray) -> Interval:
    """The optimum the posterior curves place, from their `argmax` over the evenly spaced `grid`: the median and the
    shortest interval holding 95% of them, each end half a grid step further out (a curve's own peak lies within
    half a step of its argmax on the grid), never past the grid; an end at the grid's bound is open
    (`Interval.densest_from_samples` says why the shortest, not the central 95%)."""
    bounds = (float(grid[0]), float(grid[-1]))
    curve = Interval.densest_from_samples(argmax, bounds)
    half_step = (bounds[1] - bounds[0]) / max(len(grid) - 1, 1) / 2
    return replace(curve, low=max(curve.low - half_step, bounds[0]), high=min(curve.high + half_step, bounds[1]))


def locate_optimum(
    argmax: np.ndarray,
    grid: np.ndarray,
    tried: BestTried | None = None,
    widen: tuple[bool, bool] = (False, False),
) -> Interval:
    """The optimum from the posterior curves' `argmax` samples over the evenly spaced `grid` (`posterior_optimum`);
    with `tried`, the ends `widen` names (low, high: where the data show a sharp fall) reach the tried point before
    the first, and after the last, that may have scored best."""
    curve = posterior_optimum(argmax, grid)
    if tried is None:
        return curve
    positions, (low, high) = tried.positions, widen
    first, last = np.flatnonzero(tried.possible)[[0, -1]]
    return Interval(
        curve.estimate,
        min(curve.low, positions[max(first - 1, 0)]) if low else curve.low,
        max(curve.high, positions[min(last + 1, len(positions) - 1)]) if high else curve.high,
        curve.low_open or (low and first == 0),
        curve.high_open or (high and last == len(positions) - 1),
    )
