"""Trials of several data-parallel workers on Ray Train (gloo on this CPU), through real Ray: the same optimizer
step as one worker at the same effective batch (a LoRA adapter's too), a killed trial that resumes from its
checkpoint, and a whole sweep that consumes the same tokens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import ray
import yaml
from transformers import TrainerCallback

from contract.spec import SweepSpec, TrialParams, spec_from_dict
from contract.store import TrialStatus
from sweeper.ray_train import _fit
from tests.conftest import micro_spec_dict
from trials.prepare import PreparedSweep, prepare_sweep
from trials.trial import run_trial

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
    start = {name: p.detach().clone() for name, p in model.named_parameters()}  # with LoRA, the adapter's too
    if "kill_at_step" in config:
        trainer[0].add_callback(KillAtStep(config["kill_at_step"]))
    outcome = train(*trainer)
    if dist.is_initialized() and dist.get_rank() != 0:
        return None
    moved = max((p - start[name]).abs().max().item() for name, p in model.named_parameters())
    weights = {name: p.detach().numpy().copy() for name, p in model.named_parameters()}
    return {"tokens": outcome.tokens, "steps": outcome.steps, "seconds": outcome.seconds, "moved": moved, **weights}


class KillAtStep(TrainerCallback):
    """SIGKILL this worker at the end of a step, as a pre-empted node or an out-of-memory kill would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def local_ray():
    ray.shutdown()
    # A Ray of its own: on a shared machine a bare ray.init() would join whatever cluster another process started.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _trained_alone(tmp_path: Path, learning_rate: float, **training: Any) -> tuple[SweepSpec, PreparedSweep, dict]:
    """The micro spec (3 steps at batch 8, micro-batch 4) on two workers, its prepared sweep, and a trial of the
    one-worker spec trained in this process (its tokens, steps, seconds, largest weight change and weights)."""
    budget = {"training.max_per_device_batch": 4, "training.warmup_ratio": 0.0, "training.train_examples": 24}
    raw = micro_spec_dict(tmp_path / "run", **budget, **training)
    one = spec_from_dict(raw)
    two = spec_from_dict({**raw, "resources": {"cpus": 1, "workers": 2}})
    prepared = prepare_sweep(one)
    params = one.trial_params(learning_rate, 8, 0)
    alone = _train_and_return_weights({"spec": one, "prepared": prepared, "params": params, "out": tmp_path / "one"})
    return two, prepared, alone


@pytest.mark.parametrize(
    ("optim", "learning_rate", "adapter"),
    [("sgd", 0.5, {}), ("adamw_torch", 1e-3, {}), ("adamw_torch", 1e-2, {"training.lora": {"rank": 4}})],
    ids=["sgd", "adamw", "adamw_lora"],
)
def test_two_workers_take_the_same_step_as_one_at_the_same_effective_batch(
    tmp_path: Path, local_ray, optim: str, learning_rate: float, adapter: dict
) -> None:
    two, prepared, alone = _trained_alone(tmp_path, learning_rate, **{"training.optim": optim}, **adapter)
    params = two.trial_params(learning_rate, 8, 0)
    assert (params.per_device_batch_size, params.gradient_accumulation_steps, params.world_size) == (4, 1, 2)
    assert TrialParams.make(learning_rate, 8, 0, 4) != params, "the same batch, split another way"
    config = {"spec": two, "prepared": prepared, "params": params, "out": str(tmp_path / "two")}
    together = _fit(two, _train_and_return_weights, config, 2, "equivalence")
    assert together["tokens"] == alone["tokens"] > 0, "every token of the batch, counted over both workers"
    moved = alone["moved"]
    assert moved > 1e-3, "the steps must change the weights"
    worst = max(np.abs(alone[name] - together[name]).max() for name in alone if name not in RECORDED)
    assert worst < 1e-5 + 1e-4 * moved, f"max weight difference {worst:.2e} after moving {moved:.2e}"


def test_a_killed_two_worker_trial_resumes_from_its_checkpoint_and_ends_where_an_unbroken_run_does(
    tmp_path: Path, local_ray
) -> None:
    two, prepared, unbroken = _trained_alone(tmp_path, 1e-3, **{"training.checkpoint_steps": 2})
    assert unbroken["steps"] == 3
    out = tmp_path / "two"
    config = {"spec": two, "prepared": prepared, "params": two.trial_params(1e-3, 8, 0), "out": str(out)}
    with pytest.raises(RuntimeError, match="a worker of trial killed failed"):
        _fit(two, _train_and_return_weights, {**config, "kill_at_step": 3}, 2, "killed")
    assert [path.name for path in out.glob("checkpoint-*")] == ["checkpoint-2"]
    clock = json.loads((out / "checkpoint-2" / "trial_clock.json").read_text())
    assert clock["train_tokens"] > 0 and clock["train_seconds"] > 0, "the clock of the killed run, whole"
    resumed = _fit(two, _train_and_return_weights, config, 2, "resumed")
    assert resumed["steps"] == 3 and resumed["seconds"] > clock["train_seconds"]
    assert resumed["tokens"] == unbroken["tokens"], "steps 1-2 counted from the checkpoint's clock, 3 trained again"
    worst = max(np.abs(unbroken[name] - resumed[name]).max() for name in unbroken if name not in RECORDED)
    assert worst < 1e-4, f"max weight difference {worst:.2e} from the unbroken run"


RECORDED = {"tokens", "steps", "seconds", "moved"}


def _sweep_raw(tmp_path: Path, name: str, **changes: Any) -> dict[str, Any]:
    return micro_spec_dict(tmp_path / name, **{"grid": {"learning_rate": [1e-3], "batch_size": [8]}, **changes})


def test_a_two_worker_sweep_runs_through_the_cli_and_consumes_a_one_worker_trials_tokens(tmp_path: Path) -> None:
    """The two-worker sweep through the real CLI and its own Ray; the one-worker trial it is held against is the same
    grid point trained by `run_trial` here, the function a one-worker sweep's trial runs (its Ray start would only add
    a minute)."""
    raw = _sweep_raw(tmp_path, "two", resources={"cpus": 1, "workers": 2}, **{"training.max_per_device_batch": 4})
    spec_path = tmp_path / "two.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "run", str(spec_path), "--quiet", "--no-analyze"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "RAY_ADDRESS": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    together = pd.read_parquet(tmp_path / "two" / "results.parquet")
    one = spec_from_dict(_sweep_raw(tmp_path, "one", **{"evaluation.baseline": False}))
    alone = run_trial(one, prepare_sweep(one), one.trial_params(1e-3, 8, 0), tmp_path / "one-trial")
    assert alone.status is TrialStatus.OK and alone.params.world_size == 1
    trial = together[together.status != "baseline"].iloc[0]
    assert trial.status == "ok" and trial.world_size == 2
    assert (trial.per_device_batch_size, trial.gradient_accumulation_steps) == (4, 1)
    assert trial.train_tokens == alone.train_tokens > 0
    assert set(together.status) == {"ok", "baseline"}, "the untrained model is scored on a worker too"
    assert together[together.status == "baseline"].score.notna().any()
