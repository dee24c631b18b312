"""The noise a study shows, not the noise lm-eval reports: noise.csv measures the seeds' spread beyond the stderr
where points have several seeds and the curve's extra noise where they do not, and the optimum's CI holds the truth
when a stderr understates the noise."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.estimates.curves import fit_curves
from analysis.estimates.noise import noise_table
from analysis.estimates.series import build_series
from analysis.estimates.task_gp import fit_task_gp, trial_correlation
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table

LEARNING_RATES = np.geomspace(1e-5, 1e-2, 7)
BATCH_SIZES = [4, 8, 16, 32, 64]


def _noisy(
    seeds: tuple[int, ...], seed_noise: float, random_state: int, trial_effect: float = 0.0
) -> tuple[dict, object]:
    tasks = {
        "arc": PlantedTask("reasoning", best_z=-4.6, n_items=500, peak=0.7, curvature=0.15, seed_noise=seed_noise),
        "gsm8k": PlantedTask("reasoning", best_z=-4.6, n_items=500, peak=0.5, curvature=0.1, seed_noise=seed_noise),
    }
    table = planted_table(
        tasks, LEARNING_RATES, BATCH_SIZES, seeds, random_state=random_state, trial_effect=trial_effect
    )
    return tasks, load_results(table)


def test_the_seeds_spread_beyond_the_stderr_is_measured_where_points_have_seeds() -> None:
    _, frame = _noisy((0, 1, 2), seed_noise=0.04, random_state=0)
    noise = noise_table(frame, []).set_index("task")
    assert noise.loc["arc", "eval_sd"] == pytest.approx(0.02, abs=0.004)  # sqrt(0.7 * 0.3 / 500) at the peak
    assert noise.loc["arc", "seed_sd"] == pytest.approx(0.04, rel=0.3)
    assert (noise["replicated_points"] == 35).all() and noise["fit_extra_sd"].isna().all()


def test_with_one_seed_the_curve_finds_the_noise_no_stderr_states() -> None:
    found = {}
    for seed_noise in (0.0, 0.04):
        _, frame = _noisy((0,), seed_noise=seed_noise, random_state=1)
        noise = noise_table(frame, fit_curves(build_series(frame), np.random.default_rng(0))).set_index("task")
        assert noise["seed_sd"].isna().all() and (noise["replicated_points"] == 0).all()
        found[seed_noise] = noise["fit_extra_sd"]
    assert (found[0.04] > 0.01).all() and (found[0.04] > 2 * found[0.0]).all()


@pytest.mark.parametrize("random_state", [2, 3, 4])
def test_the_optimum_holds_the_truth_when_the_stderr_understates_the_noise(random_state: int) -> None:
    """Seed noise twice lm-eval's, in no stderr: the curves' nuggets carry the noise they found."""
    tasks, frame = _noisy((0,), seed_noise=0.04, random_state=random_state)
    fits = {fit.name: fit for fit in fit_curves(build_series(frame), np.random.default_rng(random_state))}
    assert fits["reasoning"].optimum.contains(-4.6)
    for name in tasks:
        assert fits[name].optimum.contains(-4.6), (name, fits[name].optimum)


def test_with_one_seed_the_trial_effect_tasks_share_is_read_from_their_fits() -> None:
    """A trial's luck lifts all its tasks: with one seed no replicate shows it, the tasks' residuals do, and a
    category's curve (their average) then keeps that noise instead of averaging it away."""
    found = {}
    for effect in (0.0, 0.05):
        _, frame = _noisy((0,), seed_noise=0.0, random_state=5, trial_effect=effect)
        series = [one for one in build_series(frame) if one.level == "task"]
        found[effect] = trial_correlation([fit_task_gp(one, ("x",)) for one in series])
    assert found[0.0] < 0.3 < found[0.05]
    _, replicated = _noisy((0, 1), seed_noise=0.0, random_state=5, trial_effect=0.05)
    series = [one for one in build_series(replicated) if one.level == "task"]
    assert trial_correlation([fit_task_gp(one, ("x",)) for one in series]) == series[0].shared_correlation > 0.3, (
        "where seeds repeat, their deviations say it"
    )
