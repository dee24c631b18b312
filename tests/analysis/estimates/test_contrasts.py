"""Category contrasts: a planted difference between two categories' optima is found with the right sign, and none
is invented where the optima agree."""

from __future__ import annotations

import pytest

from analysis.estimates.contrasts import category_contrasts
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES, PLANTED_CATEGORIES, fits_of


def test_planted_contrast_is_detected_with_the_right_sign() -> None:
    contrast = category_contrasts(
        list(fits_of(planted_table(PLANTED_CATEGORIES, LEARNING_RATES, BATCH_SIZES)).values())
    )
    row = contrast.iloc[0]
    assert (row["category_a"], row["category_b"]) == ("reasoning", "pattern")
    assert row["diff_log10_ratio"] == pytest.approx(1.0, abs=0.2)
    assert 0 < row["ci_low"] < row["diff_log10_ratio"] < row["ci_high"]
    assert row["separable"] and row["p_value"] < 0.01 and not row["bounded_by_range"]


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
