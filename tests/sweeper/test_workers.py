"""Trials of several data-parallel workers on Ray Train (gloo on this CPU), through real Ray: the same optimizer
step as one worker at the same effective batch, and a whole sweep that consumes the same tokens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import ray
import yaml

from contract.spec import TrialParams, spec_from_dict
from sweeper.ray_train import _fit
from tests.conftest import micro_spec_dict
from trials.prepare import prepare_sweep

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers run this module's loop by value


def _train_and_return_weights(config: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """What a trial's workers do up to the optimizer's last step, the trained weights back from rank 0."""
    import torch
    import torch.distributed as dist
    from datasets import load_from_disk

    from trials.model import load_model, load_tokenizer
    from trials.train import build_trainer, train

    spec, prepared, params = config["spec"], config["prepared"], config["params"]
    torch.manual_seed(0)
    model = load_model(prepared.model_path, spec.model)
    tokenizer = load_tokenizer(prepared.tokenizer_path, spec)
    dataset = load_from_disk(prepared.data_path)
    trainer = build_trainer(spec, params, model, tokenizer, dataset, Path(config["out"]))
    outcome = train(*trainer)
    if dist.is_initialized() and dist.get_rank() != 0:
        return None
    return {"tokens": outcome.tokens, **{name: p.detach().numpy().copy() for name, p in model.named_parameters()}}


@pytest.fixture(scope="module")
def local_ray():
    ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.mark.parametrize(("optim", "learning_rate"), [("sgd", 0.5), ("adamw_torch", 1e-3)])
def test_two_workers_take_the_same_step_as_one_at_the_same_effective_batch(
    tmp_path: Path, local_ray, optim: str, learning_rate: float
) -> None:
    training = {"training.optim": optim, "training.max_per_device_batch": 4, "training.warmup_ratio": 0.0,
                "training.train_examples": 24}  # fmt: skip
    raw = micro_spec_dict(tmp_path / "run", **training)
    one = spec_from_dict(raw)
    two = spec_from_dict({**raw, "resources": {"cpus": 1, "workers": 2}})
    prepared = prepare_sweep(one)
    alone = _train_and_return_weights(
        {"spec": one, "prepared": prepared, "params": one.trial_params(learning_rate, 8, 0), "out": tmp_path / "one"}
    )
    params = two.trial_params(learning_rate, 8, 0)
    assert (params.per_device_batch_size, params.gradient_accumulation_steps, params.world_size) == (4, 1, 2)
    assert TrialParams.make(learning_rate, 8, 0, 4) != params, "the same batch, split another way"
    config = {"spec": two, "prepared": prepared, "params": params, "out": str(tmp_path / "two")}
    together = _fit(two, _train_and_return_weights, config, 2, "equivalence")
    assert together["tokens"] == alone["tokens"] > 0, "every token of the batch, counted over both workers"
    moved = max(np.abs(alone[name] - start).max() for name, start in _initial(one, prepared).items())
    assert moved > 1e-3, "the steps must change the weights"
    worst = max(np.abs(alone[name] - together[name]).max() for name in alone if name != "tokens")
    assert worst < 1e-5 + 1e-4 * moved, f"max weight difference {worst:.2e} after moving {moved:.2e}"


def _initial(spec, prepared) -> dict[str, np.ndarray]:
    import torch

    from trials.model import load_model

    torch.manual_seed(0)
    return {
        name: p.detach().numpy().copy() for name, p in load_model(prepared.model_path, spec.model).named_parameters()
    }


def _sweep(tmp_path: Path, name: str, **changes: Any) -> pd.DataFrame:
    raw = micro_spec_dict(tmp_path / name, **{"grid": {"learning_rate": [1e-3], "batch_size": [8]}, **changes})
    spec_path = tmp_path / f"{name}.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "run", str(spec_path), "--quiet", "--no-analyze"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "RAY_ADDRESS": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return pd.read_parquet(tmp_path / name / "results.parquet")


def test_a_two_worker_sweep_runs_through_the_cli_and_consumes_a_one_worker_sweeps_tokens(tmp_path: Path) -> None:
    together = _sweep(tmp_path, "two", resources={"cpus": 1, "workers": 2}, **{"training.max_per_device_batch": 4})
    alone = _sweep(tmp_path, "one", **{"evaluation.baseline": False})
    trial = together[together.status != "baseline"].iloc[0]
    assert trial.status == "ok" and trial.world_size == 2
    assert (trial.per_device_batch_size, trial.gradient_accumulation_steps) == (4, 1)
    assert trial.train_tokens == alone.iloc[0].train_tokens > 0
    assert set(together.status) == {"ok", "baseline"}, "the untrained model is scored on a worker too"
    assert together[together.status == "baseline"].score.notna().any()
