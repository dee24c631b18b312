"""A task's GP: its posterior mean passes through a planted curve, unknown noise is learnt as its nugget, joint draws
come in aligned rows around the posterior mean (correlated where the tasks share trials), and a grid with more
values than bins is coarsened without losing its weighted mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimates.series import Series, build_series
from analysis.estimates.task_gp import (
    MAX_BINS,
    SETTINGS_DRAWN,
    SKEW_PRIOR_LOG_ODDS,
    fit_task_gp,
    joint_draw,
    sharp_sides,
    with_noise_variance,
)
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES


def _series(table: pd.DataFrame) -> dict[str, Series]:
    return {one.name: one for one in build_series(load_results(table))}


def test_the_posterior_mean_passes_near_the_planted_curve() -> None:
    truth = PlantedTask("r", best_z=-4.5, noise=0.005)
    series = _series(planted_table({"t": truth}, LEARNING_RATES, BATCH_SIZES))["t"]
    model = fit_task_gp(series, ("x",))
    x = np.linspace(*series.x_range, 25)
    np.testing.assert_allclose(model.mean(x[:, None]), truth.expected_score(10**x, np.ones_like(x)), atol=0.01)
    assert model.weights.sum() == pytest.approx(1.0)
    top = model.top_setting()
    assert top["top_weight"] == model.weights.max()
    assert top["lengthscale_decades"] == pytest.approx(model.grid[np.argmax(model.weights), 0] * model.half[0])


def test_unknown_noise_is_learnt_as_the_nugget() -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.5, noise=0.03)}, LEARNING_RATES, BATCH_SIZES)
    series = _series(table.assign(stderr=np.nan))["t"]
    assert series.points["noise_variance"].isna().all()
    model = fit_task_gp(series, ("x",))
    assert 0.03**2 / 3 < model.nugget_variance() < 3 * 0.03**2
    smooth = fit_task_gp(_series(table)["t"], ("x",))
    assert smooth.nugget_variance() < model.nugget_variance() / 3, "known noise leaves the nugget little to explain"


def test_with_noise_variance_is_the_stated_noise_plus_what_the_fit_found_beyond_it() -> None:
    """A stderr is a floor, never the whole noise: each point's variance is its stated noise (none where the table
    gives no stderr) plus the GP's nugget, in the series' units."""
    tasks = {"known": PlantedTask("r", best_z=-4.5, noise=0.02), "unknown": PlantedTask("r", best_z=-4.0, noise=0.02)}
    table = planted_table(tasks, LEARNING_RATES, BATCH_SIZES)
    table.loc[table["task"] == "unknown", "stderr"] = np.nan
    series = _series(table)
    models = {task: fit_task_gp(series[task], ("x",)) for task in tasks}
    nugget = {task: models[task].nugget_variance() for task in tasks}
    known = with_noise_variance(series["known"], models)
    np.testing.assert_allclose(known["variance"], 0.02**2 + nugget["known"])
    unknown = with_noise_variance(series["unknown"], models)
    np.testing.assert_allclose(unknown["variance"], nugget["unknown"])
    category = with_noise_variance(series["r"], models)
    spread = series["r"].scales["spread"]
    by_task = category.groupby("task")["variance"]
    np.testing.assert_allclose(by_task.get_group("known"), (0.02**2 + nugget["known"]) / spread["known"] ** 2)
    np.testing.assert_allclose(by_task.get_group("unknown"), nugget["unknown"] / spread["unknown"] ** 2)


def test_the_nugget_averages_down_over_a_points_seeds_like_a_runs_noise() -> None:
    """The nugget is one run's noise beyond the stated: a mean of two seeds carries half of it, as it carries half of
    each run's stated noise. Counted whole, a point many seeds have measured stays as uncertain as one run."""
    table = planted_table({"t": PlantedTask("r", best_z=-4.5, noise=0.02)}, LEARNING_RATES, BATCH_SIZES, (0, 1))
    two_seeds = table["seed"] == 1
    table = pd.concat([table[~two_seeds], table[two_seeds & (table["batch_size"] == BATCH_SIZES[0])]])
    series = _series(table)["t"]
    models = {"t": fit_task_gp(series, ("x",))}
    points = with_noise_variance(series, models)
    assert set(points["n_seeds"]) == {1, 2}
    np.testing.assert_allclose(
        points["variance"], points["noise_variance"] + models["t"].nugget_variance() / points["n_seeds"]
    )


