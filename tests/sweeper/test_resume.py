"""Stop the driver mid-sweep (SIGTERM, then SIGKILL), resume, and check nothing is lost or paid for twice (LoRA on)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import ray
import yaml

from contract.spec import spec_from_dict
from sweeper.driver import _start_ray
from tests.conftest import micro_spec_dict
from tests.wandb_records import offline_runs
from trials.tracking import start_trial_run


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


def test_a_lora_sweep_set_from_the_cli_survives_sigterm_then_sigkill_and_resumes_keeping_finished_trials(
    tmp_path: Path,
) -> None:
    """LoRA switched on from the command line (the demo spec has no `lora` section), W&B offline. A SIGTERM stops it
    cleanly and says how to resume; a resume SIGKILLed with everything it started costs no finished trial; the last
    resume ends it with each trial trained once, recording its adapter and parameter counts, in the results and in
    its W&B config. One sweep takes both stops: each driver start pays for Ray's start and the workers' imports."""
    run = tmp_path / "run"
    raw = micro_spec_dict(run)
    raw["grid"] = {"learning_rate": [1.0e-3, 1.0e-2], "batch_size": [4, 8]}
    raw["search"] = {"max_concurrent_trials": 1}  # one at a time: each stop surely lands mid-sweep
    spec_path = tmp_path / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "WANDB_MODE": "offline"}
    total = 4

    # 1. SIGTERM (a scheduler pre-empting the job): a clean stop, results flushed, told how to resume
    driver = _start("run", str(spec_path), "--set", "training.lora.rank=8", env=env)
    _wait_for(run, 1, driver)
    driver.send_signal(signal.SIGTERM)
    _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 130, stderr[-2000:]
    assert f"sweeper resume {run}" in stderr
    after_term = _finished_trials(run)
    assert 1 <= len(after_term) < total

    # 2. resume, then SIGKILL the driver and everything it started, Ray included
    driver = _start("resume", str(run), env=env)
    _wait_for(run, len(after_term) + 1, driver)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = _finished_trials(run)
    assert len(after_term) < len(before) < total, f"the kill must land mid-sweep, saw {len(before)} finished trials"

    # 3. resume to the end
    resumed = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "resume", str(run), "--no-analyze", "--quiet"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    table = pd.read_parquet(run / "results.parquet")
    after = table[table.status != "baseline"]
    assert after.groupby("trial_id").size().eq(len(raw["evaluation"]["tasks"])).all(), "each trial exactly once"
    trials = after.drop_duplicates("trial_id").set_index("trial_id")
    assert len(trials) == total and set(trials.status) == {"ok"}, trials[["status", "error"]]
    assert (trials.loc[before.trial_id, "started_at"].to_numpy() == before.started_at.to_numpy()).all(), (
        "trials that had finished before a stop must not be trained again"
    )
    assert (table.status == "baseline").sum() == len(raw["evaluation"]["tasks"])
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


def test_a_trial_killed_with_its_wandb_run_open_opens_that_run_again_when_it_is_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The W&B side of the resume above, in seconds: a trial's process killed with its run open, then the trial run
    again, same run id, as a resume does, by a driver whose process holds a W&B service (here pytest's, as after any
    test that used W&B in this process). Trials once opened their runs in that inherited service, which outlived the
    kill with the run open and refused the rerun ("run ID ... is in use"): the trial was recorded failed."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SERVICE", os.environ.get("WANDB_SERVICE", ""))  # set below by W&B: put back after
    wandb.init(dir=str(tmp_path)).finish()
    assert os.environ["WANDB_SERVICE"], "this process holds a W&B service, which the processes it starts inherit"
    spec = spec_from_dict(micro_spec_dict(tmp_path / "run", **{"wandb.mode": "offline"}))
    spec.resolved_output_dir().mkdir(parents=True)
    params = spec.trials()[0]

    def open_run(killed: bool) -> None:  # in a trial's process, as `trials.trial.run_trial` does
        run = start_trial_run(spec, params)
        if killed:
            os.kill(os.getpid(), signal.SIGKILL)
        run.finish()

    ray.shutdown()  # the driver's own Ray, as `sweeper resume` starts it
    _start_ray(None, verbose=False)
    try:
        with pytest.raises(ray.exceptions.WorkerCrashedError):
            ray.get(ray.remote(max_retries=0)(open_run).remote(killed=True))
        ray.get(ray.remote(open_run).remote(killed=False))
    finally:
        ray.shutdown()
