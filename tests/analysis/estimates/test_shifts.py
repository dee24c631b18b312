"""Shifts between conditions (the posterior draws' differences, widened as the optima are; open ends carried) and the
optimum's line over model sizes (weighted by each optimum's CI, scaled up when the optima scatter more than that,
wider as it extrapolates)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.estimates.curves import CurveFit
from analysis.estimates.intervals import Interval
from analysis.estimates.optimum import posterior_optimum
from analysis.estimates.shifts import ConditionFit, Z, shift, size_law_tables, size_laws


def _condition(label: str, parameters: float, **optima: Interval) -> ConditionFit:
    fits = [CurveFit("category", name, "gp", 35, optimum=optimum) for name, optimum in optima.items()]
    return ConditionFit(label, parameters, fits, [])


GRID = np.linspace(-7.0, -2.0, 121)


def _optimum_fit(
    draws: np.ndarray, frontier_high: float = 0.0, skew_low: float = 0.0, skew_high: float = 0.0, **open_ends: bool
) -> CurveFit:
    """A category fit whose posterior curves peak at `draws` (snapped to GRID), its CI the draws' own
    (`posterior_optimum`) with its high end moved `frontier_high` further out at the frontier; the optimum's own CI
    also moved `skew_low` lower and `skew_high` higher, as the skew evidence widens it."""
    columns = np.abs(GRID[None, :] - draws[:, None]).argmin(axis=1)
    samples = np.zeros((len(draws), len(GRID)))
    samples[np.arange(len(draws)), columns] = 1.0
    posterior = posterior_optimum(GRID[columns], GRID)
    at_frontier = replace(posterior, high=posterior.high + frontier_high, **open_ends)
    return CurveFit(
        "category",
        "c",
        "gp",
        35,
        (GRID[0], GRID[-1]),
        optimum=replace(at_frontier, low=at_frontier.low - skew_low, high=at_frontier.high + skew_high),
        curve=pd.DataFrame({"x": GRID}),
        samples=samples,
        frontier_optimum=at_frontier,
    )


def test_a_shift_without_a_frontier_is_the_central_95_of_its_draws_differences() -> None:
    rng = np.random.default_rng(0)
    a, b = _optimum_fit(rng.normal(-5.0, 0.1, 800)), _optimum_fit(rng.normal(-4.0, 0.15, 800))
    moved = shift(a, b)
    assert moved.estimate == pytest.approx(b.optimum.estimate - a.optimum.estimate)
    differences = np.subtract.outer(b.argmax_samples(), a.argmax_samples()).ravel()
    assert [moved.low, moved.high] == pytest.approx(np.quantile(differences, [0.025, 0.975], method="inverted_cdf"))
    assert moved.high - moved.low == pytest.approx(2 * Z * np.hypot(0.1, 0.15), rel=0.15)
    assert not moved.is_open
    assert shift(a, a).contains(0.0)


def test_analyses_seeded_alike_still_give_the_shift_the_width_of_independent_optima() -> None:
    """Each condition's analysis draws from the same seed, so draw i of one is draw i of the other moved: pairing
    them by index would leave no width at all."""
    draws = np.random.default_rng(2).normal(-5.0, 0.1, 800)
    moved = shift(_optimum_fit(draws), _optimum_fit(draws + 1.0))
    assert moved.high - moved.low == pytest.approx(2 * Z * np.hypot(0.1, 0.1), rel=0.15)


def test_the_frontier_widens_the_side_of_the_shift_its_end_pushes_and_a_skewed_side_does_not() -> None:
    rng = np.random.default_rng(3)
    a_draws, b_draws = rng.normal(-5.0, 0.1, 800), rng.normal(-4.0, 0.1, 800)
    plain = shift(_optimum_fit(a_draws), _optimum_fit(b_draws))
    b = _optimum_fit(b_draws, frontier_high=0.5)
    up = shift(_optimum_fit(a_draws), b)
    posterior_half = b.optimum.high - b.optimum.estimate - 0.5
    added = (posterior_half + 0.5) ** 2 - posterior_half**2
    assert up.high - up.estimate == pytest.approx(np.sqrt((plain.high - plain.estimate) ** 2 + added))
    assert up.low == pytest.approx(plain.low)  # b's high end pushes the shift up only
    down = shift(_optimum_fit(a_draws, frontier_high=0.5), _optimum_fit(b_draws))
    assert down.estimate - down.low > plain.estimate - plain.low and down.high == pytest.approx(plain.high)
    skewed = shift(_optimum_fit(a_draws), _optimum_fit(b_draws, skew_low=0.5))
    assert [skewed.low, skewed.high] == pytest.approx([plain.low, plain.high])


def test_skews_that_widen_the_two_optima_on_opposite_sides_widen_the_side_of_the_shift_they_push() -> None:
    """a falls sharply above its optimum and b below: each leans toward its gentle side, a's down and b's up, so the
    shift b − a is too large and its low side takes both skew widenings. Skews one way cancel; one alone stands."""
    rng = np.random.default_rng(5)
    a_draws, b_draws = rng.normal(-5.0, 0.1, 800), rng.normal(-4.0, 0.1, 800)
    plain = shift(_optimum_fit(a_draws), _optimum_fit(b_draws))
    a, b = _optimum_fit(a_draws, skew_high=0.4), _optimum_fit(b_draws, skew_low=0.3)
    opposed = shift(a, b)
    a_half = a.frontier_optimum.high - a.optimum.estimate  # the posterior's half-widths on the widened sides
    b_half = b.optimum.estimate - b.frontier_optimum.low
    added = (a_half + 0.4) ** 2 - a_half**2 + (b_half + 0.3) ** 2 - b_half**2
    assert opposed.estimate - opposed.low == pytest.approx(np.sqrt((plain.estimate - plain.low) ** 2 + added))
    assert opposed.high == pytest.approx(plain.high)
    apart = shift(_optimum_fit(a_draws, skew_low=0.4), _optimum_fit(b_draws, skew_high=0.3))
    assert apart.high - apart.estimate > plain.high - plain.estimate and apart.low == pytest.approx(plain.low)
    for one_way in [
        (a, _optimum_fit(b_draws, skew_high=0.3)),
        (_optimum_fit(a_draws, skew_low=0.4), b),
        (a, _optimum_fit(b_draws)),
    ]:
        moved = shift(*one_way)
        assert [moved.low, moved.high] == pytest.approx([plain.low, plain.high])


def test_an_open_end_opens_the_side_of_the_shift_it_bounds_and_a_missing_ci_gives_none() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(-5.0, 0.1, 400), rng.normal(-3.0, 0.1, 400)
    b_open_high = shift(_optimum_fit(a), _optimum_fit(b, high_open=True))
    assert b_open_high.high_open and not b_open_high.low_open
    a_open_low = shift(_optimum_fit(a, low_open=True), _optimum_fit(b))
    assert a_open_low.high_open and not a_open_low.low_open
    direction = CurveFit("category", "c", "two_ratios", 4, optimum=Interval(-5.0, np.nan, np.nan))
    no_curve = shift(direction, _optimum_fit(b))
    assert np.isnan(no_curve.low) and np.isnan(no_curve.high)
    assert no_curve.estimate == pytest.approx(_optimum_fit(b).optimum.estimate + 5.0)  # the direction's ratio


def test_the_size_law_recovers_a_planted_line_and_its_error() -> None:
    sizes, slope, intercept, half = [1.35e8, 3.6e8, 1.7e9], -0.6, 0.5, 0.3
    conditions = [
        _condition(f"{size:g}", size, reasoning=Interval(y, y - half, y + half))
        for size in sizes
        for y in [intercept + slope * np.log10(size)]
    ]
    (law,) = size_laws(conditions)
    assert law.slope == pytest.approx(slope) and law.intercept == pytest.approx(intercept)
    assert law.scale_factor == 1.0
    sd = half / Z
    x = np.log10(sizes)
    expected_se = sd / np.sqrt(np.sum((x - x.mean()) ** 2))  # equal weights: the textbook slope error
    assert np.sqrt(law.covariance[1, 1]) == pytest.approx(expected_se)
    inside, inside_extrapolated = law.predict(3.6e8)
    beyond, beyond_extrapolated = law.predict(7e9)
    assert not inside_extrapolated and beyond_extrapolated
    assert beyond.high - beyond.low > inside.high - inside.low
    assert beyond.estimate == pytest.approx(intercept + slope * np.log10(7e9))
    laws, predictions = size_law_tables([law], [7e9])
    assert laws.loc[0, "slope_ci_low"] < slope < laws.loc[0, "slope_ci_high"]
    assert bool(predictions.loc[0, "extrapolation"])


def test_optima_that_scatter_beyond_their_errors_widen_the_slope() -> None:
    ys = [-5.0, -4.0, -5.2]
    conditions = [
        _condition(f"{size:g}", size, reasoning=Interval(y, y - 0.1, y + 0.1))
        for size, y in zip([1e8, 1e9, 1e10], ys, strict=True)
    ]
    (law,) = size_laws(conditions)
    assert law.scale_factor > 3


def test_no_line_through_two_sizes_nor_through_open_optima() -> None:
    two = [_condition(str(size), size, reasoning=Interval(-5.0, -5.2, -4.8)) for size in (1e8, 1e9)]
    assert size_laws(two) == []
    three = [*two, _condition("1e10", 1e10, reasoning=Interval(-4.0, -4.2, -3.8, high_open=True))]
    assert size_laws(three) == []  # two closed optima left: no line
    unrecorded = [_condition(str(index), np.nan, reasoning=Interval(-5.0, -5.2, -4.8)) for index in range(3)]
    assert size_laws(unrecorded) == []
