"""analyze() end to end: every output file, a report that opens with its Answer and whose sentences carry the
tables' numbers, open intervals that read as open, advice that respects the divergence frontier, and no crash on
the awkward sweeps (one task, one seed, a 2×2 grid, a task where every run diverged)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from analysis import analyze
from analysis.errors import AnalysisInputError
from analysis.report.findings import ratio
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES, fits_of

PAPER_LIKE = {
    "arc": PlantedTask("reasoning", best_z=-4.0, noise=0.02),
    "gsm8k": PlantedTask("reasoning", best_z=-4.2, noise=0.02, curvature=0.05, metric="exact_match"),
    "hellaswag": PlantedTask("pattern", best_z=-5.2, noise=0.02),
    "ifeval": PlantedTask("pattern", best_z=-5.0, noise=0.02, curvature=0.2),
}
FIGURES = ("score_vs_ratio", "category_curves", "heatmaps", "surfaces", "batch_laws", "invariants")
TABLES = {
    "fits": ["level", "name", "model", "coefficients", "r2", "cv_rmse", "n_points"],
    "optima": [
        "level",
        "name",
        "best_log10_ratio",
        "best_lr_bs_ratio",
        "ci_low",
        "ci_high",
        "ci_low_open",
        "ci_high_open",
        "at_edge",
        "high_edge",
    ],
    "invariants": [
        "level",
        "name",
        "invariant",
        "cv_rmse",
        "aic",
        "chosen",
        "alpha_hat",
        "alpha_ci_high",
        "alpha_ci_high_open",
    ],
    "regret": ["level", "name", "category", "against", "regret", "ci_low", "ci_high", "metric", "note"],
    "optimal_lr": ["level", "name", "batch_size", "best_log10_lr", "ci_low", "ci_high", "ci_low_open", "ci_high_open"],
    "batch_laws": ["level", "name", "law", "coefficient", "b_noise", "b_noise_ci_low", "b_noise_ci_high", "chosen"],
    "category_contrast": ["category_a", "category_b", "diff_log10_ratio", "ci_low", "ci_high", "p_value", "separable"],
    "divergence_frontier": ["batch_size", "frontier_lr_bs_ratio"],
    "noise": ["task", "metric", "eval_sd", "seed_sd", "replicated_points", "fit_extra_sd"],
}


def test_analyze_writes_every_output_and_reports_the_numbers(tmp_path) -> None:
    # Runs diverge 0.7 decades past reasoning's optimum: ratios in between show the scores turn over.
    table = planted_table(PAPER_LIKE, LEARNING_RATES, BATCH_SIZES, seeds=(0, 1), diverge_above=2e-3 / 4)
    result = analyze(table, tmp_path, n_bootstrap=1000, seed=0, reference_ratio="1e-3/64")

    for name, columns in TABLES.items():
        written = pd.read_csv(tmp_path / f"{name}.csv")
        assert set(columns) <= set(written.columns), name
        assert len(written) == len(getattr(result, name))
    assert {path.name for path in (tmp_path / "plots").iterdir()} == {
        f"{figure}.{suffix}" for figure in FIGURES for suffix in ("png", "pdf")
    }
    assert imread(tmp_path / "plots" / "score_vs_ratio.png").shape[1] == 1400
    assert not [path for path in tmp_path.rglob(".*")], "temp files left behind"
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o644

    report = (tmp_path / "report.md").read_text()
    optima = result.optima.set_index("name")
    for name in ("reasoning", "pattern", "arc", "ifeval"):
        best, low, high, low_open, high_open = optima.loc[
            name, ["best_log10_ratio", "ci_low", "ci_high", "ci_low_open", "ci_high_open"]
        ]
        if name in ("reasoning", "pattern"):
            assert not (low_open or high_open)
        if high_open:
            assert (
                f"**{name}** (reasoning): best lr/bs ≥ {ratio(low)} (95% CI reaches the divergence frontier" in report
            )
        else:
            assert f"best lr/bs = {ratio(best)} [95% CI {ratio(low)}, {ratio(high)}]" in report
    contrast = result.category_contrast.iloc[0]
    assert f"reasoning − pattern = {contrast['diff_log10_ratio']:.2f} decades" in report
    assert contrast["separable"] and "reasoning prefers" in report

    answer = report.split("## Answer")[1].split("##")[0]
    assert report.index("## Answer") < report.index("## Categories")
    assert result.answer.strip() in answer
    for name in ("reasoning", "pattern"):
        best, low, high = optima.loc[name, ["best_log10_ratio", "ci_low", "ci_high"]]
        assert f"**{name}**" in answer and f"[95% CI {ratio(low)}, {ratio(high)}]" in answer
    assert "The categories differ" in answer and f"{contrast['diff_log10_ratio']:.2f} decades" in answer
    assert "One ratio for all tasks" in answer and "Confidence:" in answer
    regret = result.regret.set_index(["level", "name", "against"])
    other = regret.loc[("category", "reasoning", "category pattern")]
    assert other["ci_low"] > 0, "training reasoning at pattern's optimum (1 decade away) costs accuracy"
    reference = regret.loc[("category", "pattern", "reference")]
    assert reference["lr_bs_ratio"] == pytest.approx(1e-3 / 64) and reference["note"] == ""
    assert "## What the ratio is worth (regret)" in report and "## How the optimal learning rate moves" in report
    assert "**lr/bs**" in report
    assert "diverged" in report and "## Divergence frontier" in report
    assert "![score_vs_ratio](plots/score_vs_ratio.png)" in report
    assert result.timings.keys() >= {"load", "fit", "surfaces", "invariants", "plots", "report"}


def test_awkward_sweeps_do_not_crash(tmp_path) -> None:
    tiny = planted_table({"only": PlantedTask("solo", best_z=-4.0)}, [1e-4, 3e-4], [8, 32])
    result = analyze(tiny, tmp_path / "tiny", n_bootstrap=1000)
    assert (tmp_path / "tiny" / "plots" / "score_vs_ratio.png").exists()
    assert result.invariants.empty
    assert "Not compared" in (tmp_path / "tiny" / "report.md").read_text()

    tasks = {"fine": PlantedTask("a", best_z=-1.0), "lost": PlantedTask("b", best_z=-4.5)}
    table = planted_table(tasks, LEARNING_RATES, BATCH_SIZES)
    lost = (table["task"] == "lost") & (table["status"] == "ok")
    table.loc[lost, "status"] = "diverged"
    table.loc[lost, "score"] = np.nan
    result = analyze(table, tmp_path / "lost", n_bootstrap=1000)
    report = (tmp_path / "lost" / "report.md").read_text()
    assert "**lost** (b): no ok score" in report
    fine = result.optima.set_index("name").loc["fine"]
    assert fine["at_edge"] and fine["ci_high_open"] and not fine["ci_low_open"]
    line = report.split("- **fine** (a): ")[1].split("\n")[0]
    assert line.startswith(f"best lr/bs ≥ {ratio(fine['ci_low'])} (95% CI reaches the grid's edge")
    assert "[95% CI" not in line, "an open interval is never printed as an ordinary one"
    assert (tmp_path / "lost" / "plots" / "heatmaps.png").exists()


def test_same_seed_same_answer_and_bad_arguments_refused(tmp_path) -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.5, noise=0.05)}, LEARNING_RATES, BATCH_SIZES)
    first, second = fits_of(table)["t"], fits_of(table)["t"]
    assert first.optimum == second.optimum
    with pytest.raises(AnalysisInputError, match="n_bootstrap must be >= 1000"):
        analyze(table, tmp_path, n_bootstrap=999)
    with pytest.raises(AnalysisInputError, match="reference_ratio"):
        analyze(table, tmp_path, reference_ratio="fast/128")


def test_an_optimum_at_the_divergence_frontier_is_not_advised_to_extend_the_grid(tmp_path) -> None:
    """ "Optimum outside the grid; extend the grid to higher lr/bs" was printed when those ratios diverged."""
    table = planted_table({"t": PlantedTask("r", best_z=-3.0)}, LEARNING_RATES, BATCH_SIZES, diverge_above=10**-3.9)
    result = analyze(table, tmp_path)
    report = (tmp_path / "report.md").read_text()
    row = result.optima.set_index("name").loc["t"]
    assert row["ci_high_open"] and row["high_edge"] == "the divergence frontier"
    assert "extend the grid to higher" not in report
    assert "every higher ratio diverged" in report and "the optimum lies at the divergence frontier" in report
    assert "95% CI reaches the divergence frontier" in report


def test_an_optimum_held_at_the_frontier_names_the_batch_sizes_that_hold_it(tmp_path) -> None:
    """Learning rates above 1e-4 diverge at every batch size, the optimum lies above every stable ratio: the report
    says which batch sizes' divergences end the range (only the smallest reach above it), and optima.csv lists them."""
    task = PlantedTask("r", best_z=-3.0)
    table = planted_table({"t": task}, LEARNING_RATES, BATCH_SIZES, diverge_above_lr=1.01e-4)
    result = analyze(table, tmp_path)
    row = result.optima.set_index("name").loc["t"]
    frontier = result.divergence_frontier.set_index("batch_size")
    high = np.log10(1e-4 / min(BATCH_SIZES))
    above = [size for size in BATCH_SIZES if np.log10(frontier.loc[size, "frontier_lr_bs_ratio"]) > high]
    assert row["ci_high_open"] and row["high_edge"] == "the divergence frontier"
    assert row["frontier_batch_sizes"] == " ".join(str(size) for size in above) and above
    report = (tmp_path / "report.md").read_text()
    rate = frontier.loc[above[0], "frontier_learning_rate"]
    assert (
        f"batch size{'s' if len(above) > 1 else ''} {above[0]} (diverged from lr {rate:.1e}".replace("e-0", "e-")
        in report
    )


def test_the_reference_ratio_outside_the_sweep_is_not_measured(tmp_path) -> None:
    result = analyze(planted_table(PAPER_LIKE, LEARNING_RATES, BATCH_SIZES), tmp_path, reference_ratio=5e-6 / 128)
    rows = result.regret[result.regret["against"] == "reference"]
    assert len(rows) == 6 and rows["regret"].isna().all()
    assert rows["note"].str.contains("outside the sweep").all()
    assert "The reference ratio (lr/bs 3.9e-8) costs" in result.answer
