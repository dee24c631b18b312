"""Ray Tune experiment folders -> tidy frame: the column mapping on a recorded results table, and (slow) on a
real local Tune run of a dummy trainable, with one trial that errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import load_results
from analysis.load import ray_results_to_frame
from analysis.schema import validate_results


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

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
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
