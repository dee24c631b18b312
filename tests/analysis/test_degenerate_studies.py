"""Degenerate studies are findings, not crashes: a task that never changes is flat (no optimum, left out of its
category's pooling, changing no other task's answer); a table of all-NaN, one trial, one batch size, one learning
rate, two ratios or every trial diverged is analysed and says so; nothing claims a CI it did not estimate."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis import analyze, load_results
from analysis.errors import AnalysisInputError
from analysis.estimates.curves import fit_curves
from analysis.estimates.intervals import Interval
from analysis.estimates.invariants import chosen_models
from analysis.estimates.series import build_series
from analysis.synthetic import PlantedTask, planted_table

TASKS = {
    "a": PlantedTask("reasoning", best_z=-6.0),
    "b": PlantedTask("reasoning", best_z=-5.8),
    "c": PlantedTask("pattern", best_z=-4.5),
    "d": PlantedTask("pattern", best_z=-4.2),
}
"""The audit's realistic table: 4 tasks in 2 categories on 5 learning rates × 5 batch sizes × 2 seeds."""
LEARNING_RATES = tuple(np.geomspace(1e-5, 1e-2, 5))


def _study(learning_rates=LEARNING_RATES, batch_sizes=(4, 8, 16, 32, 64), seeds=(0, 1), **kwargs):
    return planted_table(TASKS, learning_rates, batch_sizes, seeds=seeds, random_state=1, **kwargs)


def _with_scores(table: pd.DataFrame, task: str, score: float, stderr: float) -> pd.DataFrame:
    trained = (table["task"] == task) & (table["status"] == "ok")
    return table.assign(score=table["score"].mask(trained, score), stderr=table["stderr"].mask(trained, stderr))


def _fits(table: pd.DataFrame) -> dict[str, object]:
    return {fit.name: fit for fit in fit_curves(build_series(load_results(table)), np.random.default_rng(0))}


def test_a_constant_task_changes_no_other_tasks_answer() -> None:
    """Making task a constant used to turn b's optimum [-6.53, -5.63] and both categories' into 'not located'."""
    table = _study()
    with_constant = _fits(_with_scores(table, "a", 0.8, 0.01))
    without = _fits(table[table["task"] != "a"])
    assert with_constant["a"].kind == "flat" and with_constant["a"].flat_score == pytest.approx(0.8)
    for name in ("b", "c", "d", "reasoning", "pattern", "all tasks"):
        assert with_constant[name].optimum == without[name].optimum, name
    assert not with_constant["b"].optimum.is_open


def test_a_task_flat_within_a_thousandth_of_its_noise_is_flat_and_one_within_its_noise_is_not() -> None:
    table = _study(batch_sizes=(8, 32), seeds=(0,))
    rng = np.random.default_rng(0)
    trained = (table["task"] == "a") & (table["status"] == "ok")
    rounding = table.assign(score=table["score"].mask(trained, 0.8 + 1e-7 * rng.standard_normal(len(table))))
    noise = table.assign(score=table["score"].mask(trained, 0.8 + 0.01 * rng.standard_normal(len(table))))
    seeds = _study(batch_sizes=(8, 32))
    by_seed = (seeds["task"] == "a") & (seeds["status"] == "ok")
    spread_seeds = seeds.assign(score=seeds["score"].mask(by_seed, np.where(seeds["seed"] == 0, 0.7, 0.9)))
    assert {one.name for one in build_series(load_results(rounding)) if one.is_flat} == {"a"}
    assert not any(one.is_flat for one in build_series(load_results(noise)))
    assert {one.name for one in build_series(load_results(spread_seeds)) if one.is_flat} == {"a"}, "means equal"


def test_an_all_zero_task_is_reported_flat_not_a_traceback(tmp_path) -> None:
    """It used to end in a ZeroDivisionError in invariants.py."""
    result = analyze(_with_scores(_study(seeds=(0,)), "a", 0.0, 0.0), tmp_path)
    optima = result.optima.set_index("name")
    assert optima.loc["a", "kind"] == "flat" and optima.loc["a", ["ci_low", "ci_high"]].isna().all()
    report = (tmp_path / "report.md").read_text()
    assert "- **a** (reasoning): flat: no optimum (0 at every lr/bs tried)." in report
    assert any(warning.startswith("task a: its score does not change") for warning in result.warnings)
    assert not any("task a" in warning and "extend the grid" in warning for warning in result.warnings)
    assert "a" not in set(result.invariants["name"]) and "a" not in set(result.optimal_lr["name"])


