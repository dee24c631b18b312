"""W&B runs -> tidy frame, on recorded (hand-made) public-API responses; no network."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

import analysis.load
from analysis import load_results
from analysis.errors import AnalysisInputError
from analysis.wandb_source import load_wandb, runs_to_frame

TASKS = {"arc": {"category": "reasoning", "metric": "acc"}, "ifeval": {"category": "pattern", "metric": "strict"}}


def recorded_run(name: str, learning_rate: float, seed: int, summary: dict) -> SimpleNamespace:
    config = {
        "learning_rate": learning_rate,
        "batch_size": 16,
        "per_device_batch_size": 4,
        "gradient_accumulation_steps": 4,
        "lr_bs_ratio": learning_rate / 16,
        "seed": seed,
        "method": "sft",
        "sweep": "demo",
        "trial_id": f"lr{learning_rate:.0e}_bs16_s{seed}",
        "tasks": TASKS,
    }
    return SimpleNamespace(name=name, config=config, summary=summary)


def test_runs_become_one_row_per_run_and_task() -> None:
    runs = [
        recorded_run(
            "a1",
            1e-4,
            0,
            {
                "status": "ok",
                "train_loss": 1.2,
                "train_steps": 40,
                "train_seconds": 9.5,
                "arc/score": 0.61,
                "arc/stderr": 0.02,
                "ifeval/score": 0.4,
                "ifeval/stderr": 0.03,
                "error": "",
            },
        ),
        recorded_run("a2", 3e-3, 0, {"status": "diverged", "error": "loss is nan at step 3"}),
    ]
    frame = runs_to_frame(runs).set_index(["trial_id", "task"])
    assert len(frame) == 4
    ok = frame.loc[("lr1e-04_bs16_s0", "arc")]
    assert (ok["score"], ok["stderr"], ok["category"], ok["metric"]) == (0.61, 0.02, "reasoning", "acc")
    assert (ok["train_steps"], ok["batch_size"], ok["status"]) == (40, 16, "ok")
    diverged = frame.loc[("lr3e-03_bs16_s0", "ifeval")]
    assert diverged["status"] == "diverged" and math.isnan(diverged["score"])
    assert diverged["error"] == "loss is nan at step 3"


def test_a_run_that_died_before_its_summary_counts_as_failed() -> None:
    frame = runs_to_frame([recorded_run("crashed", 1e-4, 1, {})])
    assert set(frame["status"]) == {"failed"} and frame["score"].isna().all()


def test_non_numeric_score_in_a_run_names_the_row() -> None:
    runs = [recorded_run("bad", 1e-4, 0, {"status": "ok", "arc/score": "oops", "ifeval/score": 0.3})]
    with pytest.raises(AnalysisInputError, match=r"'score' has non-numeric values in row 0 .*'oops'"):
        runs_to_frame(runs)


def test_a_run_without_tasks_says_how_to_log_them() -> None:
    run = SimpleNamespace(name="no-tasks", config={"learning_rate": 1e-4}, summary={})
    with pytest.raises(AnalysisInputError, match=r"run 'no-tasks' has no 'tasks'.*config\['tasks'\]"):
        runs_to_frame([run])


def test_bad_uri_is_rejected_before_any_network() -> None:
    with pytest.raises(AnalysisInputError, match="expected wandb://entity/project"):
        load_wandb("wandb://only-entity")


def test_load_results_dispatches_wandb_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_load_wandb(uri: str) -> pd.DataFrame:
        calls.append(uri)
        return runs_to_frame([recorded_run("r", 1e-4, 0, {"status": "ok", "arc/score": 0.5, "ifeval/score": 0.2})])

    monkeypatch.setattr(analysis.load, "load_wandb", fake_load_wandb)
    frame = load_results("wandb://me/sweeps/demo-group")
    assert calls == ["wandb://me/sweeps/demo-group"]
    assert sorted(frame["task"]) == ["arc", "ifeval"]
