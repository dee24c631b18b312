"""What a study allows a follow-up: its batch sizes, learning rates inside the study's (3 significant digits),
points no divergence predicts to diverge, the next seed of a point already trained, the cheapest batch size for a
ratio."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.design.study import Candidate, PlannedTrial, Point, Study
from tests.analysis.design.helpers import planted_study

FRONTIER = np.log10(10**-2.5 / 8)
"""The lowest ratio that diverged in the study below: lr 3.16e-3 at batch size 8 (log10 -3.40)."""


@pytest.fixture(scope="module")
def diverged_study() -> Study:
    """Ratios above 10**-3.45 diverged (two trials at batch size 8); one trial costs 100 / batch size seconds."""
    return Study(planted_study(diverge_above=10**-3.45), [8, 16, 32], lambda size: 100 / size)


def test_a_point_knows_its_ratio_and_its_twins() -> None:
    point = Point(1e-3, 8)
    assert point.log10_ratio == pytest.approx(np.log10(1e-3 / 8))
    assert point.same_point(Candidate(1e-3 * (1 + 1e-12), 8, 5.0))
    assert point.same_point(PlannedTrial(1e-3, 8, 3, "another seed", 5.0))
    assert not point.same_point(Point(1e-3, 16)) and not point.same_point(Point(1.001e-3, 8))


def test_the_study_holds_its_learning_rates_and_frontier(diverged_study: Study) -> None:
    assert diverged_study.learning_rates == pytest.approx((1e-4, 1e-2))
    assert diverged_study.divergence.lowest_log10_ratio() == pytest.approx(FRONTIER)
    assert len(diverged_study.taken) == 10 and set(diverged_study.taken["status"]) == {"ok", "diverged"}


def test_a_candidate_is_rounded_and_refused_at_a_batch_size_not_allowed_outside_the_rates_or_past_the_frontier(
    diverged_study: Study,
) -> None:
    rates = diverged_study.learning_rates
    assert diverged_study.candidate(1.23456e-3, 16, rates) == Candidate(1.23e-3, 16, 100 / 16)
    assert diverged_study.candidate(1e-3, 64, rates) is None, "64 is not a batch size the follow-up may use"
    assert diverged_study.candidate(2e-2, 32, rates) is None and diverged_study.candidate(5e-5, 8, rates) is None
    assert diverged_study.candidate(3.17e-3, 8, rates) is None, (
        "just above the lowest ratio that diverged (lr 3.162e-3 at 8)"
    )
    assert diverged_study.candidate(4e-3, 8, rates) is None and diverged_study.candidate(1e-2, 16, rates) is None
    assert diverged_study.candidate(3.1e-3, 8, rates) == Candidate(3.1e-3, 8, 12.5), "just below it"
    assert diverged_study.candidate(5e-5, 32, (1e-5, 1e-2)) == Candidate(5e-5, 32, 100 / 32), "a wider range lets it in"


def test_trained_points_are_the_ok_ones_at_allowed_batch_sizes(diverged_study: Study) -> None:
    trained = diverged_study.trained()
    assert len(trained) == 8, "10 trials, 2 diverged"
    assert all(point.log10_ratio < FRONTIER for point in trained)
    only_small = Study(planted_study(diverge_above=10**-3.45), [8], lambda size: 1.0).trained()
    assert sorted(point.learning_rate for point in only_small) == pytest.approx([1e-4, 10**-3.5, 1e-3])


def test_the_next_seed_follows_the_study_and_the_planned_trials(diverged_study: Study) -> None:
    trained = Candidate(1e-4, 8, 12.5)
    assert diverged_study.next_seed(trained, []) == 1
    planned = [PlannedTrial(1e-4, 8, 1, "another seed", 12.5), PlannedTrial(1e-4, 32, 1, "another seed", 3.1)]
    assert diverged_study.next_seed(trained, planned) == 2
    assert diverged_study.next_seed(Candidate(2e-4, 8, 12.5), planned) == 0


def test_the_cheapest_batch_size_trains_a_ratio(diverged_study: Study) -> None:
    rates = diverged_study.learning_rates
    cheapest = diverged_study.cheapest(-4.5, rates)
    assert (cheapest.batch_size, cheapest.learning_rate) == (32, pytest.approx(1.01e-3))
    assert diverged_study.cheapest(-3.45, rates).batch_size == 16, "at 32 it would take lr 1.1e-2, past the study's"
    assert diverged_study.cheapest(-6.5, rates) is None and diverged_study.cheapest(-3.0, rates) is None


def test_a_rate_rounded_just_below_a_diverged_one_is_that_run_and_refused(diverged_study: Study) -> None:
    """lr 10**-2.5 = 3.1623e-3 diverged at batch size 8; rounded to 3 digits, 3.1623e-3 * (1 - 1e-4) is 3.16e-3, the
    same run, which a ratio test of the rounded rate let through."""
    assert diverged_study.candidate(10**-2.5 * (1 - 1e-4), 8, diverged_study.learning_rates) is None


def test_a_divergence_that_follows_the_learning_rate_leaves_higher_ratios_open_at_lower_rates() -> None:
    """Every learning rate above 5e-3 diverged, at every batch size: the lowest diverged ratio is 1e-2/32, yet a
    lower learning rate at a smaller batch size trains ratios above it (the grid's own 3.16e-3 at 8 did)."""
    table = planted_study()
    diverged = table["learning_rate"] > 5e-3
    table = table.assign(status=table["status"].where(~diverged, "diverged"), score=table["score"].where(~diverged))
    study = Study(table, [8, 16, 32], lambda size: 100 / size)
    assert study.divergence.lowest_log10_ratio() == pytest.approx(np.log10(1e-2 / 32))
    above = study.candidate(3e-3, 8, study.learning_rates)
    assert above is not None and above.log10_ratio > np.log10(1e-2 / 32)
    assert study.candidate(1e-2, 16, study.learning_rates) is None, "the rate that diverged, at a higher ratio"
