"""load_results: every source gives the same validated frame; bad tables fail with a message that says the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import load_results
from analysis.errors import AnalysisInputError
from analysis.load import aggregate_seeds
from analysis.schema import COLUMNS, DERIVED_COLUMNS
from analysis.synthetic import PlantedTask, planted_table


@pytest.fixture
def table() -> pd.DataFrame:
    tasks = {"arc": PlantedTask("reasoning", -4.0), "hellaswag": PlantedTask("pattern", -5.0)}
    return planted_table(tasks, [1e-4, 1e-3], [8, 16], seeds=(0, 1), diverge_above=1e-4)


def test_every_file_source_gives_the_same_frame(table: pd.DataFrame, tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    table.to_parquet(sweep_dir / "results.parquet")
    csv_only = tmp_path / "csv_only"
    csv_only.mkdir()
    table.to_csv(csv_only / "results.csv", index=False)

    expected = load_results(table)
    assert list(expected.columns) == [*COLUMNS, *DERIVED_COLUMNS]
    for source in (sweep_dir, csv_only, str(csv_only / "results.csv"), sweep_dir / "results.parquet"):
        pd.testing.assert_frame_equal(load_results(source), expected, check_dtype=False)


def test_lr_bs_ratio_and_its_log_are_derived_and_the_baseline_kept(table: pd.DataFrame) -> None:
    frame = load_results(table.assign(lr_bs_ratio=999.0, log10_ratio=999.0))
    trained = frame[frame["status"] != "baseline"]
    np.testing.assert_allclose(trained["lr_bs_ratio"], trained["learning_rate"] / trained["batch_size"].astype(float))
    np.testing.assert_allclose(trained["log10_ratio"], np.log10(trained["lr_bs_ratio"]))
    baseline = frame[frame["status"] == "baseline"]
    assert len(baseline) == 2 and baseline["lr_bs_ratio"].isna().all() and baseline["log10_ratio"].isna().all()


def test_missing_columns_are_named_with_the_fix(table: pd.DataFrame) -> None:
    with pytest.raises(AnalysisInputError) as error:
        load_results(table.drop(columns=["score", "category"]))
    message = str(error.value)
    assert "'category'" in message and "'score'" in message
    assert "ARCHITECTURE.md" in message


def test_non_numeric_scores_name_the_row_and_value(table: pd.DataFrame) -> None:
    broken = table.copy()
    broken["score"] = broken["score"].astype(object)
    broken.loc[3, "score"] = "N/A"
    with pytest.raises(AnalysisInputError) as error:
        load_results(broken)
    message = str(error.value)
    assert "'score'" in message and "row 3" in message and "'N/A'" in message
    assert "leave the cell empty" in message


def test_unknown_status_and_non_positive_lr_are_rejected(table: pd.DataFrame) -> None:
    with pytest.raises(AnalysisInputError, match=r"unknown value.*'crashed'"):
        load_results(table.assign(status=table["status"].replace("diverged", "crashed")))
    negative = table.copy()
    negative.loc[negative["status"] == "ok", "learning_rate"] *= -1
    with pytest.raises(AnalysisInputError, match="'learning_rate' must be > 0"):
        load_results(negative)


def test_unreadable_sources_say_what_is_accepted(tmp_path) -> None:
    with pytest.raises(AnalysisInputError, match="no such results file"):
        load_results(tmp_path / "missing.csv")
    with pytest.raises(AnalysisInputError, match="not a Ray Tune experiment folder"):
        load_results(tmp_path)
    with pytest.raises(AnalysisInputError, match="no rows"):
        load_results(pd.DataFrame(columns=list(COLUMNS)))


def test_a_task_with_several_metrics_becomes_one_series_per_metric(table: pd.DataFrame) -> None:
    arc = table[table["task"] == "arc"]
    doubled = pd.concat([table, arc.assign(metric="acc_norm", score=arc["score"] + 0.01)])
    frame = load_results(doubled)
    assert set(frame["task"]) == {"arc/acc", "arc/acc_norm", "hellaswag"}


def test_aggregate_seeds_averages_ok_seeds_only() -> None:
    rows = pd.DataFrame(
        {
            "learning_rate": [1e-3, 1e-3, 1e-3, 1e-4],
            "batch_size": [8, 8, 8, 8],
            "seed": [0, 1, 2, 0],
            "task": "arc",
            "category": "reasoning",
            "metric": "acc",
            "score": [0.5, 0.7, np.nan, 0.4],
            "stderr": [0.03, 0.04, np.nan, np.nan],
            "status": ["ok", "ok", "diverged", "ok"],
        }
    )
    grid = aggregate_seeds(load_results(rows)).set_index("learning_rate")
    assert grid.loc[1e-3, "score"] == pytest.approx(0.6)
    assert grid.loc[1e-3, "score_sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert grid.loc[1e-3, "n_seeds"] == 2
    assert grid.loc[1e-3, "stderr"] == pytest.approx(np.sqrt((0.03**2 + 0.04**2) / 2))
    assert grid.loc[1e-4, "n_seeds"] == 1 and np.isnan(grid.loc[1e-4, "score_sd"])
    assert grid.loc[1e-3, "log10_ratio"] == pytest.approx(np.log10(1e-3 / 8))
