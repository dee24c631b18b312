"""The ratio question: each category's optimum (and each pair's difference), where a follow-up may narrow them
(`wanted`), and the truth a fantasy study scores its trials on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.design.ratio_question import RatioQuestion
from analysis.design.study import PlannedTrial, Study
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.design.helpers import BATCH_SIZES, LEARNING_RATES


def test_a_gap_between_tried_ratios_a_little_wider_than_the_spacing_gets_a_new_ratio() -> None:
    """Tried ratios 0.24 decades apart inside the CI, new ones wanted at most 0.2 apart: one new ratio fits half way
    (a lattice every 0.2 decades from the lowest ratio puts its points there too near a tried one)."""
    ratios = [-4.903, -4.66, -4.42, -4.103, -3.803]
    truth = {"arc": PlantedTask("reasoning", best_z=-4.5, n_items=1000)}
    table = load_results(planted_table(truth, [10 ** (x + np.log10(8)) for x in ratios], [8], (0,), np.inf, 0))
    question = RatioQuestion(table, ["reasoning"], contrasts=False, target_width=0.5, seed=0)
    optimum = question.fits["reasoning"].optimum
    assert optimum.low < ratios[1] and ratios[2] < optimum.high and not question.now["reasoning optimum"].settled
    new = [
        np.log10(one.candidate.learning_rate / one.candidate.batch_size)
        for one in question.wanted(Study(table, [8, 16, 32], lambda size: 1.0))
        if "another seed" not in one.reason
    ]
    assert [x for x in new if ratios[1] < x < ratios[2]] == pytest.approx([-4.54], abs=0.005)


def test_a_pair_of_categories_asks_for_their_difference_within_a_wider_limit() -> None:
    truth = {
        "arc": PlantedTask("reasoning", best_z=-4.3, n_items=1000),
        "hellaswag": PlantedTask("pattern", best_z=-4.8, n_items=1000),
    }
    table = load_results(planted_table(truth, LEARNING_RATES, BATCH_SIZES, random_state=0))
    question = RatioQuestion(table, ["pattern", "reasoning"], contrasts=True, target_width=0.5, seed=0)
    assert question.names == ["pattern optimum", "reasoning optimum", "pattern - reasoning"]
    assert question.limits["pattern - reasoning"] == pytest.approx(np.sqrt(2) * 0.5)
    assert question.unfitted() == [] and set(question.now) == set(question.names)
    trials = [PlannedTrial(lr, 8, 1, "inside its CI", 1.0) for lr in (1e-4, 3e-4, 1e-3)]
    curve = 2.0 * question.grid
    np.testing.assert_allclose(question.truth_at(curve, trials), 2.0 * np.log10([1e-4 / 8, 3e-4 / 8, 1e-3 / 8]))


def test_posterior_sampling_puts_each_trial_where_a_draw_of_an_unsettled_optimum_peaks(study: pd.DataFrame) -> None:
    """Each sampled trial lies at a posterior draw's argmax ratio (to the 3 significant digits of its learning rate),
    the batch sizes taken in turn; a trial at a trained point takes its next seed; a settled optimum gets none."""
    question = RatioQuestion(study, ["reasoning"], contrasts=False, target_width=0.3, seed=0)
    plan = Study(study, [8, 16, 32], lambda size: 1.0)
    trials = question.sampled(plan, 6, np.random.default_rng(0))
    assert len(trials) == 6 and all(t.reason == "reasoning optimum: a posterior draw peaks here" for t in trials)
    peaks = question.fits["reasoning"].argmax_samples()
    assert all(np.abs(peaks - trial.log10_ratio).min() < 0.003 for trial in trials)
    assert len({trial.batch_size for trial in trials}) > 1, "a ratio's trials spread over batch sizes"
    for number, trial in enumerate(trials):
        same = np.isclose(study["learning_rate"], trial.learning_rate) & (study["batch_size"] == trial.batch_size)
        before = sum(one.same_point(trial) for one in trials[:number])
        assert trial.seed == int(same.sum()) + before, "the point's next seed"
    settled = RatioQuestion(study, ["reasoning"], contrasts=False, target_width=5.0, seed=0)
    assert settled.sampled(plan, 6, np.random.default_rng(0)) == []
