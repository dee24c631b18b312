"""W&B runs -> tidy frame: on runs written by trials/tracking.py itself (offline, read back from their .wandb files,
the sweep's summary run included) and on hand-made public-API responses; no network."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

import analysis.load
from analysis import analyze, load_results
from analysis.errors import AnalysisInputError
from analysis.synthetic import PlantedTask, planted_table
from analysis.wandb_source import load_wandb, runs_to_frame
from tests.conftest import micro_spec_dict
from tests.wandb_records import offline_runs

TASKS = {
    "arc": {"category": "reasoning", "metric": "acc", "higher_is_better": True},
    "ifeval": {"category": "pattern", "metric": "strict", "higher_is_better": True},
}


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
    return SimpleNamespace(name=name, job_type="sft", config=config, summary=summary)


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
    run = SimpleNamespace(name="no-tasks", job_type="sft", config={"learning_rate": 1e-4}, summary={})
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


def test_runs_written_by_tracking_are_read_back_summary_run_included(tmp_path, monkeypatch) -> None:
    """`sweeper analyze wandb://...` failed on the project's own output: the summary run has no `tasks`."""
    from contract.spec import load_spec
    from contract.store import TaskScore, TrialResult, TrialStatus
    from trials.tracking import finish_trial_run, log_sweep_summary, start_trial_run

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    raw = micro_spec_dict(tmp_path / "run")
    raw["wandb"] = {"mode": "offline", "project": "ratio-test"}
    for index, task in enumerate(raw["evaluation"]["tasks"]):  # the driver resolves them before any trial runs
        task["higher_is_better"] = index != 0
    spec_path = tmp_path / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    spec = load_spec(spec_path)
    spec.resolved_output_dir().mkdir(parents=True)
    tasks = spec.evaluation.tasks
    for params, status in zip(spec.trials()[:2], (TrialStatus.OK, TrialStatus.DIVERGED), strict=True):
        scores = tuple(
            TaskScore(t.task, t.category, t.metric, 0.5 if status == TrialStatus.OK else math.nan, 0.02,
                      t.higher_is_better is not False)
            for t in tasks
        )  # fmt: skip
        result = TrialResult(spec.name, params.trial_id, spec.method, params, status, scores=scores)
        finish_trial_run(start_trial_run(spec, params), result)
    planted = {t.task: PlantedTask(t.category, best_z=-4.0, noise=0.01) for t in tasks}
    result = analyze(planted_table(planted, [1e-4, 1e-3, 1e-2], [4, 16, 64]), tmp_path / "analysis")
    stored = result.results.astype({column: float for column in result.results.select_dtypes("Int64").columns})
    log_sweep_summary(spec, stored, tmp_path / "analysis" / "plots", result)

    runs = offline_runs(spec.resolved_output_dir() / "wandb")
    assert {run.job_type for run in runs.values()} == {spec.method, "summary"}, "two trial runs and the summary run"
    frame = runs_to_frame(runs.values(), source="offline runs")
    assert len(frame) == 2 * len(tasks) and set(frame["trial_id"]) == {p.trial_id for p in spec.trials()[:2]}
    direction = frame.groupby("task")["higher_is_better"].first()
    assert not direction[tasks[0].task] and direction[tasks[1].task]
    ok = frame[frame["status"] == "ok"]
    assert (ok["score"] == 0.5).all() and (ok["stderr"] == 0.02).all()
    assert set(frame["status"]) == {"ok", "diverged"}
    summary = runs[f"{spec.name}-summary"].summary
    assert summary["answer"] == result.answer and "Confidence:" in summary["answer"]
    assert summary["optima/_type"] == summary["regret/_type"] == "table-file"
    assert summary["optima/nrows"] == len(result.optima) and summary["regret/nrows"] == len(result.regret)
    categories = {t.category for t in tasks}
    assert {key.split("_table")[0] for key in summary if key.startswith("scatter/")} == {
        f"scatter/{category}" for category in categories
    }, "one native scatter per category"
