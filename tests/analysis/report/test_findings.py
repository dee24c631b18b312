"""Each estimate in words: a contrast whose CI includes zero says the data cannot separate the two optima."""

from __future__ import annotations

from analysis.estimates.contrasts import category_contrasts
from analysis.report.findings import contrast_sentence
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
