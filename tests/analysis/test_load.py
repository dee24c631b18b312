"""load_results: every source gives the same validated frame (a sweep dir, a results file, a Ray Tune experiment
folder: the column mapping on a recorded results table, and (slow) on a real local Tune run of a dummy trainable,
with one trial that errors); an unreadable source says what is accepted; seeds average into grid points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import load_results
from analysis.errors import AnalysisInputError
from analysis.load import aggregate_seeds, ray_results_to_frame
from analysis.schema import COLUMNS, DERIVED_COLUMNS, validate_results


def test_every_file_source_gives_the_same_frame(results_table: pd.DataFrame, tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    results_table.to_parquet(sweep_dir / "results.parquet")
    csv_only = tmp_path / "csv_only"
    csv_only.mkdir()
    results_table.to_csv(csv_only / "results.csv", index=False)

    expected = load_results(results_table)
    assert list(expected.columns) == [*COLUMNS, *DERIVED_COLUMNS]
    for source in (sweep_dir, csv_only, str(csv_only / "results.csv"), sweep_dir / "results.parquet"):
        pd.testing.assert_frame_equal(load_results(source), expected, check_dtype=False)


def test_unreadable_sources_say_what_is_accepted(tmp_path) -> None:
    with pytest.raises(AnalysisInputError, match="no such results file"):
        load_results(tmp_path / "missing.csv")
    with pytest.raises(AnalysisInputError, match="not a Ray Tune experiment folder"):
        load_results(tmp_path)
    with pytest.raises(AnalysisInputError, match="no rows"):
        load_results(pd.DataFrame(columns=list(COLUMNS)))


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


def test_ray_results_table_becomes_one_row_per_trial_and_task() -> None:
    recorded = pd.DataFrame(
        {
            "status": ["ok", np.nan],
            "train_loss": [1.5, np.nan],
            "error": ["", np.nan],
            "done": [True, np.nan],
            "config/learning_rate": [1e-4, 3e-3],
            "config/batch_size": [8, 8],
            "config/seed": [0, 0],
            "tasks/arc/score": [0.61, np.nan],
            "tasks/arc/stderr": [0.02, np.nan],
            "tasks/arc/metric": ["acc", np.nan],
            "tasks/arc/category": ["reasoning", np.nan],
            "tasks/bbh/cot/score": [0.3, np.nan],
            "tasks/bbh/cot/stderr": [0.05, np.nan],
            "tasks/bbh/cot/metric": ["exact_match", np.nan],
            "tasks/bbh/cot/category": ["reasoning", np.nan],
        },
        index=pd.Index(["t_00000", "t_00001"], name="trial_id"),
    )
    frame = validate_results(ray_results_to_frame(recorded)).set_index(["trial_id", "task"])
    assert len(frame) == 4
    assert frame.loc[("t_00000", "bbh/cot"), "score"] == 0.3
    assert frame.loc[("t_00000", "arc"), "learning_rate"] == 1e-4
    errored = frame.loc[("t_00001", "arc")]
    assert errored["status"] == "failed" and np.isnan(errored["score"])
    assert (errored["category"], errored["metric"], errored["learning_rate"]) == ("reasoning", "acc", 3e-3)


@pytest.mark.slow
def test_a_real_tune_experiment_folder_loads(tmp_path) -> None:
    ray = pytest.importorskip("ray")
    from ray import tune

    def trainable(config: dict) -> None:
        if config["learning_rate"] > 1e-3:
            raise RuntimeError("diverged before reporting")
        score = 0.5 + config["learning_rate"] * 100
        tune.report(
            {
                "status": "ok",
                "train_loss": 1.0,
                "train_seconds": 0.1,
                "eval_seconds": 0.1,
                "train_steps": 5,
                "per_device_batch_size": 4,
                "gradient_accumulation_steps": config["batch_size"] // 4,
                "lr_bs_ratio": config["learning_rate"] / config["batch_size"],
                "error": "",
                "method": "sft",
                "sweep": "tiny",
                "trial_id": "ignored-by-ray",
                "tasks": {
                    "arc": {"score": score, "stderr": 0.01, "metric": "acc", "category": "reasoning"},
                    "ifeval": {
                        "score": 1 - score,
                        "stderr": 0.02,
                        "metric": "strict",
                        "category": "pattern",
                        "higher_is_better": True,
                    },
                },
            }
        )

    # A Ray of its own: a bare ray.init() joins any cluster another process on the machine started.
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        tuner = tune.Tuner(
            trainable,
            param_space={"learning_rate": tune.grid_search([1e-4, 3e-4, 3e-3]), "batch_size": 8, "seed": 0},
            run_config=tune.RunConfig(name="tiny", storage_path=str(tmp_path), verbose=0),
        )
        tuner.fit()
    finally:
        ray.shutdown()

    frame = load_results(tmp_path / "tiny")
    assert len(frame) == 6
    ok = frame[frame["status"] == "ok"].set_index(["learning_rate", "task"])
    assert ok.loc[(3e-4, "arc"), "score"] == pytest.approx(0.53)
    assert ok.loc[(3e-4, "ifeval"), "category"] == "pattern"
    assert (ok["gradient_accumulation_steps"] == 2).all() and (ok["sweep"] == "tiny").all()
    failed = frame[frame["learning_rate"] == 3e-3]
    assert set(failed["status"]) == {"failed"} and set(failed["task"]) == {"arc", "ifeval"}
    assert failed["score"].isna().all()
