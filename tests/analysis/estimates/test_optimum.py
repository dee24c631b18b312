"""The optimum's rule: the posterior curves' argmax gives the estimate and its CI; at a cliff (the range ends at
the divergence frontier) the high end reaches the tried point after those that may have scored best (in 95% of draws
of their noise), open where that is the last tried point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimates.intervals import Interval
from analysis.estimates.optimum import BestTried, _gupta_constant, locate_optimum
from analysis.estimates.task_gp import MAX_BINS, N_SAMPLES

BOUNDS = (-6.0, -3.0)
POSITIONS = np.array([-6.0, -5.0, -4.0, -3.0])
"""Four tried ratios spanning the bounds."""
HIGH = (False, True)
"""Widen the high end only (a cliff: the range ends at the divergence frontier)."""


def _argmax(centre: float = -4.5, spread: float = 0.1) -> np.ndarray:
    return np.clip(np.random.default_rng(0).normal(centre, spread, N_SAMPLES), *BOUNDS)


def _tried(possible: list[int]) -> BestTried:
    """Tried points of which those at `possible` may have scored best."""
    return BestTried(POSITIONS, np.isin(np.arange(len(POSITIONS)), possible))


def test_without_a_cliff_the_optimum_is_the_argmax_samples_interval() -> None:
    argmax = _argmax()
    assert locate_optimum(argmax, BOUNDS) == Interval.from_samples(argmax, BOUNDS)
    piled = np.r_[argmax[:2000], np.full(400, BOUNDS[1])]
    assert locate_optimum(piled, BOUNDS).high_open and not locate_optimum(argmax, BOUNDS).is_open


def test_at_a_cliff_the_high_end_reaches_the_point_after_the_possible_bests() -> None:
    argmax = _argmax(-4.5, 0.05)
    curve = locate_optimum(argmax, BOUNDS)
    widened = locate_optimum(argmax, BOUNDS, _tried([1, 2]), HIGH)
    assert curve.high < -4.0 and curve.low > -5.0
    assert widened == Interval(curve.estimate, curve.low, -3.0, False, False), "point 3 follows the best ones"
    one = locate_optimum(argmax, BOUNDS, _tried([1]), HIGH)
    assert (one.low, one.high, one.is_open) == (curve.low, -4.0, False), "a peak before point 2: inside the range"
    early = locate_optimum(_argmax(-5.5, 0.05), BOUNDS, _tried([2]), HIGH)
    assert early.high == -3.0 and early.low < -5.4, "the curve peaks too early: the high end moves, the low stays"


def test_a_last_tried_point_that_may_score_best_opens_the_high_end() -> None:
    argmax = _argmax(-4.5, 0.05)
    curve = locate_optimum(argmax, BOUNDS)
    always_last = locate_optimum(argmax, BOUNDS, _tried([3]), HIGH)
    assert always_last.high_open and not always_last.low_open
    assert (always_last.low, always_last.high) == (curve.low, -3.0), "the curves' low end is below point 2"
    assert always_last.estimate == curve.estimate, "the estimate stays the curves'"
    inside = locate_optimum(argmax, BOUNDS, _tried([1, 2]), HIGH)
    assert not inside.high_open, "point 3 follows the possible bests"
    first = locate_optimum(argmax, BOUNDS, _tried([0, 1]), HIGH)
    assert not first.is_open and first.low == curve.low, "the low end is the curves' alone"
    both = locate_optimum(argmax, BOUNDS, _tried([0, 1]), (True, True))
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
