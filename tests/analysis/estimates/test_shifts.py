"""Shifts between conditions (MOVER from the two optima's CIs, open ends carried) and the optimum's line over model
sizes (weighted by each optimum's CI, scaled up when the optima scatter more than that, wider as it extrapolates)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.estimates.curves import CurveFit
from analysis.estimates.intervals import Interval
from analysis.estimates.shifts import ConditionFit, Z, shift, size_law_tables, size_laws


def _condition(label: str, parameters: float, **optima: Interval) -> ConditionFit:
    fits = [CurveFit("category", name, "gp", 35, optimum=optimum) for name, optimum in optima.items()]
    return ConditionFit(label, parameters, fits, [])


def test_a_shift_combines_the_half_widths_that_push_it_each_way() -> None:
    a, b = Interval(-5.0, -5.3, -4.9), Interval(-4.0, -4.2, -3.4)
    moved = shift(a, b)
    assert moved.estimate == pytest.approx(1.0)
    assert moved.low == pytest.approx(1.0 - np.hypot(0.2, 0.1))  # b's lower half-width, a's upper
    assert moved.high == pytest.approx(1.0 + np.hypot(0.6, 0.3))  # b's upper half-width, a's lower
    assert not moved.is_open
    assert shift(a, a).contains(0.0)


def test_an_open_end_opens_the_side_of_the_shift_it_bounds_and_a_missing_ci_gives_none() -> None:
    b_open_high = shift(Interval(-5.0, -5.3, -4.9), Interval(-3.0, -3.2, -2.6, high_open=True))
    assert b_open_high.high_open and not b_open_high.low_open
    a_open_low = shift(Interval(-6.5, -6.8, -6.3, low_open=True), Interval(-4.0, -4.2, -3.8))
    assert a_open_low.high_open and not a_open_low.low_open
    assert np.isnan(shift(Interval(-5.0, np.nan, np.nan), Interval(-4.0, -4.2, -3.8)).low)


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
