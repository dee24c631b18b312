"""The results format: every source's table is validated once; the ratio columns are derived there, absent columns
take their defaults, and a bad table fails with a message that names the column, the rows and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import load_results
from analysis.errors import AnalysisInputError
from analysis.schema import COLUMNS, validate_results


def test_lr_bs_ratio_and_its_log_are_derived_and_the_baseline_kept(results_table: pd.DataFrame) -> None:
    frame = load_results(results_table.assign(lr_bs_ratio=999.0, log10_ratio=999.0))
    trained = frame[frame["status"] != "baseline"]
    np.testing.assert_allclose(trained["lr_bs_ratio"], trained["learning_rate"] / trained["batch_size"].astype(float))
    np.testing.assert_allclose(trained["log10_ratio"], np.log10(trained["lr_bs_ratio"]))
    baseline = frame[frame["status"] == "baseline"]
    assert len(baseline) == 2 and baseline["lr_bs_ratio"].isna().all() and baseline["log10_ratio"].isna().all()


def test_missing_columns_are_named_with_the_fix(results_table: pd.DataFrame) -> None:
    with pytest.raises(AnalysisInputError) as error:
        load_results(results_table.drop(columns=["score", "category"]))
    message = str(error.value)
    assert "'category'" in message and "'score'" in message
    assert "ARCHITECTURE.md" in message


def test_non_numeric_scores_name_the_row_and_value(results_table: pd.DataFrame) -> None:
    broken = results_table.copy()
    broken["score"] = broken["score"].astype(object)
    broken.loc[3, "score"] = "N/A"
    with pytest.raises(AnalysisInputError) as error:
        load_results(broken)
    message = str(error.value)
    assert "'score'" in message and "row 3" in message and "'N/A'" in message
    assert "leave the cell empty" in message


def test_unknown_status_and_non_positive_lr_are_rejected(results_table: pd.DataFrame) -> None:
    with pytest.raises(AnalysisInputError, match=r"unknown value.*'crashed'"):
        load_results(results_table.assign(status=results_table["status"].replace("diverged", "crashed")))
    negative = results_table.copy()
    negative.loc[negative["status"] == "ok", "learning_rate"] *= -1
    with pytest.raises(AnalysisInputError, match="'learning_rate' must be > 0"):
        load_results(negative)


def test_a_task_with_several_metrics_becomes_one_series_per_metric(results_table: pd.DataFrame) -> None:
    arc = results_table[results_table["task"] == "arc"]
    doubled = pd.concat([results_table, arc.assign(metric="acc_norm", score=arc["score"] + 0.01)])
    frame = load_results(doubled)
    assert set(frame["task"]) == {"arc/acc", "arc/acc_norm", "hellaswag"}


def test_absent_columns_take_their_defaults_and_flags_read_in_any_spelling(results_table: pd.DataFrame) -> None:
    frame = validate_results(results_table.drop(columns=["higher_is_better", "method"]))
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert frame["higher_is_better"].all() and (frame["world_size"] == 1).all()
    assert (frame["method"] == "").all() and frame["train_loss"].isna().all()
    for spelling in ("False", "0", "no", "1.0", "yes", "TRUE"):
        flags = validate_results(results_table.assign(higher_is_better=spelling))["higher_is_better"]
        assert (flags == (spelling in {"1.0", "yes", "TRUE"})).all(), spelling
