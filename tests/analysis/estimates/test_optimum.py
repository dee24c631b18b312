"""The optimum's rule: the posterior curves' argmax gives the estimate and its CI (the shortest holding 95% of them,
to the grid's resolution); at a cliff (the range ends at the divergence frontier) the high end reaches the tried
point after those that may have scored best (in 95% of draws of their noise), open where that is the last tried
point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimates.intervals import Interval
from analysis.estimates.optimum import BestTried, _gupta_constant, locate_optimum, posterior_optimum
from analysis.estimates.task_gp import MAX_BINS, N_SAMPLES

BOUNDS = (-6.0, -3.0)
GRID = np.linspace(*BOUNDS, 121)
"""The curve points the posterior curves are searched over: a step of 0.025."""
POSITIONS = np.array([-6.0, -5.0, -4.0, -3.0])
"""Four tried ratios spanning the bounds."""
HIGH = (False, True)
"""Widen the high end only (a cliff: the range ends at the divergence frontier)."""


def _argmax(centre: float = -4.5, spread: float = 0.1) -> np.ndarray:
    """Posterior curves' argmax: normal about `centre`, on the grid's points."""
    draws = np.clip(np.random.default_rng(0).normal(centre, spread, N_SAMPLES), *BOUNDS)
    return GRID[np.abs(draws[:, None] - GRID[None, :]).argmin(axis=1)]


def _tried(possible: list[int]) -> BestTried:
    """Tried points of which those at `possible` may have scored best."""
    return BestTried(POSITIONS, np.isin(np.arange(len(POSITIONS)), possible))


def test_without_a_cliff_the_optimum_is_the_posterior_optimum() -> None:
    argmax = _argmax()
    assert locate_optimum(argmax, GRID) == posterior_optimum(argmax, GRID)
    piled = np.r_[argmax[:2000], np.full(400, BOUNDS[1])]
    assert locate_optimum(piled, GRID).high_open and not locate_optimum(argmax, GRID).is_open


def test_the_posterior_optimum_leaves_out_a_thin_tail_and_keeps_the_grid_resolution() -> None:
    """A skewed peak's draws trail off along its gentle side: the shortest interval holding 95% of them leaves the
    tail out, where the central 95% reaches into it; each end lies half a grid step past the argmax it stops at."""
    peak = _argmax(-4.5, 0.05)[:2280]
    tail = GRID[(GRID > -4.3) & (GRID < -3.3)]
    argmax = np.r_[peak, np.resize(tail, N_SAMPLES - len(peak))]
    shortest, central = posterior_optimum(argmax, GRID), Interval.from_samples(argmax, BOUNDS)
    assert shortest.high < -4.3 < central.high, "5% of draws in the tail: the central 95% reaches into it"
    assert shortest.low == pytest.approx(peak.min() - 0.0125) and shortest.estimate == central.estimate
    one_point = posterior_optimum(np.full(100, -4.5), GRID)
    assert (one_point.low, one_point.high) == pytest.approx((-4.5125, -4.4875)), "half a step either side"
    at_bound = posterior_optimum(np.full(100, BOUNDS[0]), GRID)
    assert at_bound.low == BOUNDS[0] and at_bound.low_open and not at_bound.high_open, "never past the grid"


def test_at_a_cliff_the_high_end_reaches_the_point_after_the_possible_bests() -> None:
    argmax = _argmax(-4.5, 0.05)
    curve = locate_optimum(argmax, GRID)
    widened = locate_optimum(argmax, GRID, _tried([1, 2]), HIGH)
    assert curve.high < -4.0 and curve.low > -5.0
    assert widened == Interval(curve.estimate, curve.low, -3.0, False, False), "point 3 follows the best ones"
    one = locate_optimum(argmax, GRID, _tried([1]), HIGH)
    assert (one.low, one.high, one.is_open) == (curve.low, -4.0, False), "a peak before point 2: inside the range"
    early = locate_optimum(_argmax(-5.5, 0.05), GRID, _tried([2]), HIGH)
    assert early.high == -3.0 and early.low < -5.4, "the curve peaks too early: the high end moves, the low stays"


def test_a_last_tried_point_that_may_score_best_opens_the_high_end() -> None:
    argmax = _argmax(-4.5, 0.05)
    curve = locate_optimum(argmax, GRID)
    always_last = locate_optimum(argmax, GRID, _tried([3]), HIGH)
    assert always_last.high_open and not always_last.low_open
    assert (always_last.low, always_last.high) == (curve.low, -3.0), "the curves' low end is below point 2"
    assert always_last.estimate == curve.estimate, "the estimate stays the curves'"
    inside = locate_optimum(argmax, GRID, _tried([1, 2]), HIGH)
    assert not inside.high_open, "point 3 follows the possible bests"
    first = locate_optimum(argmax, GRID, _tried([0, 1]), HIGH)
    assert not first.is_open and first.low == curve.low, "the low end is the curves' alone"
    both = locate_optimum(argmax, GRID, _tried([0, 1]), (True, True))
    assert both.low_open and both.low == -6.0 and both.high == -4.0, "a sharp low side: from the first tried point"


def test_best_tried_averages_tasks_per_ratio_and_keeps_those_within_reach_of_the_best() -> None:
    points = pd.DataFrame({"x": [-6.0, -5.0, -4.0, -3.0] * 2, "y": [0.0, 1.0, 0.5, 0.2, 0.0, 0.4, 0.5, 0.2]})
    sure = BestTried.of(points.sample(frac=1.0, random_state=0).assign(variance=1e-6))
    np.testing.assert_array_equal(sure.positions, POSITIONS)
    assert sure.possible.tolist() == [False, True, False, False], "mean 0.7 at -5 beats 0.5 at -4"
    tie = BestTried.of(points.assign(y=[0.0, 0.5, 0.5, 0.0] * 2, variance=0.001))
    assert tie.possible.tolist() == [False, True, True, False]


def test_a_rival_within_the_subset_selection_reach_stays_possible() -> None:
    """Gupta's constant for n equal rivals, checked by simulation; a lead of less than that many standard errors of
    the difference keeps a point, n being the contenders (the points within reach at the constant of all)."""
    rng = np.random.default_rng(0)
    draws = rng.standard_normal((200_000, 4))
    simulated = np.quantile((draws[:, 1:] - draws[:, :1]).max(axis=1) / np.sqrt(2), 0.95)
    assert _gupta_constant(4) == pytest.approx(simulated, abs=0.02)
    assert _gupta_constant(2) == pytest.approx(1.645, abs=0.01), "one rival: the one-sided 95% normal quantile"
    lead = 0.95 * _gupta_constant(2) * np.sqrt(2 * 0.01)
    points = pd.DataFrame({"x": [-6.0, -5.0, -4.0, -3.0], "y": [0.0, 1.0, 1.0 - lead, 0.0], "variance": 0.01})
    assert BestTried.of(points).possible.tolist() == [False, True, True, False]
    further = points.assign(y=[0.0, 1.0, 1.0 - 1.1 * lead, 0.0])
    assert BestTried.of(further).possible.tolist() == [False, True, False, False], "two contenders: d for two"
    together = BestTried.of(pd.concat([points.assign(task="a"), points.assign(task="b")]), shared_correlation=0.9)
    apart = BestTried.of(pd.concat([points.assign(task="a"), points.assign(task="b")]))
    assert together.possible.tolist() == [False, True, True, False], "shared noise does not average out"
    assert apart.possible.tolist() == [False, True, False, False], "two tasks' own noise halves the variance"


def test_best_tried_bins_a_huge_grid_as_the_gp_does() -> None:
    x = np.linspace(-6.0, -3.0, 3 * MAX_BINS[1])
    points = pd.DataFrame({"x": x, "y": -((x + 4.5) ** 2), "variance": 1e-6})
    tried = BestTried.of(points)
    assert len(tried.positions) == MAX_BINS[1] and np.all(np.diff(tried.positions) > 0)
    assert tried.positions[tried.possible] == pytest.approx(-4.5, abs=0.06)
