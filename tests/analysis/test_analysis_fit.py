"""Optima of score vs log10(lr/bs): planted optima are recovered, edges and few ratios are reported as such,
category contrasts find a planted difference and refuse to invent one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import wls
from analysis.fit import category_contrasts, divergence_frontier
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES, fits_of


@pytest.mark.parametrize(
    ("noise", "seeds", "tolerance"),
    [(0.01, (0,), 0.05), (0.03, (0, 1, 2), 0.1), (0.05, (0,), 0.25)],
)
def test_planted_optimum_is_recovered_inside_its_ci(noise: float, seeds: tuple, tolerance: float) -> None:
    table = planted_table(
        {"arc": PlantedTask("reasoning", best_z=-4.5, noise=noise)}, LEARNING_RATES, BATCH_SIZES, seeds
    )
    fit = fits_of(table)["arc"]
    assert fit.kind == "quadratic" and not fit.at_grid_edge
    assert fit.best_x == pytest.approx(-4.5, abs=tolerance)
    assert fit.ci_low < -4.5 < fit.ci_high
    assert fit.ci_low < fit.best_x < fit.ci_high
    assert fit.r2 > 0.8


def test_more_noise_gives_a_wider_ci() -> None:
    widths = []
    for noise in (0.01, 0.05):
        table = planted_table({"arc": PlantedTask("reasoning", best_z=-4.5, noise=noise)}, LEARNING_RATES, BATCH_SIZES)
        fit = fits_of(table)["arc"]
        widths.append(fit.ci_high - fit.ci_low)
    assert widths[1] > 2 * widths[0]


@pytest.mark.parametrize("skew", [1.0, -1.0])
def test_skewed_peak_is_found_near_the_truth_and_lowess_is_closer(skew: float) -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.5, skew=skew)}, LEARNING_RATES, BATCH_SIZES, (0, 1, 2))
    fit = fits_of(table)["t"]
    assert fit.best_x == pytest.approx(-4.5, abs=0.5)
    assert abs(fit.lowess_best_x + 4.5) < abs(fit.best_x + 4.5)
    assert np.sign(fit.best_x + 4.5) == -np.sign(skew)


def test_noiseless_quadratic_coefficients_are_exact() -> None:
    truth = PlantedTask("r", best_z=-4.5, peak=0.8, curvature=0.1, noise=0.0)
    fit = fits_of(planted_table({"t": truth}, LEARNING_RATES, BATCH_SIZES))["t"]
    coefficients = fit.coefficients
    assert coefficients["x^2"] == pytest.approx(-0.1)
    assert coefficients["x"] == pytest.approx(-0.1 * 2 * 4.5)
    assert coefficients["intercept"] == pytest.approx(0.8 - 0.1 * 4.5**2)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.cv_rmse == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("best_z", [-1.5, -8.0])
def test_optimum_beyond_the_grid_is_flagged(best_z: float) -> None:
    fit = fits_of(planted_table({"t": PlantedTask("r", best_z=best_z)}, LEARNING_RATES, BATCH_SIZES))["t"]
    assert fit.at_grid_edge
    edge = fit.x_range[1] if best_z > -4 else fit.x_range[0]
    assert fit.best_x == pytest.approx(edge)


def test_a_valley_is_not_an_optimum() -> None:
    valley = PlantedTask("r", best_z=-4.5, curvature=-0.1)
    fit = fits_of(planted_table({"t": valley}, LEARNING_RATES, BATCH_SIZES))["t"]
    assert fit.at_grid_edge
    assert fit.coefficients["x^2"] > 0


def test_two_ratios_give_a_direction_not_a_curve() -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.0, noise=0.0)}, [1e-4, 1e-3], [10])
    fit = fits_of(table)["t"]
    assert fit.kind == "two_ratios"
    assert (fit.best_x, fit.worse_x) == pytest.approx((-4.0, -5.0))
    assert fit.score_gain == pytest.approx(0.1)


def test_all_diverged_task_has_no_fit_but_others_do() -> None:
    tasks = {"ok": PlantedTask("r", best_z=-4.5), "broken": PlantedTask("r", best_z=-4.5)}
    table = planted_table(tasks, LEARNING_RATES, BATCH_SIZES)
    broken = (table["task"] == "broken") & (table["status"] == "ok")
    table.loc[broken, "status"] = "diverged"
    table.loc[broken, "score"] = np.nan
    fits = fits_of(table)
    assert fits["broken"].kind == "no_data"
    assert fits["ok"].kind == "quadratic"
    assert fits["r"].kind == "quadratic"


PLANTED_CATEGORIES = {
    "arc": PlantedTask("reasoning", best_z=-4.0, noise=0.02),
    "gsm8k": PlantedTask("reasoning", best_z=-4.2, noise=0.02, curvature=0.05),
    "hellaswag": PlantedTask("pattern", best_z=-5.2, noise=0.02, peak=0.6),
    "ifeval": PlantedTask("pattern", best_z=-5.0, noise=0.02, curvature=0.2),
}


def test_category_optimum_pools_its_tasks() -> None:
    fits = fits_of(planted_table(PLANTED_CATEGORIES, LEARNING_RATES, BATCH_SIZES, (0, 1)))
    assert fits["reasoning"].best_x == pytest.approx(-4.1, abs=0.15)
    assert fits["pattern"].best_x == pytest.approx(-5.1, abs=0.15)
    assert set(fits["reasoning"].coefficients) == {"offset[arc]", "offset[gsm8k]", "x", "x^2"}


def test_planted_contrast_is_detected_with_the_right_sign() -> None:
    contrast = category_contrasts(
        list(fits_of(planted_table(PLANTED_CATEGORIES, LEARNING_RATES, BATCH_SIZES)).values())
    )
    row = contrast.iloc[0]
    assert (row["category_a"], row["category_b"]) == ("reasoning", "pattern")
    assert row["diff_log10_ratio"] == pytest.approx(1.0, abs=0.2)
    assert 0 < row["ci_low"] < row["diff_log10_ratio"] < row["ci_high"]
    assert row["separable"] and row["p_value"] < 0.01


def test_no_real_difference_is_not_separable() -> None:
    same = {
        "arc": PlantedTask("reasoning", best_z=-4.5, noise=0.04),
        "gsm8k": PlantedTask("reasoning", best_z=-4.5, noise=0.04),
        "hellaswag": PlantedTask("pattern", best_z=-4.5, noise=0.04),
        "ifeval": PlantedTask("pattern", best_z=-4.5, noise=0.04),
    }
    for random_state in range(3):
        table = planted_table(same, LEARNING_RATES, BATCH_SIZES, random_state=random_state)
        row = category_contrasts(list(fits_of(table).values())).iloc[0]
        assert not row["separable"]
        assert row["ci_low"] < 0 < row["ci_high"]
        assert row["p_value"] > 0.05


def test_divergence_frontier_is_the_smallest_diverged_ratio_per_batch_size() -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.5)}, [1e-4, 1e-3, 1e-2], [10, 100], diverge_above=5e-5)
    frontier = divergence_frontier(load_results(table)).set_index("batch_size")
    assert frontier.loc[10, "n_diverged"] == 2
    assert frontier.loc[10, "frontier_lr_bs_ratio"] == pytest.approx(1e-4)
    assert frontier.loc[10, "largest_stable_lr_bs_ratio"] == pytest.approx(1e-5)
    assert frontier.loc[100, "frontier_lr_bs_ratio"] == pytest.approx(1e-4)
    assert frontier.loc[100, "n_trials"] == 3


def test_batched_solve_matches_numpy_lstsq_and_loo_matches_refitting() -> None:
    rng = np.random.default_rng(1)
    design = np.column_stack([np.ones(30), rng.normal(size=30), rng.normal(size=30) ** 2])
    y = design @ [1.0, -2.0, 0.5] + rng.normal(0, 0.1, 30)
    weights = rng.uniform(0.5, 2.0, 30)
    fit = wls.fit(design, y, weights)
    root = np.sqrt(weights)
    expected = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)[0]
    np.testing.assert_allclose(fit.coef, expected, rtol=1e-9)
    left_out = 7
    keep = np.arange(30) != left_out
    refit = np.linalg.lstsq(design[keep] * root[keep, None], y[keep] * root[keep], rcond=None)[0]
    assert fit.loo_residuals[left_out] == pytest.approx(y[left_out] - design[left_out] @ refit)

    counts = wls.bootstrap_counts(30, 50, np.random.default_rng(2))
    assert counts.shape == (50, 30) and (counts.sum(axis=1) == 30).all()
    coef, _, valid = wls.bootstrap(design, y, weights, np.arange(30), counts)
    drawn = counts[3]
    expected = np.linalg.lstsq(design * np.sqrt(weights * drawn)[:, None], y * np.sqrt(weights * drawn), rcond=None)[0]
    assert valid.all()
    np.testing.assert_allclose(coef[3], expected, rtol=1e-8)


def test_resamples_that_cannot_identify_a_quadratic_are_dropped() -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.5)}, [1e-4, 1e-3, 1e-2], [10])
    fit = fits_of(table)["t"]
    finite = np.isfinite(fit.bootstrap_best_x)
    assert 0 < finite.sum() < len(finite)
    assert pd.Series(fit.bootstrap_best_x[finite]).between(*fit.x_range).all()
