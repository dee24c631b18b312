"""The whole path through the real CLI: real Ray, real TRL, real lm-eval, on a 2 x 2 micro-sweep."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from sweeper.store import COLUMNS
from tests.conftest import micro_spec_dict


def _sweeper(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeper.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_micro_sweep_end_to_end(tmp_path: Path) -> None:
    raw = micro_spec_dict(tmp_path / "run")
    # a fifth, planted trial: lr 1e4 wrecks the model within a few steps and must come back `diverged`
    raw["grid"] = {"learning_rate": [1.0e-3, 3.0e-3, 1.0e4], "batch_size": [4, 8]}
    spec_path = tmp_path / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))

    done = _sweeper("run", str(spec_path), "--output-dir", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-3000:]

    run = tmp_path / "run"
    table = pd.read_parquet(run / "results.parquet")
    assert list(table.columns) == COLUMNS
    from_csv = pd.read_csv(run / "results.csv").drop(columns="error")
    pd.testing.assert_frame_equal(from_csv, table.drop(columns="error"), check_dtype=False)
    tasks = {t["task"] for t in raw["evaluation"]["tasks"]}
    trials = table[table.status != "baseline"]
    assert trials.trial_id.nunique() == 6
    stable = trials[trials.learning_rate < 1]
    assert set(stable.status) == {"ok"}, stable[["trial_id", "status", "error"]]
    assert stable.groupby("trial_id").task.apply(set).eq(tasks).all(), "every trial scores every task"
    assert stable.score.between(0, 1).all()
    assert (stable.train_tokens_per_second > 0).all() and (stable.train_steps > 0).all()
    assert set(stable.batch_size) == {4, 8}
    assert stable.lr_bs_ratio.round(12).equals((stable.learning_rate / stable.batch_size).round(12))

    planted = trials[trials.learning_rate > 1]
    assert set(planted.status) == {"diverged"}, planted[["trial_id", "status", "error"]]
    assert planted.score.isna().all() and planted.error.str.len().gt(0).all()

    baseline = table[table.status == "baseline"]
    assert set(baseline.task) == tasks and baseline.learning_rate.isna().all()

    resolved = yaml.safe_load((run / "spec.yaml").read_text())
    assert resolved["output_dir"] == str(run) and resolved["evaluation"]["batch_size"] == 64
    assert (run / "tune").is_dir() and (run / "plots" / "score_vs_ratio.png").stat().st_size > 10_000
    printed = done.stdout
    assert "lr1e-03_bs4_s0" in printed and "diverged" in printed, printed[-2000:]

    # `sweeper results` prints the same table again and exports it
    shown = _sweeper("results", str(run), "--csv", str(tmp_path / "copy.csv"))
    assert shown.returncode == 0 and "lr3e-03_bs8_s0" in shown.stdout
    assert len(pd.read_csv(tmp_path / "copy.csv")) == len(table)

    # a second `run` into the same dir refuses instead of mixing two sweeps
    again = _sweeper("run", str(spec_path), "--output-dir", str(run))
    assert again.returncode == 2 and "sweeper resume" in again.stderr
    assert not math.isnan(table.score.max())
