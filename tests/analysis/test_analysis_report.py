"""analyze() end to end: every output file, a report whose sentences carry the tables' numbers, and no crash on
the awkward sweeps (one task, one seed, a 2×2 grid, a task where every run diverged)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from analysis import analyze
from analysis.errors import AnalysisInputError
from analysis.findings import collect_warnings, contrast_sentence, ratio
from analysis.fit import category_contrasts, fit_series
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from tests.analysis.helpers import BATCH_SIZES, LEARNING_RATES, fits_of, series_of

PAPER_LIKE = {
    "arc": PlantedTask("reasoning", best_z=-4.0, noise=0.02),
    "gsm8k": PlantedTask("reasoning", best_z=-4.2, noise=0.02, curvature=0.05, metric="exact_match"),
    "hellaswag": PlantedTask("pattern", best_z=-5.2, noise=0.02),
    "ifeval": PlantedTask("pattern", best_z=-5.0, noise=0.02, curvature=0.2),
}
FIGURES = ("score_vs_ratio", "category_curves", "heatmaps", "invariants")
TABLES = {
    "fits": ["level", "name", "model", "coefficients", "r2", "cv_rmse", "n_points"],
    "optima": ["level", "name", "best_log10_ratio", "best_lr_bs_ratio", "ci_low", "ci_high", "at_grid_edge"],
    "invariants": ["level", "name", "invariant", "cv_rmse", "aic", "chosen", "alpha_hat", "alpha_ci_high"],
    "category_contrast": ["category_a", "category_b", "diff_log10_ratio", "ci_low", "ci_high", "p_value", "separable"],
    "divergence_frontier": ["batch_size", "frontier_lr_bs_ratio"],
}


def test_analyze_writes_every_output_and_reports_the_numbers(tmp_path) -> None:
    table = planted_table(PAPER_LIKE, LEARNING_RATES, BATCH_SIZES, seeds=(0, 1), diverge_above=1e-3 / 4)
    result = analyze(table, tmp_path, n_bootstrap=1000, seed=0)

    for name, columns in TABLES.items():
        written = pd.read_csv(tmp_path / f"{name}.csv")
        assert set(columns) <= set(written.columns), name
        assert len(written) == len(getattr(result, name))
    for figure in FIGURES:
        for suffix in ("png", "pdf"):
            assert (tmp_path / "plots" / f"{figure}.{suffix}").stat().st_size > 1000
    assert imread(tmp_path / "plots" / "score_vs_ratio.png").shape[1] == 1400
    assert not [path for path in tmp_path.rglob(".*")], "temp files left behind"
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o644

    report = (tmp_path / "report.md").read_text()
    optima = result.optima.set_index("name")
    for name in ("reasoning", "pattern", "arc", "ifeval"):
        best, low, high = optima.loc[name, ["best_log10_ratio", "ci_low", "ci_high"]]
        assert f"best lr/bs = {ratio(best)} [95% CI {ratio(low)}, {ratio(high)}]" in report
    contrast = result.category_contrast.iloc[0]
    assert f"reasoning − pattern = {contrast['diff_log10_ratio']:.2f} decades" in report
    assert contrast["separable"] and "reasoning prefers" in report
    assert "**lr/bs**" in report
    assert "diverged" in report and "## Divergence frontier" in report
    assert "![score_vs_ratio](plots/score_vs_ratio.png)" in report
    assert result.timings.keys() >= {"load", "fit", "invariants", "plots", "report"}


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
    assert "**fine** (a): optimum outside the grid" in report
    fine = result.optima.set_index("name").loc["fine"]
    assert fine["at_grid_edge"] and "best lr/bs" not in report.split("**fine**")[1].split("\n")[0]
    assert (tmp_path / "lost" / "plots" / "heatmaps.png").exists()


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


def test_same_seed_same_answer_and_too_few_resamples_refused(tmp_path) -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.5, noise=0.05)}, LEARNING_RATES, BATCH_SIZES)
    first, second = fits_of(table)["t"], fits_of(table)["t"]
    assert (first.ci_low, first.ci_high) == (second.ci_low, second.ci_high)
    with pytest.raises(AnalysisInputError, match="n_bootstrap must be >= 1000"):
        analyze(table, tmp_path, n_bootstrap=999)


@pytest.mark.parametrize(("skew", "flagged"), [(1.0, True), (0.0, False)])
def test_the_lowess_check_flags_a_skewed_peak_only(skew: float, flagged: bool) -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.5, skew=skew)}, LEARNING_RATES, BATCH_SIZES, (0, 1, 2))
    series, counts = series_of(table)
    fits = [fit_series(one, counts) for one in series.values()]
    tables = {"category_contrast": category_contrasts(fits)}
    warnings = collect_warnings(load_results(table), list(series.values()), fits, tables)
    assert any("task t: the LOWESS peak" in warning for warning in warnings) == flagged
