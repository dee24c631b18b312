"""Each estimate in words: a contrast whose CI includes zero says the data cannot separate the two optima, and a
tie between two scaling rules reads as undecided."""

from __future__ import annotations

import pandas as pd

from analysis.estimates.contrasts import category_contrasts
from analysis.report.findings import contrast_sentence, invariant_sentence
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES, fits_of


def test_a_contrast_whose_ci_includes_zero_says_the_data_cannot_separate() -> None:
    same = {
        name: PlantedTask(category, best_z=-4.5, noise=0.04)
        for name, category in (
            ("arc", "reasoning"),
            ("gsm8k", "reasoning"),
            ("hellaswag", "pattern"),
            ("ifeval", "pattern"),
        )
    }
    row = category_contrasts(list(fits_of(planted_table(same, LEARNING_RATES, BATCH_SIZES)).values())).iloc[0]
    sentence = contrast_sentence(row)
    assert "the data cannot separate the two optima" in sentence
    assert f"[95% CI {row['ci_low']:.2f}, {row['ci_high']:.2f}]" in sentence


def test_two_invariants_the_data_cannot_tell_apart_read_as_undecided() -> None:
    alpha = {"alpha_hat": 0.76, "alpha_ci_low": 0.48, "alpha_ci_high": 1.08}
    alpha |= {"alpha_ci_low_open": False, "alpha_ci_high_open": False}
    rows = pd.DataFrame(
        [
            {"invariant": "lr/bs", "cv_rmse": 0.088, "chosen": True, **alpha},
            {"invariant": "lr/sqrt(bs)", "cv_rmse": 0.095, "chosen": True, **alpha},
            {"invariant": "separate", "cv_rmse": 0.091, "chosen": False, **alpha},
        ]
    )
    assert invariant_sentence(rows).startswith("undecided between **lr/bs** and **lr/sqrt(bs)** (CV RMSE lr/bs 0.088")
    rows["chosen"] = rows["invariant"] == "lr/bs"
    assert invariant_sentence(rows).startswith("**lr/bs** (CV RMSE")
