"""A fantasy study: the study joined by one row per planned trial × task, scored on the given truth (in the metric's
own direction) plus noise of the given covariance, with the ratio columns derived as a loaded table has them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.design.fantasy import fantasy_table
from analysis.design.study import PlannedTrial
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.design.helpers import BATCH_SIZES, LEARNING_RATES

TASKS = {
    "arc": PlantedTask("reasoning", best_z=-4.3, n_items=1000),
    "ppl": PlantedTask("lm", best_z=-4.0, peak=12.0, curvature=2.0, noise=0.1, higher_is_better=False),
}
SIGNS = {"arc": 1.0, "ppl": -1.0}


@pytest.fixture(scope="module")
def two_task_study() -> pd.DataFrame:
    return load_results(planted_table(TASKS, LEARNING_RATES, BATCH_SIZES))


def test_each_planned_trial_adds_one_row_per_task_scored_on_the_truth(two_task_study: pd.DataFrame) -> None:
    trials = [PlannedTrial(2e-4, 8, 1, "another seed", 12.5), PlannedTrial(3e-3, 16, 0, "inside its CI", 6.25)]
    quality = {"arc": np.array([0.61, 0.47]), "ppl": np.array([-11.0, -12.5])}
    joined = fantasy_table(two_task_study, trials, quality, SIGNS, np.zeros((2, 2)), np.random.default_rng(0))
    assert list(joined.columns) == list(two_task_study.columns)
    pd.testing.assert_frame_equal(joined.iloc[: len(two_task_study)], two_task_study)
    new = joined.iloc[len(two_task_study) :].set_index(["task", "batch_size"])
    assert len(new) == 4 and (new["status"] == "ok").all() and (new["trial_id"] == "fantasy").all()
    assert new.loc[("arc", 8), "score"] == 0.61 and new.loc[("arc", 16), "score"] == 0.47
    assert new.loc[("ppl", 8), "score"] == 11.0 and new.loc[("ppl", 16), "score"] == 12.5, "perplexity: lower is better"
    assert (new.loc["ppl", "category"] == "lm").all() and not new.loc["ppl", "higher_is_better"].any()
    assert list(new.loc["arc", "seed"]) == [1, 0]
    np.testing.assert_allclose(new.loc["arc", "lr_bs_ratio"], [2e-4 / 8, 3e-3 / 16])
    np.testing.assert_allclose(new.loc["arc", "log10_ratio"], np.log10([2e-4 / 8, 3e-3 / 16]))
    pd.testing.assert_frame_equal(load_results(joined), joined, check_dtype=False)


def test_the_noise_has_the_given_covariance(two_task_study: pd.DataFrame) -> None:
    trials = [PlannedTrial(1e-3, 8, seed, "another seed", 12.5) for seed in range(1, 4001)]
    quality = {"arc": np.full(len(trials), 0.6), "ppl": np.full(len(trials), -12.0)}
    noise = np.array([[4e-4, -3e-4], [-3e-4, 9e-4]])
    joined = fantasy_table(two_task_study, trials, quality, SIGNS, noise, np.random.default_rng(0))
    new = joined.iloc[len(two_task_study) :]
    deviations = np.column_stack(
        [SIGNS[task] * new.loc[new["task"] == task, "score"].to_numpy() - quality[task] for task in ("arc", "ppl")]
    )
    np.testing.assert_allclose(deviations.mean(axis=0), 0.0, atol=2e-3)
    np.testing.assert_allclose(np.cov(deviations.T), noise, atol=6e-5)
