"""What every question shares: new points split the gaps between tried ones into equal parts of at most a step, one
trial's noise covariance over the tasks (run variances, the nugget where none is known, the trial effect they
share), and fantasy truths drawn, and scored with noise, under each task's most likely setting."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.design.question import between, trial_noise
from analysis.design.ratio_question import RatioQuestion
from analysis.estimates import gp
from analysis.estimates.series import Series, build_series
from analysis.estimates.task_gp import TaskGP, fit_task_gp, joint_draw, trial_correlation
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES


def test_between_splits_each_gap_wider_than_the_step_into_equal_parts() -> None:
    assert between([0.0, 0.5], 0.2) == pytest.approx([0.5 / 3, 1.0 / 3])
    assert between([0.2, 0.0, 0.1, 0.1], 0.2) == [], "no gap is wider than the step"
    assert between([0.0, 0.21, 0.0], 0.2) == pytest.approx([0.105]), "a gap a little wider: one point half way"
    tried = np.random.default_rng(0).uniform(-6, -3, 8)
    found = between(tried, 0.15)
    merged = np.sort(np.r_[tried, found])
    assert np.diff(merged).max() <= 0.15 + 1e-9
    gaps = np.diff(np.sort(tried))
    assert len(found) == sum(int(np.ceil(gap / 0.15 - 1e-9)) - 1 for gap in gaps), "the fewest parts that fit"


def _fitted(table: pd.DataFrame) -> tuple[dict[str, Series], dict[str, TaskGP]]:
    """The table's series by name, and each task's GP over the ratio."""
    series = {one.name: one for one in build_series(load_results(table))}
    return series, {name: fit_task_gp(one, ("x",)) for name, one in series.items() if one.level == "task"}


def test_trial_noise_holds_each_tasks_run_variance_and_their_shared_trial_effect() -> None:
    tasks = {"a": PlantedTask("r", best_z=-4.5, noise=0.02), "b": PlantedTask("p", best_z=-4.0, noise=0.05)}
    series, models = _fitted(planted_table(tasks, LEARNING_RATES, BATCH_SIZES))
    independent = trial_noise(series, models)
    beyond = [models[task].nugget_variance() for task in ("a", "b")]  # what the fit found beyond the stderr
    variance = [0.02**2 + beyond[0], 0.05**2 + beyond[1]]
    np.testing.assert_allclose(np.diag(independent), variance, rtol=1e-9)
    read_off_fits = trial_correlation(list(models.values()))  # one seed: from the fits' residuals
    assert read_off_fits < 0.2 and independent[0, 1] == pytest.approx(read_off_fits * np.sqrt(np.prod(variance)))

    table = planted_table(tasks, LEARNING_RATES, BATCH_SIZES, seeds=(0, 1))
    effect = np.random.default_rng(3).normal(0, 0.1, table["trial_id"].nunique())
    codes = table["trial_id"].astype("category").cat.codes.to_numpy()
    trained = (table["status"] == "ok").to_numpy()
    table.loc[trained, "score"] += effect[codes[trained]]
    series, models = _fitted(table)
    shared = trial_noise(series, models)
    correlation = series["a"].shared_correlation
    assert correlation > 0.5 and np.allclose(shared, shared.T)
    assert (np.diag(shared) > np.diag(independent)).all(), "the trial effect is run variance too"
    assert shared[0, 1] == pytest.approx(correlation * np.sqrt(shared[0, 0] * shared[1, 1]))

    series, models = _fitted(planted_table(tasks, LEARNING_RATES, BATCH_SIZES).assign(stderr=np.nan))
    learnt = trial_noise(series, models)
    np.testing.assert_allclose(np.diag(learnt), [models[task].nugget_variance() for task in ("a", "b")])


def test_fantasy_truths_come_from_the_most_likely_setting(study: pd.DataFrame) -> None:
    """A setting the data barely allow (the shortest lengthscale, given 49% of the weight here) would make truths
    rougher than the data show, whose fantasy studies keep wide CIs: the designer then predicted wider CIs than
    studies measured, and gave up on studies a few more trials settle."""
    question = RatioQuestion(study, ["reasoning"], contrasts=False, target_width=1.0, seed=0)
    ((task, model),) = question.models.items()
    grid = model.grid
    shortest, least_smooth = (grid[:, column] == grid[:, column].min() for column in (0, gp.SMOOTHNESS))
    rough = np.flatnonzero(shortest & least_smooth & (grid[:, gp.SIGNAL] == grid[:, gp.SIGNAL].max()))[0]
    weights = np.zeros(len(grid))
    weights[[np.argmax(model.weights), rough]] = [0.51, 0.49]
    question.models[task] = replace(model, weights=weights)

    def roughness(curves: np.ndarray) -> np.ndarray:
        return np.mean(np.diff(curves, 2, axis=1) ** 2, axis=1)

    fantasies = roughness(question.fantasy_truths(7)[task])
    only_rough = model.at_setting(rough)
    rough_truths = roughness(joint_draw([only_rough], question.coords, 24, np.random.default_rng(0))[task])
    assert fantasies.max() < np.median(rough_truths) / 10


def test_fantasy_noise_is_the_noise_of_the_setting_its_truths_come_from(study: pd.DataFrame) -> None:
    """Fantasy truths come from each task's most likely setting, so their scores get that setting's nugget. The
    nugget averaged over every setting mixes in settings with a high nugget, which a one-seed pilot hardly tells
    apart, and would make fantasy studies noisier than the world their truths stand for."""
    question = RatioQuestion(study, ["reasoning"], contrasts=False, target_width=1.0, seed=0)
    ((task, model),) = question.models.items()
    top = model.at_top_setting()
    assert not np.isclose(model.nugget_variance(), top.nugget_variance()), "the two settings' noise differ here"
    np.testing.assert_allclose(np.diag(question.noise), np.diag(trial_noise(question.series, {task: top})))
