"""A study across conditions, end to end: three model sizes on a planted power law analysed as one study (each
condition in its own folder, the comparison on top, the Answer opening with it), and two conditions given to the CLI
as a study folder whose sweeps share trial ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import analyze
from analysis.load import load_results
from analysis.report.analyze import AnalysisResult
from analysis.synthetic import PlantedTask, planted_table

LEARNING_RATES = np.geomspace(1e-5, 1e-2, 7)
BATCH_SIZES = (4, 16, 64)
SIZES = (1.35e8, 3.6e8, 1.7e9)
SLOPE = -1.0
"""The planted law: log10 of each category's optimal lr/bs falls by a decade per decade of parameters."""


def _sweep(size: float, seed: int, adapter: str = "full") -> pd.DataFrame:
    shift = SLOPE * (np.log10(size) - np.log10(SIZES[0]))
    tasks = {
        "arc": PlantedTask("reasoning", best_z=-4.2 + shift, noise=0.01),
        "hellaswag": PlantedTask("pattern", best_z=-5.2 + shift, noise=0.01),
    }
    table = planted_table(tasks, LEARNING_RATES, BATCH_SIZES, random_state=seed)
    return table.assign(model=f"m-{size:g}", model_parameters=int(size), adapter=adapter, sweep=f"s{seed}")


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> AnalysisResult:
    sweeps = [_sweep(size, seed) for seed, size in enumerate(SIZES)]
    return analyze(sweeps, tmp_path_factory.mktemp("study"), predict_sizes=[7e9])


def test_each_condition_is_analysed_in_its_folder_and_the_comparison_on_top(study: AnalysisResult) -> None:
    out = study.output_dir
    assert list(study.conditions) == ["135M", "360M", "1.7B"]
    for label in study.conditions:
        assert (out / label / "report.md").exists() and (out / label / "optima.csv").exists()
    for name in ("condition_optima", "condition_shifts", "size_law", "size_predictions"):
        assert (out / f"{name}.csv").exists()
    assert (out / "plots" / "condition_optima.png").exists() and (out / "plots" / "size_law.pdf").exists()
    assert set(study.optima["condition"]) == {"135M", "360M", "1.7B"}
    assert study.optima.columns[0] == "condition"
    assert all(warning.startswith("[") for warning in study.warnings if "size law" not in warning)


def test_the_shifts_and_the_size_law_hold_the_planted_truth(study: AnalysisResult) -> None:
    shifts = study.comparison["condition_shifts"]
    assert len(shifts) == 3 * 2  # three pairs of sizes, two categories
    big = shifts[(shifts["condition_a"] == "135M") & (shifts["condition_b"] == "1.7B")]
    truth = SLOPE * np.log10(SIZES[2] / SIZES[0])
    assert ((big["ci_low"] <= truth) & (truth <= big["ci_high"])).all()
    assert big["differ"].all()
    laws = study.comparison["size_law"].set_index("category")
    assert set(laws.index) == {"reasoning", "pattern"}
    assert ((laws["slope_ci_low"] <= SLOPE) & (laws["slope_ci_high"] >= SLOPE)).all()
    predictions = study.comparison["size_predictions"]
    assert predictions["extrapolation"].all() and (predictions["model_parameters"] == 7e9).all()


def test_the_answer_opens_with_the_comparison(study: AnalysisResult) -> None:
    lines = study.answer.splitlines()
    assert lines[0].startswith("- **Conditions compared**: 135M (21 trials), 360M (21 trials), 1.7B (21 trials)")
    assert any("1.7B's optimal lr/bs is" in line and "the conditions differ" in line for line in lines)
    assert any("across 3 model sizes" in line for line in lines)
    assert any("at 7B parameters" in line and "an extrapolation" in line for line in lines)
    report = (study.output_dir / "report.md").read_text()
    assert report.index("## Answer") < report.index("## Shifts between conditions")
    assert "[1.7B](1.7B/report.md)" in report


def test_a_study_folder_keeps_both_conditions_of_a_trial_id(tmp_path: Path) -> None:
    """Sweeps of two conditions share their trial ids (the same grid point, trained twice): the study keeps both."""
    for adapter in ("full", "lora"):
        (tmp_path / adapter).mkdir()
        _sweep(SIZES[0], seed=0, adapter=adapter).to_csv(tmp_path / adapter / "results.csv", index=False)
    table = load_results(tmp_path)
    assert table.groupby("adapter")["trial_id"].nunique().to_dict() == {"full": 22, "lora": 22}


def test_the_cli_compares_the_sweeps_it_is_given(tmp_path: Path) -> None:
    for adapter in ("full", "lora"):
        _sweep(SIZES[0], seed=1, adapter=adapter).to_csv(tmp_path / f"{adapter}.csv", index=False)
    sources = [str(tmp_path / "full.csv"), str(tmp_path / "lora.csv")]
    command = [sys.executable, "-m", "sweeper.cli", "analyze", *sources, "--output-dir", str(tmp_path / "cmp")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    shifts = pd.read_csv(tmp_path / "cmp" / "condition_shifts.csv")
    assert (shifts["condition_a"] == "full").all() and (shifts["condition_b"] == "lora").all()
    assert not shifts["differ"].any()  # the same truth trained twice
