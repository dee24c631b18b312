"""The batch-size question: one quantity per category and batch size at which the study locates its optimal learning
rate, the points a follow-up may train inside those CIs, and the grid cell a fantasy truth is read at."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.design.batch_law_question import BatchLawQuestion
from analysis.design.study import PlannedTrial, Study
from analysis.estimates.surfaces import LR_POINTS
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.design.helpers import BATCH_SIZES, LEARNING_RATES

TRUTH = {
    "arc": PlantedTask("reasoning", best_z=-4.3, n_items=1000),
    "hellaswag": PlantedTask("pattern", best_z=-4.8, n_items=1000),
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return load_results(planted_table(TRUTH, LEARNING_RATES, BATCH_SIZES, random_state=0))


@pytest.fixture(scope="module")
def question(table: pd.DataFrame) -> BatchLawQuestion:
    return BatchLawQuestion(table, ["pattern", "reasoning"], target_width=0.3, seed=0)


def test_one_quantity_per_category_and_batch_size_located(question: BatchLawQuestion) -> None:
    assert question.names == [
        "pattern lr at bs 8",
        "pattern lr at bs 32",
        "reasoning lr at bs 8",
        "reasoning lr at bs 32",
    ]
    assert question.limits == dict.fromkeys(question.names, 0.3) and question.unfitted() == []
    for name in ("pattern", "reasoning"):
        fit = question.fitted[name]
        for log10_bs, interval in zip(fit.log10_bs, fit.optimal_lr, strict=True):
            answer = question.now[f"{name} lr at bs {round(10**log10_bs)}"]
            width = np.inf if interval.is_open else interval.high - interval.low
            assert answer.width == pytest.approx(width) and answer.settled == (width <= 0.3)


def test_wanted_points_lie_inside_the_ci_at_their_batch_size(question: BatchLawQuestion, table: pd.DataFrame) -> None:
    assert question.unsettled(), "a target of 0.3 decades is not met by a 5 x 2 grid"
    wanted = question.wanted(Study(table, [8, 16, 32], lambda size: 1.0))
    assert wanted and {one.candidate.batch_size for one in wanted} <= {8, 32}
    for one in wanted:
        point, reason = one.candidate, one.reason
        category, size = reason.split(" lr at bs ")[0], int(reason.split(" lr at bs ")[1].split(":")[0])
        assert size == point.batch_size
        fit = question.fitted[category]
        interval = fit.optimal_lr[int(np.flatnonzero(np.isclose(fit.log10_bs, np.log10(size)))[0])]
        assert interval.low < np.log10(point.learning_rate) < interval.high
        assert question.x_range[0] - 1e-9 <= point.log10_ratio <= question.x_range[1] + 1e-9
    points = [(one.candidate.learning_rate, one.candidate.batch_size) for one in wanted]
    assert len(set(points)) == len(points), "a point wanted by two CIs is listed once, weighted twice"


def test_a_fantasy_truth_is_read_at_the_grid_cell_of_each_trial(question: BatchLawQuestion) -> None:
    trials = [PlannedTrial(lr, bs, 1, "", 1.0) for lr, bs in ((1e-4, 8), (1.5e-3, 32), (1e-2, 32), (4e-3, 8))]
    cells = question.truth_at(np.arange(len(question.coords)), trials)
    assert len(question.coords) == len(BATCH_SIZES) * LR_POINTS
    step = question.log10_lr[1] - question.log10_lr[0]
    for trial, cell in zip(trials, cells, strict=True):
        log10_ratio, log10_bs = question.coords[cell]
        assert log10_bs == pytest.approx(np.log10(trial.batch_size))
        assert abs(log10_ratio + log10_bs - np.log10(trial.learning_rate)) <= step / 2 + 1e-9


def test_a_study_of_one_batch_size_locates_nothing(table: pd.DataFrame) -> None:
    one_size = table[table["batch_size"].isna() | (table["batch_size"] == 8)].reset_index(drop=True)
    question = BatchLawQuestion(one_size, ["pattern", "reasoning"], target_width=0.3, seed=0)
    assert question.unfitted() == ["pattern", "reasoning"] and question.names == []


def test_posterior_sampling_puts_each_trial_at_a_draws_optimal_lr_at_its_batch_size(
    question: BatchLawQuestion, table: pd.DataFrame
) -> None:
    trials = question.sampled(Study(table, BATCH_SIZES, lambda size: 1.0), 8, np.random.default_rng(0))
    assert len(trials) == 8
    for trial in trials:
        category, _, _, _, size = trial.reason.split(":")[0].split(" ")
        assert trial.batch_size == int(size) and trial.reason.endswith("a posterior draw peaks here")
        fit = question.fitted[category]
        ridge = fit.ridge_samples[:, int(np.argmin(np.abs(fit.log10_bs - np.log10(trial.batch_size))))]
        assert np.abs(ridge - np.log10(trial.learning_rate)).min() < 0.003
    assert {trial.reason.split(":")[0] for trial in trials} == set(question.unsettled())
