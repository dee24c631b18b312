"""The series each fit sees: a task's scores turned to quality (higher is better) and back by `metric_sign`, a
category's tasks z-scored and pooled (`Series.pooled`), and the trial effect the tasks share estimated from seeds."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.estimates.series import build_series
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES, PLANTED_CATEGORIES


def test_a_category_pools_the_z_scores_of_its_tasks() -> None:
    series = {
        one.name: one
        for one in build_series(load_results(planted_table(PLANTED_CATEGORIES, LEARNING_RATES, BATCH_SIZES)))
    }
    reasoning = series["reasoning"]
    assert reasoning.tasks == ("arc", "gsm8k") and reasoning.level == "category"
    z_scores = reasoning.points.pivot(index="point", columns="task", values="y")
    np.testing.assert_allclose(z_scores.mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(z_scores.std(), 1.0)
    quality = {task: series[task].points.set_index("point").loc[z_scores.index, "y"].to_numpy() for task in z_scores}
    np.testing.assert_allclose(reasoning.pooled(quality, ["arc", "gsm8k"]), z_scores.mean(axis=1))
    np.testing.assert_allclose(reasoning.pooled(quality, ["gsm8k"]), z_scores["gsm8k"])
    np.testing.assert_allclose(series["arc"].pooled(quality, ["arc"]), quality["arc"])


def test_a_metric_to_minimise_is_flipped_to_quality_and_back() -> None:
    tasks = {
        "ppl": PlantedTask("lm", best_z=-4.5, peak=12.0, curvature=2.0, noise=0.05, higher_is_better=False),
        "arc": PlantedTask("lm", best_z=-4.5),
    }
    frame = load_results(planted_table(tasks, LEARNING_RATES, BATCH_SIZES))
    series = {one.name: one for one in build_series(frame)}
    assert (series["ppl"].metric_sign, series["arc"].metric_sign, series["lm"].metric_sign) == (-1.0, 1.0, 1.0)
    ppl = series["ppl"].points
    scored = frame.loc[(frame["task"] == "ppl") & (frame["status"] == "ok"), "score"]
    np.testing.assert_allclose(np.sort(ppl["y"]), np.sort(-scored))
    assert ppl.loc[ppl["y"].idxmax(), "x"] == pytest.approx(-4.5, abs=0.25), "the best quality is the lowest perplexity"
    pooled = series["lm"].points.query("task == 'ppl'").set_index("point")["y"]
    assert np.corrcoef(pooled, ppl.set_index("point").loc[pooled.index, "y"])[0, 1] == pytest.approx(1.0)


def test_a_trial_effect_shared_by_tasks_is_estimated_from_seeds() -> None:
    tasks = {"a": PlantedTask("r", best_z=-4.5, noise=0.001), "b": PlantedTask("p", best_z=-4.5, noise=0.001)}
    table = planted_table(tasks, LEARNING_RATES, BATCH_SIZES, seeds=(0, 1, 2))
    trial_effect = np.random.default_rng(3).normal(0, 0.03, table["trial_id"].nunique())
    codes = table["trial_id"].astype("category").cat.codes.to_numpy()
    trained = (table["status"] == "ok").to_numpy()
    table.loc[trained, "score"] += trial_effect[codes[trained]]
    correlated = build_series(load_results(table))[0].shared_correlation
    independent = build_series(load_results(planted_table(tasks, LEARNING_RATES, BATCH_SIZES, (0, 1, 2))))[0]
    assert correlated > 0.8 and independent.shared_correlation < 0.3
