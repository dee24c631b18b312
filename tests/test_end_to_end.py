"""The whole path through the real CLI, run once for this module: real Ray, TRL, lm-eval and W&B (offline) on
a micro-sweep of 3 learning rates x 2 batch sizes, one of them a planted divergence (lr 1e4)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.schema import COLUMNS
from tests.conftest import micro_spec_dict
from tests.wandb_records import offline_runs

SECRETS = {"WANDB_API_KEY": "sekret-wandb-0123456789abcdef0123456789abcdef01234567", "HF_TOKEN": "hf_sekretTOKEN42"}
DEAD_WANDB_SERVICE = "3-999999-tcp-localhost-1"
"""A W&B service token (wandb's format: version, pid, port) of a service that is not running."""


@dataclass
class Sweep:
    run: Path
    raw: dict
    done: subprocess.CompletedProcess
    table: pd.DataFrame


def _sweeper(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sweeper.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    root = tmp_path_factory.mktemp("e2e")
    raw = micro_spec_dict(root / "run")
    raw["grid"] = {"learning_rate": [1.0e-3, 3.0e-3, 1.0e4], "batch_size": [4, 8]}
    raw["wandb"] = {"mode": "disabled", "project": "ratio-test"}  # WANDB_MODE below wins, as in every W&B tool
    spec_path = root / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    # A W&B service this process was handed and that is gone: the sweep's own runs never use an inherited one.
    env = {**os.environ, **SECRETS, "WANDB_MODE": "offline", "WANDB_SERVICE": DEAD_WANDB_SERVICE}
    done = _sweeper("run", str(spec_path), "--output-dir", str(root / "run"), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return Sweep(root / "run", raw, done, pd.read_parquet(root / "run" / "results.parquet"))


def test_results_table_has_every_trial_and_task(sweep: Sweep) -> None:
    table = sweep.table
    assert list(table.columns) == list(COLUMNS)
    from_csv = pd.read_csv(sweep.run / "results.csv").drop(columns="error")
    pd.testing.assert_frame_equal(from_csv, table.drop(columns="error"), check_dtype=False)
    tasks = {t["task"] for t in sweep.raw["evaluation"]["tasks"]}
    trials = table[table.status != "baseline"]
    assert trials.trial_id.nunique() == 6
    stable = trials[trials.learning_rate < 1]
    assert set(stable.status) == {"ok"}, stable[["trial_id", "status", "error"]]
    assert stable.groupby("trial_id").task.apply(set).eq(tasks).all(), "every trial scores every task"
    assert stable.score.between(0, 1).all()
    assert (stable.train_tokens_per_second > 0).all() and (stable.train_steps > 0).all()
    assert set(stable.batch_size) == {4, 8}
    assert stable.lr_bs_ratio.round(12).equals((stable.learning_rate / stable.batch_size).round(12))
    baseline = table[table.status == "baseline"]
    assert set(baseline.task) == tasks and baseline.learning_rate.isna().all()


def test_planted_divergence_is_data_not_a_crash(sweep: Sweep) -> None:
    planted = sweep.table[sweep.table.learning_rate > 1]
    assert set(planted.status) == {"diverged"}, planted[["trial_id", "status", "error"]]
    assert planted.score.isna().all() and planted.error.str.len().gt(0).all()
    assert "diverged" in sweep.done.stdout


def test_run_leaves_spec_tune_folder_plots_and_a_printed_table(sweep: Sweep) -> None:
    resolved = yaml.safe_load((sweep.run / "spec.yaml").read_text())
    assert resolved["output_dir"] == str(sweep.run) and resolved["evaluation"]["batch_size"] == 64
    assert (sweep.run / "tune").is_dir() and (sweep.run / "plots" / "score_vs_ratio.png").stat().st_size > 10_000
    assert "lr1e-03_bs4_s0" in sweep.done.stdout and "lr/bs" in sweep.done.stdout


def test_results_and_status_commands_read_the_sweep_back(sweep: Sweep, tmp_path: Path) -> None:
    shown = _sweeper("results", str(sweep.run), "--csv", str(tmp_path / "copy.csv"))
    assert shown.returncode == 0 and "lr3e-03_bs8_s0" in shown.stdout
    assert len(pd.read_csv(tmp_path / "copy.csv")) == len(sweep.table)
    status = _sweeper("status", str(sweep.run))
    assert status.returncode == 0 and "6/6 trials" in status.stdout and "diverged 2" in status.stdout


def test_second_run_into_the_same_dir_refuses(sweep: Sweep) -> None:
    again = _sweeper("run", str(sweep.run / "spec.yaml"), "--output-dir", str(sweep.run))
    assert again.returncode == 2 and "sweeper resume" in again.stderr and "Traceback" not in again.stderr


def test_wandb_offline_runs_hold_config_scores_and_the_summary_table(sweep: Sweep) -> None:
    runs = offline_runs(sweep.run / "wandb")
    trial_ids = set(sweep.table.trial_id) - {"baseline"}
    assert set(runs) == trial_ids | {"micro-summary"}, "one run per trial, plus one summary run"
    run = runs["lr1e-03_bs4_s0"]
    assert run.group == "micro" and run.job_type == "sft"
    assert run.config["lr_bs_ratio"] == pytest.approx(1e-3 / 4)
    assert run.config["log10_lr_bs_ratio"] == pytest.approx(math.log10(1e-3 / 4))
    assert run.config["per_device_batch_size"] * run.config["gradient_accumulation_steps"] == 4
    assert run.summary["status"] == "ok"
    for row in sweep.table[sweep.table.trial_id == "lr1e-03_bs4_s0"].itertuples():
        assert run.summary[f"{row.task}/score"] == pytest.approx(row.score)
    assert "category/reasoning/score" in run.summary and "category/pattern/score" in run.summary
    assert any("train/loss" in row for row in run.history), "per-step loss comes from TRL's W&B callback"
    assert runs["lr1e+04_bs4_s0"].summary["status"] == "diverged"
    summary = runs["micro-summary"]
    assert summary.job_type == "summary" and summary.summary["results/_type"] == "table-file"
    assert summary.summary["results/nrows"] == len(sweep.table)
    assert any(key.startswith("plots/score_vs_ratio") for key in summary.summary), "the figures are logged"
    assert json.loads((sweep.run / "sweep.json").read_text())["sweep_id"] in run.run_id


def test_no_secret_is_written_anywhere(sweep: Sweep) -> None:
    for path in sweep.run.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for name, secret in SECRETS.items():
                assert secret.encode() not in content, f"{name} leaked into {path}"