def _shared_trial_effect(table: pd.DataFrame, sd: float) -> pd.DataFrame:
    """Every task of a trial lifted by the same draw: a lucky seed."""
    effect = np.random.default_rng(3).normal(0, sd, table["trial_id"].nunique())
    codes = table["trial_id"].astype("category").cat.codes.to_numpy()
    trained = (table["status"] == "ok").to_numpy()
    table.loc[trained, "score"] += effect[codes[trained]]
    return table


def test_joint_draws_are_aligned_rows_of_the_requested_count_around_the_posterior_mean() -> None:
    """Around each task's own posterior mean when the tasks share no noise; with a shared trial effect each task's
    draws also lean on the other's data, and sample i of the two moves together."""
    tasks = {"a": PlantedTask("r", best_z=-4.5, noise=0.002), "b": PlantedTask("p", best_z=-4.0, noise=0.002)}
    correlations = []
    for effect in (0.0, 0.03):
        table = _shared_trial_effect(planted_table(tasks, LEARNING_RATES, BATCH_SIZES, (0, 1, 2)), effect)
        series = _series(table)
        models = [fit_task_gp(series[task], ("x",)).at_top_setting() for task in tasks]
        coords = np.linspace(-6.0, -3.0, 7)[:, None]
        draws = joint_draw(models, coords, 2400, np.random.default_rng(0))
        assert set(draws) == {"a", "b"} and all(one.shape == (2400, 7) for one in draws.values())
        if not effect:
            for model in models:
                np.testing.assert_allclose(draws[model.series.name].mean(axis=0), model.mean(coords), atol=0.001)
        deviations = {task: one - one.mean(axis=0) for task, one in draws.items()}
        correlations.append(np.corrcoef(deviations["a"][:, 3], deviations["b"][:, 3])[0, 1])
    assert abs(correlations[0]) < 0.15 and correlations[1] > 0.5, correlations
    few = joint_draw(models, coords, 50, np.random.default_rng(0))
    assert {one.shape for one in few.values()} == {(3 * SETTINGS_DRAWN, 7)}, "rounded up to whole settings"


@pytest.mark.parametrize(
    ("columns", "learning_rates", "batch_sizes", "bins"),
    [
        (("x",), np.geomspace(1e-5, 1e-2, MAX_BINS[1] + 20), [8], MAX_BINS[1]),
        (
            ("x", "log10_bs"),
            np.geomspace(1e-5, 1e-2, MAX_BINS[2] + 2),
            2 ** np.arange(MAX_BINS[2] + 2),
            MAX_BINS[2] ** 2,
        ),
    ],
)
def test_a_grid_with_more_values_than_bins_is_coarsened_keeping_its_weighted_mean(
    columns: tuple[str, ...], learning_rates: np.ndarray, batch_sizes: list[int], bins: int
) -> None:
    truth = PlantedTask("r", best_z=-4.5, n_items=500)
    series = _series(planted_table({"t": truth}, learning_rates, batch_sizes))["t"]
    model = fit_task_gp(series, columns)
    coarse, fine = model.points, series.points
    assert len(fine) > bins >= len(coarse) and (coarse["point"] == -1).all()
    weight, coarse_weight = 1 / fine["noise_variance"], 1 / coarse["noise_variance"]
    assert coarse_weight.sum() == pytest.approx(weight.sum())
    for column in ("y", "x", "log10_bs"):
        assert (coarse[column] * coarse_weight).sum() / coarse_weight.sum() == pytest.approx(
            (fine[column] * weight).sum() / weight.sum()
        )
    x = np.linspace(-5.5, -3.2, 7)
    query = np.column_stack([x, np.full(7, np.log10(8))])[:, : len(columns)]
    np.testing.assert_allclose(model.mean(query), truth.expected_score(10**x, np.ones(7)), atol=0.03)


