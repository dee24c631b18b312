"""The optimum's rule: the posterior curves' argmax gives the estimate and its CI, widened to the tried points next
to those that may have scored best (in 95% of draws of their noise), and open where those reach the first or last
tried point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimates.intervals import Interval
from analysis.estimates.optimum import BestTried, locate_optimum
from analysis.estimates.task_gp import MAX_BINS, N_SAMPLES

BOUNDS = (-6.0, -3.0)
POSITIONS = np.array([-6.0, -5.0, -4.0, -3.0])
"""Four tried ratios spanning the bounds."""


def _argmax(centre: float = -4.5, spread: float = 0.1) -> np.ndarray:
    return np.clip(np.random.default_rng(0).normal(centre, spread, N_SAMPLES), *BOUNDS)


def _tried(best: dict[int, float]) -> BestTried:
    """Tried points that scored best at each index in the given share of draws."""
    counts = [round(share * N_SAMPLES) for share in best.values()]
    return BestTried(POSITIONS, np.repeat(list(best), counts))


def test_without_tried_points_the_optimum_is_the_argmax_samples_interval() -> None:
    argmax = _argmax()
    assert locate_optimum(argmax, BOUNDS) == Interval.from_samples(argmax, BOUNDS)
    piled = np.r_[argmax[:2000], np.full(400, BOUNDS[1])]
    assert locate_optimum(piled, BOUNDS).high_open and not locate_optimum(argmax, BOUNDS).is_open


def test_a_tried_best_widens_the_ci_to_its_neighbours() -> None:
    argmax = _argmax(-4.5, 0.05)
    curve = locate_optimum(argmax, BOUNDS)
    widened = locate_optimum(argmax, BOUNDS, _tried({1: 0.5, 2: 0.5}))
    assert curve.high < -4.0 and curve.low > -5.0
    assert widened == Interval(curve.estimate, -6.0, -3.0, False, False), "points 0 and 3 flank the best ones"
    one = locate_optimum(argmax, BOUNDS, _tried({1: 1.0}))
    assert (one.low, one.high, one.is_open) == (-6.0, -4.0, False), "a peak between points 0 and 2: inside the range"


def test_a_last_tried_point_that_may_score_best_opens_the_high_end() -> None:
    argmax = _argmax(-4.5, 0.05)
    curve = locate_optimum(argmax, BOUNDS)
    always_last = locate_optimum(argmax, BOUNDS, _tried({3: 1.0}))
    assert always_last.high_open and not always_last.low_open
    assert (always_last.low, always_last.high) == (curve.low, -3.0), "the curves' low end is below point 2"
    assert always_last.estimate == curve.estimate, "the estimate stays the curves'"
    rarely = locate_optimum(argmax, BOUNDS, _tried({2: 0.99, 3: 0.01}))
    assert not rarely.high_open, "best in 1% of draws is outside the 95%"
    sometimes = locate_optimum(argmax, BOUNDS, _tried({2: 0.9, 3: 0.1}))
    assert sometimes.high_open
    first = locate_optimum(argmax, BOUNDS, _tried({0: 0.1, 1: 0.9}))
    assert first.low_open and first.low == -6.0 and not first.high_open


def test_best_tried_averages_tasks_per_ratio_and_draws_the_best_from_their_noise() -> None:
    points = pd.DataFrame(
        {
            "x": [-6.0, -5.0, -4.0, -3.0] * 2,
            "y": [0.0, 1.0, 0.5, 0.2, 0.0, 0.4, 0.5, 0.2],
            "variance": 1e-6,
        }
    )
    sure = BestTried.draw(points.sample(frac=1.0, random_state=0), np.random.default_rng(0))
    np.testing.assert_array_equal(sure.positions, POSITIONS)
    assert sure.best.shape == (N_SAMPLES,) and (sure.best == 1).all(), "mean 0.7 at -5 beats 0.5 at -4"
    tie = BestTried.draw(points.assign(y=[0.0, 0.5, 0.5, 0.0] * 2, variance=0.01), np.random.default_rng(0))
    assert set(np.unique(tie.best)) == {1, 2} and abs(np.mean(tie.best == 1) - 0.5) < 0.05


def test_best_tried_bins_a_huge_grid_as_the_gp_does() -> None:
    x = np.linspace(-6.0, -3.0, 3 * MAX_BINS[1])
    points = pd.DataFrame({"x": x, "y": -((x + 4.5) ** 2), "variance": 1e-6})
    tried = BestTried.draw(points, np.random.default_rng(0))
    assert len(tried.positions) == MAX_BINS[1] and np.all(np.diff(tried.positions) > 0)
    assert tried.positions[np.bincount(tried.best).argmax()] == pytest.approx(-4.5, abs=0.06)
