"""A trial of several data-parallel workers: Ray Train's TorchTrainer inside the trial's Tune function.

With `resources.workers > 1` the Tune trial only drives: it starts a TorchTrainer whose workers (each with the
spec's `cpus` and `gpus`, placed by `resources.placement_strategy`) run `trials.trial.run_trial` under the process
group Ray Train sets up (gloo on CPUs, NCCL on GPUs). transformers' Trainer takes that group as it is: DDP (or FSDP
with `training.fsdp`), a distributed sampler, and a loss normalised over the tokens of all workers, so the step
equals a one-worker step at the same effective batch. Rank 0 scores the model once and its result is the
TorchTrainer's return value. Retries stay Tune's (`search.max_failures`): Ray Train's own are off, and each attempt
is a fresh Train run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contract.spec import SweepSpec, TrialParams
    from trials.prepare import PreparedSweep


def train_on_workers(spec: SweepSpec, prepared: PreparedSweep, params: TrialParams, trial_dir: Path) -> dict[str, Any]:
    """The trial's result metrics, from `resources.workers` workers training together and rank 0 scoring."""
    loop_config = {"spec": spec, "prepared": prepared, "params": params, "trial_dir": str(trial_dir)}
    return _fit(spec, _train_loop, loop_config, spec.resources.workers, params.trial_id)


def evaluate_on_a_worker(spec: SweepSpec, prepared: PreparedSweep) -> dict[str, Any]:
    """The untrained model's metrics, scored by one worker of the trials' kind (its Tune trial holds no GPU)."""
    return _fit(spec, _baseline_loop, {"spec": spec, "prepared": prepared}, 1, "baseline")


def tune_trial_resources(spec: SweepSpec) -> dict[str, float]:
    """What a Tune trial itself holds: a one-worker trial trains in that process, with the spec's resources; a
    multi-worker trial's Tune trial only waits on its TorchTrainer, whose workers hold the resources in their own
    placement group. Tune refuses an empty request, so it asks for one byte of memory."""
    if spec.resources.workers == 1:
        return {"cpu": spec.resources.cpus, "gpu": spec.resources.gpus}
    return {"cpu": 0, "memory": 1}


def _fit(spec: SweepSpec, loop: Callable[[dict[str, Any]], Any], config: dict[str, Any], workers: int, name: str):
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    resources = spec.resources
    per_worker = {"CPU": resources.cpus, **({"GPU": resources.gpus} if resources.gpus else {})}
    storage = spec.storage_path or spec.resolved_output_dir()
    trainer = TorchTrainer(
        loop,
        train_loop_config=config,
        torch_config=TorchConfig(backend="nccl" if resources.gpus else "gloo"),
        scaling_config=ray.train.ScalingConfig(
            num_workers=workers,
            use_gpu=resources.gpus > 0,
            resources_per_worker=per_worker,
            placement_strategy=resources.placement_strategy,
        ),
        run_config=ray.train.RunConfig(
            # A new Train run per attempt: a Tune retry must not find the failed attempt's state and stop there.
            name=f"{name}-{time.time_ns()}",
            storage_path=f"{storage}/train",
            # No retries of Train's own, and a worker group that cannot start (its resources held by a killed
            # attempt's workers) fails the attempt instead of waiting for ever: Tune's retries decide.
            failure_config=ray.train.FailureConfig(max_failures=0, controller_failure_limit=0),
        ),
    )
    try:
        return trainer.fit().return_value
    except ray.train.TrainingFailedError as error:
        # Raised on as a plain error, so Tune's FailureConfig retries the trial as it retries a one-worker one.
        raise RuntimeError(f"a worker of trial {name} failed: {error}") from None


def _train_loop(config: dict[str, Any]) -> dict[str, Any] | None:
    """One worker's part of a trial (Ray Train's `train_loop_per_worker`)."""
    from trials.trial import run_trial

    result = run_trial(config["spec"], config["prepared"], config["params"], Path(config["trial_dir"]))
    return None if result is None else result.to_metrics()


def _baseline_loop(config: dict[str, Any]) -> dict[str, Any]:
    from trials.trial import evaluate_baseline

    return evaluate_baseline(config["spec"], config["prepared"]).to_metrics()
