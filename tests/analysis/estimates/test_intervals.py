"""Intervals that say when they are open: an end at the range's bound is open, reads as "≥"/"≤", and stays open
through a map to other units."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.estimates.intervals import Interval


def test_an_interval_that_reaches_its_bound_is_open_and_reads_so() -> None:
    inside = Interval.from_samples(np.linspace(0.2, 0.8, 101), (0.0, 1.0))
    assert not inside.is_open and inside.describe(str).startswith("= 0.5 [95% CI")
    piled = Interval.from_samples(np.r_[np.linspace(0.3, 0.9, 90), np.ones(10)], (0.0, 1.0))
    assert piled.high_open and not piled.low_open and piled.high == 1.0
    assert piled.describe(lambda v: f"{v:.2f}", high_edge="the divergence frontier").startswith(
        f"≥ {piled.low:.2f} (95% CI reaches the divergence frontier, 1.00)"
    )
    assert piled.contains(5.0) and not piled.contains(0.0)
    assert piled.as_columns("best")["ci_high_open"]


def test_open_ends_survive_a_map_and_read_in_short_form() -> None:
    samples = np.r_[np.full(10, -6.0), np.linspace(-5.8, -5.0, 90)]
    interval = Interval.from_samples(samples, (-6.0, -2.0))
    assert interval.low_open and not interval.high_open and interval.low == -6.0
    mapped = interval.mapped(lambda value: 10**value)
    assert (mapped.low_open, mapped.high_open) == (True, False)
    assert np.isclose(mapped.low, 1e-6) and np.isclose(mapped.estimate, 10**interval.estimate)
    assert interval.compact(lambda v: f"{v:.1f}") == f"≤ {interval.high:.1f}"
    both = Interval(-4.0, -6.0, -2.0, True, True)
    assert both.compact(lambda v: f"{v:.1f}") == "anywhere in [-6.0, -2.0]"
    assert both.describe(lambda v: f"{v:.1f}").startswith("not located")
    assert Interval(-4.0, -4.5, -3.5).compact(lambda v: f"{v:.1f}") == "-4.0 [-4.5, -3.5]"
    assert not Interval.from_samples(np.full(5, np.nan), (0.0, 1.0)).contains(0.5), "no samples: nothing located"


def test_the_densest_interval_is_the_shortest_holding_95_percent() -> None:
    samples = np.r_[np.linspace(0.4, 0.5, 950), np.linspace(0.5, 1.0, 50)]
    densest, central = Interval.densest_from_samples(samples, (0.0, 1.0)), Interval.from_samples(samples, (0.0, 1.0))
    assert (densest.low, densest.high) == pytest.approx((0.4, 0.5), abs=1e-3) and densest.estimate == central.estimate
    assert central.high > 0.5, "the central 95% reaches into the thin tail"
    piled = Interval.densest_from_samples(np.r_[np.linspace(0.3, 0.9, 90), np.ones(10)], (0.0, 1.0))
    assert piled.high_open and piled.high == 1.0, "mass piled at a bound keeps that end open"
    rising = np.r_[np.linspace(0.0, 0.9, 40), np.linspace(0.9, 0.99, 940), np.ones(20)]
    beyond = Interval.densest_from_samples(rising, (0.0, 1.0))
    assert not beyond.high_open and beyond.high < 1.0, "2% at the bound stand for all past it: left out, though dense"
    ties = Interval.densest_from_samples(np.repeat([0.1, 0.2, 0.3, 0.4, 0.5], 20), (0.0, 1.0))
    assert (ties.low, ties.high) == (0.1, 0.5), "equally short: the one centred nearest the median"