@pytest.mark.parametrize(("width_above", "best_z"), [(3.0, -4.5), (1 / 3, -4.5), (1 / 3, -5.9), (3.0, -3.5)], ids=str)
def test_a_skewed_peak_falls_sharply_on_its_narrow_side_wherever_it_sits(width_above: float, best_z: float) -> None:
    """A peak three times as wide on one side as on the other: its narrow side counts as sharp in most draws, and its
    wide side in none, in the middle of the range (x in [-6.8, -2.6]) and near the end its wide side faces: a warp
    that stretched the range's ends would read the long flank toward the far end as the sharp side there. The
    optimum's CI widens only on a side that counts as sharp (optimum.py)."""
    sides = []
    for seed in range(4):
        truth = PlantedTask("r", best_z=best_z, width_above=width_above, curvature=0.15, worst=0.0, n_items=1000)
        table = planted_table({"t": truth}, LEARNING_RATES, BATCH_SIZES, random_state=np.random.default_rng(seed))
        sides.append(sharp_sides([fit_task_gp(_series(table)["t"], ("x",)).skew_evidence]))
    narrow, wide = (0, 1) if width_above > 1 else (1, 0)
    assert sum(side[narrow] for side in sides) >= 3 and not any(side[wide] for side in sides), sides


def test_a_category_falls_sharply_on_its_tasks_pooled_evidence_not_on_any_one_lean() -> None:
    """Tasks of one shape are one question: their Bayes factors multiply onto one prior. One task leaning to a
    sharp high end and another leaning as far against it say nothing together; two that lean the same way say it
    more strongly than either."""
    lean = np.array([0.0, 0.4])
    assert sharp_sides([lean]) == (False, True)
    assert sharp_sides([lean, -lean]) == (False, False)
    low = np.array([-SKEW_PRIOR_LOG_ODDS[0] * 0.6, 0.0])
    assert sharp_sides([low]) == (False, False) and sharp_sides([low, low]) == (True, False)


def test_categories_of_symmetric_peaks_away_from_the_ends_seldom_read_a_sharp_side() -> None:
    """Each task's warp evidence leans one way or the other on noise; pooled, a category's evidence reads a sharp
    side in few symmetric two-task categories (a quarter at most). Optima lie in the middle 40% of the range: a peak
    near an end has a long flank toward the other, whose accelerating fall the evidence may read as sharp, which
    widens that side of the optimum's CI (width, never coverage; the next test bounds how often)."""
    sharp = _symmetric_categories_read_sharp(LEARNING_RATES, BATCH_SIZES, (0.3, 0.7))
    assert sharp <= 8


def test_categories_of_symmetric_peaks_near_an_end_read_a_sharp_side_little_more_than_a_fair_coin() -> None:
    """On a 3 x 3 grid a peak in the lowest 30% of the range has most points on its far flank and its turn seen at
    few: the warp evidence then leans to a sharp side on a symmetric peak too. Judged against what a symmetric peak
    at the same place shows (`TaskGP.skew_evidence`), a symmetric two-task category there reads a sharp side in
    about half the draws, not in nearly all."""
    sharp = _symmetric_categories_read_sharp(np.array([3e-4, 1e-3, 3e-3]), [4, 16, 64], (0.05, 0.3))
    assert sharp <= 21


def _symmetric_categories_read_sharp(
    learning_rates: np.ndarray, batch_sizes: list[int], band: tuple[float, float]
) -> int:
    """Of 32 two-task categories of symmetric peaks (seeds 0-31), their optima in `band` (shares of the grid's
    log10(lr/bs) range from its low end): how many read a sharp side."""
    low, high = np.log10(learning_rates[0] / batch_sizes[-1]), np.log10(learning_rates[-1] / batch_sizes[0])
    sharp = 0
    for seed in range(32):
        rng = np.random.default_rng(seed)
        tasks = {
            f"t{index}": PlantedTask(
                "c",
                best_z=rng.uniform(low + band[0] * (high - low), low + band[1] * (high - low)),
                peak=rng.uniform(0.55, 0.85),
                curvature=rng.uniform(0.08, 0.2),
                worst=rng.uniform(0, 0.25),
                n_items=int(rng.choice([200, 500, 1000])),
            )
            for index in range(2)
        }
        series = _series(planted_table(tasks, learning_rates, batch_sizes, random_state=rng))
        sharp += any(sharp_sides([fit_task_gp(series[task], ("x",)).skew_evidence for task in tasks]))
    return sharp
