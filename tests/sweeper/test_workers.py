"""Trials of several data-parallel workers on Ray Train (gloo on this CPU), through real Ray: the same optimizer
step as one worker at the same effective batch (a LoRA adapter's too), and a killed trial that resumes from its
checkpoint. A whole two-worker sweep through the CLI runs in `test_cluster.py`, its workers on two nodes."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray
from transformers import TrainerCallback

from contract.spec import SweepSpec, TrialParams, spec_from_dict
from sweeper.ray_train import _fit
from tests.conftest import micro_spec_dict
from trials.prepare import PreparedSweep, prepare_sweep

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


EQUIVALENCE_CASES = {
    "sgd": (0.5, {"training.optim": "sgd"}),
    "adamw": (1e-3, {"training.optim": "adamw_torch"}),
    "adamw_lora": (1e-2, {"training.optim": "adamw_torch", "training.lora": {"rank": 4}}),
}
"""Plain SGD shows a gradient scaled wrong (Adam's step would hide it); AdamW its state; LoRA the adapter's step."""


def _train_each_case(config: dict[str, Any]) -> dict[str, Any] | None:
    """Every case's trial, one after another, in one worker group: rank 0 returns each case's weights by name."""
    results = {name: _train_and_return_weights(case) for name, case in config["cases"].items()}
    return None if None in results.values() else results


def test_two_workers_take_the_same_step_as_one_at_the_same_effective_batch(tmp_path: Path, local_ray) -> None:
    cases, alone = {}, {}
    for name, (learning_rate, training) in EQUIVALENCE_CASES.items():
        two, prepared, alone[name] = _trained_alone(tmp_path / name, learning_rate, **training)
        params = two.trial_params(learning_rate, 8, 0)
        assert (params.per_device_batch_size, params.gradient_accumulation_steps, params.world_size) == (4, 1, 2)
        assert TrialParams.make(learning_rate, 8, 0, 4) != params, "the same batch, split another way"
        cases[name] = {"spec": two, "prepared": prepared, "params": params, "out": str(tmp_path / name / "two")}
    # One worker group trains the three cases: a Train run per case would start two workers per case.
    trained = _fit(cases["sgd"]["spec"], _train_each_case, {"cases": cases}, 2, "equivalence")
    assert set(trained) == set(EQUIVALENCE_CASES)
    for name, together in trained.items():
        assert together["tokens"] == alone[name]["tokens"] > 0, f"{name}: every token, counted over both workers"
        moved = alone[name]["moved"]
        assert moved > 1e-3, f"{name}: the steps must change the weights"
        worst = max(np.abs(alone[name][key] - together[key]).max() for key in alone[name] if key not in RECORDED)
        assert worst < 1e-5 + 1e-4 * moved, f"{name}: max weight difference {worst:.2e} after moving {moved:.2e}"


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
