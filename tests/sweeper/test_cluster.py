"""A real two-node Ray cluster on loopback, started once for the module: a two-worker trial through the CLI spans
both nodes and trains on the tokens of a one-worker trial, and a sweep survives losing the worker node mid-sweep
(its trials are retried on the head) and ends with every trial accounted for."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import ray
import yaml
from ray.cluster_utils import Cluster

from contract.spec import spec_from_dict
from contract.store import TrialStatus
from tests.conftest import micro_spec_dict
from trials.prepare import prepare_sweep
from trials.trial import run_trial


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node of one CPU each; a test that removes the worker leaves it to `_with_a_worker`."""
    ray.shutdown()  # an earlier test's local Ray must not stand in for the cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        yield cluster
    finally:
        cluster.shutdown()


def _with_a_worker(cluster: Cluster):
    """The cluster's worker node, started if there is none (the first test, or one removed by an earlier test)."""
    if not cluster.worker_nodes:
        cluster.add_node(num_cpus=1)
        # Ray's default of 30 s runs out on a loaded machine; a removed node also counts as live until Ray's health
        # check has declared it dead.
        cluster.wait_for_nodes(timeout=180)
    return next(iter(cluster.worker_nodes))


def _finished(run: Path) -> int:
    try:
        return pd.read_parquet(run / "results.parquet").trial_id.nunique()
    except (FileNotFoundError, OSError):
        return 0


def test_a_two_worker_trial_spans_the_two_nodes_and_consumes_a_one_worker_trials_tokens(
    tmp_path: Path, cluster: Cluster
) -> None:
    """One CPU per node and STRICT_SPREAD: the trial's two workers can only run one on each node. The one-worker
    trial it is held against is the same grid point trained by `run_trial` here, the function a one-worker sweep's
    trial runs; the untrained model is scored on a worker of its own."""
    _with_a_worker(cluster)
    run = tmp_path / "run"
    raw = micro_spec_dict(run)
    raw["grid"] = {"learning_rate": [1.0e-3], "batch_size": [8]}
    raw["training"]["max_per_device_batch"] = 4
    raw["resources"] = {"cpus": 1, "workers": 2, "placement_strategy": "STRICT_SPREAD"}
    spec_path = tmp_path / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "run", str(spec_path), "--address", cluster.address, "--quiet",
         "--no-analyze"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    together = pd.read_parquet(run / "results.parquet")
    trial = together[together.status != "baseline"].iloc[0]
    assert trial.status == "ok", trial.error
    assert trial.world_size == 2 and (trial.per_device_batch_size, trial.gradient_accumulation_steps) == (4, 1)
    assert set(together.status) == {"ok", "baseline"}, "the untrained model is scored on a worker too"
    assert together[together.status == "baseline"].score.notna().any()
    one = spec_from_dict({**raw, "resources": {"cpus": 1}, "output_dir": str(tmp_path / "one")})
    alone = run_trial(one, prepare_sweep(one), one.trial_params(1e-3, 8, 0), tmp_path / "one-trial")
    assert alone.status is TrialStatus.OK and alone.params.world_size == 1
    assert trial.train_tokens == alone.train_tokens > 0, "every token of the batch, counted over both workers"


def test_sweep_on_two_nodes_survives_losing_the_worker(tmp_path: Path, cluster: Cluster) -> None:
    worker = _with_a_worker(cluster)
    run = tmp_path / "run"
    raw = micro_spec_dict(run)
    raw["grid"] = {"learning_rate": [1.0e-3, 2.0e-3, 3.0e-3], "batch_size": [4, 8]}
    raw["evaluation"]["baseline"] = False
    raw["search"] = {"max_failures": 3}
    spec_path = tmp_path / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    driver = subprocess.Popen(
        [sys.executable, "-m", "sweeper.cli", "run", str(spec_path), "--address", cluster.address,
         "--quiet", "--no-analyze"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 400
    while _finished(run) < 1 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.5)
    assert driver.poll() is None, "the sweep must still be running when the worker node dies"
    cluster.remove_node(worker, allow_graceful=False)
    stdout, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stderr[-3000:]
    table = pd.read_parquet(run / "results.parquet")
    trials = table.drop_duplicates("trial_id")
    assert len(trials) == 6, "every trial accounted for, exactly once"
    assert set(trials.status) == {"ok"}, trials[["trial_id", "status", "error"]]
    assert "[6/6]" in stdout
