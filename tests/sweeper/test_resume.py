"""Kill the driver mid-sweep with SIGKILL, resume, and check nothing is lost or paid for twice (a LoRA sweep too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from tests.conftest import micro_spec_dict
from tests.wandb_records import offline_runs


def _finished_trials(run: Path) -> pd.DataFrame:
    try:
        table = pd.read_parquet(run / "results.parquet")
    except (FileNotFoundError, OSError):
        return pd.DataFrame(columns=["trial_id", "status", "started_at"])
    return table[table.status != "baseline"].drop_duplicates("trial_id")


def _start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sweeper.cli", *args, "--no-analyze", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env,
    )  # fmt: skip


def _wait_for(run: Path, count: int, driver: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while len(_finished_trials(run)) < count and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.5)
    assert driver.poll() is None, "the sweep must still be running"


def test_sigterm_then_sigkill_then_resume_keeps_finished_trials(tmp_path: Path) -> None:
    run = tmp_path / "run"
    raw = micro_spec_dict(run)
    raw["grid"] = {"learning_rate": [1.0e-3, 2.0e-3, 3.0e-3], "batch_size": [4, 8]}
    raw["search"] = {"max_concurrent_trials": 1}  # one at a time: each stop surely lands mid-sweep
    spec_path = tmp_path / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))

    # 1. SIGTERM (a scheduler pre-empting the job): a clean stop, results flushed, told how to resume
    driver = _start("run", str(spec_path))
    _wait_for(run, 1, driver)
    driver.send_signal(signal.SIGTERM)
    _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 130, stderr[-2000:]
    assert f"sweeper resume {run}" in stderr
    after_term = _finished_trials(run)
    assert 1 <= len(after_term) < 6

    # 2. resume, then SIGKILL the driver and everything it started, Ray included
    driver = _start("resume", str(run))
    _wait_for(run, len(after_term) + 1, driver)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = _finished_trials(run)
    assert len(after_term) < len(before) < 6, f"the kill must land mid-sweep, saw {len(before)} finished trials"

    # 3. resume to the end
    resumed = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "resume", str(run), "--no-analyze", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    table = pd.read_parquet(run / "results.parquet")
    after = table[table.status != "baseline"]
    assert after.groupby("trial_id").size().eq(len(raw["evaluation"]["tasks"])).all(), "each trial exactly once"
    assert after.trial_id.nunique() == 6 and set(after.status) == {"ok"}
    kept = after.drop_duplicates("trial_id").set_index("trial_id").loc[before.trial_id, "started_at"]
    assert (kept.to_numpy() == before.set_index("trial_id").started_at.to_numpy()).all(), (
        "trials that had finished before a stop must not be trained again"
    )
    assert (table.status == "baseline").sum() == len(raw["evaluation"]["tasks"])


def test_a_lora_sweep_runs_offline_through_the_cli_and_resumes_after_sigkill(tmp_path: Path) -> None:
    """LoRA switched on from the command line (the demo spec has no `lora` section), W&B offline: each trial records
    its adapter and parameter counts, in the results and in its W&B config, and a SIGKILL costs no finished trial."""
    run = tmp_path / "run"
    raw = micro_spec_dict(run)
    raw["grid"] = {"learning_rate": [1.0e-2], "batch_size": [4, 8]}
    raw["search"] = {"max_concurrent_trials": 1}
    spec_path = tmp_path / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "WANDB_MODE": "offline"}

    driver = _start("run", str(spec_path), "--set", "training.lora.rank=8", env=env)
    _wait_for(run, 1, driver)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = _finished_trials(run)
    assert len(before) == 1, f"the kill must land mid-sweep, saw {len(before)} finished trials"
    resumed = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "resume", str(run), "--no-analyze", "--quiet"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    table = pd.read_parquet(run / "results.parquet")
    trials = table[table.status != "baseline"].drop_duplicates("trial_id").set_index("trial_id")
    assert len(trials) == 2 and set(trials.status) == {"ok"}
    assert trials.loc[before.trial_id, "started_at"].tolist() == before.started_at.tolist(), "not trained again"
    assert set(table.adapter) == {"lora"} and set(table.lora_rank) == {8}
    base_size = trials.model_parameters.iloc[0]
    assert set(table.model_parameters) == {base_size} and base_size > 0, "the baseline's count too"
    assert (trials.trainable_parameters > 0).all() and (trials.trainable_parameters < base_size).all()
    assert set(table[table.status == "baseline"].trainable_parameters) == {0}, "the untrained model trains nothing"
    runs = offline_runs(run / "wandb")
    for trial_id, trial in trials.iterrows():
        config = runs[trial_id].config
        assert (config["adapter"], config["lora_rank"]) == ("lora", 8)
        assert (config["model_parameters"], config["trainable_parameters"]) == (base_size, trial.trainable_parameters)