def test_a_simple_model_that_fits_exactly_is_kept_without_dividing_by_its_zero_error() -> None:
    residuals = {"lr/bs": np.zeros(6), "lr/sqrt(bs)": np.ones(6), "separate": np.zeros(6)}
    assert chosen_models(residuals, "separate") == ["lr/bs"]


def _two_ratios_tie() -> pd.DataFrame:
    """The paper's 1.7B shape: two ratios only; task a prefers the lower, b the higher by as much, so their category
    ties to the last bit."""
    table = planted_table({"a": PlantedTask("math", -6.0), "b": PlantedTask("math", -4.0)}, [1e-5, 1e-4], [8])
    trained = table["status"] == "ok"
    low = table["learning_rate"] == 1e-5
    scores = np.where((table["task"] == "a") == low, 0.6, 0.5)
    return table.assign(score=table["score"].mask(trained, scores), stderr=table["stderr"].mask(trained, 0.02))


def test_two_ratios_write_no_ci_and_a_tie_reads_as_one(tmp_path) -> None:
    """optima.csv used to write a closed zero-width CI [x, x], and the report "scored 1.67e-16 (z units) better"."""
    analyze(_two_ratios_tie(), tmp_path)
    optima = pd.read_csv(tmp_path / "optima.csv").set_index("name")
    assert (optima["kind"] == "two_ratios").all() and optima[["ci_low", "ci_high"]].isna().all().all()
    assert optima.loc["math", "score_gain"] == 0 and np.isnan(optima.loc["math", "best_log10_ratio"])
    assert optima.loc["a", "best_log10_ratio"] == pytest.approx(np.log10(1e-5 / 8))
    report = (tmp_path / "report.md").read_text()
    assert "- **math** (a, b): only two lr/bs values: 1.2e-5 and 1.2e-6 scored the same within noise" in report


def _all_nan(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(score=table["score"].where(table["status"] != "ok"))


SMALL = dict(learning_rates=np.geomspace(1e-5, 1e-2, 4), batch_sizes=(8, 32), seeds=(0,))
DEGENERATE = {
    "all NaN": (_all_nan(_study(**SMALL)), "no ok score (every run diverged, failed or reported no score)"),
    "one trial": (_study([1e-3], [8], (0,)), "a single lr/bs value (1.2e-4): nothing to compare"),
    "one batch size": (_study(SMALL["learning_rates"], [8], (0,)), "best lr/bs"),
    "one learning rate": (_study([1e-3], [8, 32, 128], (0,)), "best lr/bs"),
    "two ratios": (_study([1e-4, 1e-3], [8], (0,)), "only two lr/bs values: "),
    "every trial diverged": (_study(**SMALL, diverge_above=0.0), "no ok score"),
}


@pytest.mark.parametrize("case", DEGENERATE)
def test_a_degenerate_study_is_analysed_and_says_so(case: str, tmp_path) -> None:
    """all NaN and every trial diverged used to end in a TypeError."""
    table, sentence = DEGENERATE[case]
    result = analyze(table, tmp_path)
    report = (tmp_path / "report.md").read_text()
    tasks = report.split("## Tasks")[1].split("## ")[0]
    assert all(f"- **{task}** ({truth.category}): {sentence}" in tasks for task, truth in TASKS.items())
    assert "Confidence:" in result.answer and not re.search(r"\bnan\b", report, flags=re.IGNORECASE)


def test_an_infinite_score_is_refused_with_the_fix() -> None:
    table = _study(**SMALL)
    table.loc[table.index[3], "score"] = np.inf
    with pytest.raises(AnalysisInputError, match=r"'score' has infinite values in row 3 .*status 'diverged'"):
        load_results(table)


def test_an_interval_without_ends_says_so_instead_of_printing_nan() -> None:
    """A one-seed 4 × 2 grid used to report 'free α = 1.02 [95% CI nan, nan]': no resample could fit the surface."""
    words = Interval(1.02, np.nan, np.nan).describe(lambda value: f"{value:.2f}")
    assert words == "= 1.02 (no 95% CI: the data give none)"
