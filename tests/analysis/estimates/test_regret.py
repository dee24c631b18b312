"""What the ratio is worth: the score a category loses at another ratio, in its metric's own units and
direction, with a CI that is 0-centred when the ratios agree."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.estimates.regret import OUTSIDE, REFERENCE, SHARED, parse_ratio, regret_table
from analysis.estimates.series import build_series
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES, fits_of


def _regret(tasks: dict[str, PlantedTask], reference: float | None = None):
    table = planted_table(tasks, LEARNING_RATES, BATCH_SIZES, seeds=(0, 1))
    series = build_series(load_results(table))
    return regret_table(list(fits_of(table).values()), series, reference).set_index(["level", "name", "against"])


def test_a_decade_apart_costs_what_the_planted_curves_lose() -> None:
    tasks = {
        "arc": PlantedTask("reasoning", best_z=-4.0, noise=0.01, curvature=0.1),
        "hellaswag": PlantedTask("pattern", best_z=-5.0, noise=0.01, curvature=0.2),
    }
    regret = _regret(tasks)
    reasoning = regret.loc[("category", "reasoning", "category pattern")]
    assert reasoning["regret"] == pytest.approx(0.1, abs=0.03), "0.1 x (1 decade)² of accuracy"
    assert 0 < reasoning["ci_low"] < 0.1 < reasoning["ci_high"] + 0.03
    pattern = regret.loc[("category", "pattern", "category reasoning")]
    assert pattern["regret"] == pytest.approx(0.2, abs=0.05)
    assert regret.loc[("task", "arc", "category pattern"), "regret"] == pytest.approx(reasoning["regret"])
    shared = regret.xs(SHARED, level="against")
    assert (shared["regret"] < regret.xs("category pattern", level="against")["regret"].max()).all()


def test_ratios_that_agree_cost_nothing_measurable() -> None:
    tasks = {
        "arc": PlantedTask("reasoning", best_z=-4.5, noise=0.02),
        "hellaswag": PlantedTask("pattern", best_z=-4.5, noise=0.02),
    }
    row = _regret(tasks).loc[("category", "reasoning", "category pattern")]
    assert row["ci_low"] <= 0 <= row["ci_high"] and abs(row["regret"]) < 0.02


def test_perplexity_lost_is_reported_as_perplexity_gained() -> None:
    tasks = {
        "ppl": PlantedTask("lm", best_z=-4.0, peak=12.0, curvature=2.0, noise=0.1, higher_is_better=False),
        "arc": PlantedTask("qa", best_z=-5.0, noise=0.01),
    }
    row = _regret(tasks, reference=10**-4.5).loc[("task", "ppl", "category qa")]
    assert row["regret"] == pytest.approx(2.0, abs=0.4) and row["metric"] == "acc"
    reference = _regret(tasks, reference=10**-4.5).loc[("category", "lm", REFERENCE)]
    assert reference["regret"] == pytest.approx(2.0 * 0.5**2, abs=0.25)


def test_a_ratio_outside_the_sweep_is_not_measured() -> None:
    tasks = {"arc": PlantedTask("r", best_z=-4.5, noise=0.01), "ifeval": PlantedTask("p", best_z=-4.0, noise=0.01)}
    row = _regret(tasks, reference=parse_ratio("5e-6/128")).loc[("category", "r", REFERENCE)]
    assert np.isnan(row["regret"]) and row["note"] == OUTSIDE
    assert parse_ratio("5e-6/128") == pytest.approx(5e-6 / 128) and parse_ratio(3e-7) == 3e-7
    with pytest.raises(ValueError, match="must be > 0"):
        parse_ratio("-1e-6/8")
