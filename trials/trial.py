"""One trial: load the base model, train at the trial's grid point (every weight, or a LoRA adapter), evaluate,
return a `TrialResult` with the trial's condition (the base model's parameter count, what the optimizer updated).

`run_trial` knows nothing of Ray (debug a single grid point in a plain Python shell); `sweeper.tune_trials` is the
thin wrapper Ray Tune runs. A diverged trial is a result (status `diverged`, its loss curve kept), not an error;
a CUDA out-of-memory is recorded as `failed` with a hint instead of being retried. Any other exception
propagates so Ray's `FailureConfig` can retry it and the driver records it as `failed`.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract.errors import BatchSizeMismatch
from contract.spec import BASELINE_PARAMS
from contract.store import TrialResult, TrialStatus, spec_condition, trial_identity, unscored

if TYPE_CHECKING:
    from contract.spec import SweepSpec, TrialParams
    from trials.prepare import PreparedSweep

OOM_HINT = "out of memory (oom): lower training.max_per_device_batch or give the trial more GPU (resources.gpus)"


def run_trial(spec: SweepSpec, prepared: PreparedSweep, params: TrialParams, trial_dir: Path) -> TrialResult | None:
    """Train and evaluate one grid point, logging to its own W&B run when W&B is on.

    In a data-parallel trial (`torch.distributed` set up by Ray Train) every worker runs this: all of them train,
    and the lead worker (rank 0) alone logs to W&B, saves the model, scores it and returns the result; the others
    return None once training ends."""
    from trials.model import free_gpu_memory
    from trials.tracking import finish_trial_run, start_trial_run

    run = start_trial_run(spec, params) if is_lead_worker() else None
    try:
        result = _train_and_evaluate(spec, prepared, params, trial_dir, "wandb" if run else "none")
    except BaseException:
        if run is not None:
            run.finish(exit_code=1)
        raise
    finally:
        free_gpu_memory()
    if result is not None:
        finish_trial_run(run, result)
    return result


def is_lead_worker() -> bool:
    """Rank 0 of a data-parallel trial, or the one process of a one-worker trial."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _train_and_evaluate(
    spec: SweepSpec, prepared: PreparedSweep, params: TrialParams, trial_dir: Path, report_to: str
) -> TrialResult | None:
    import torch
    from datasets import load_from_disk

    from trials.adapter import save_trained, trainable_parameters
    from trials.evaluate import evaluate_trained
    from trials.model import load_model, load_tokenizer
    from trials.prepare import checkpoint_dir, saved_model_dir
    from trials.train import build_trainer, train

    started_at = time.time()
    torch.set_num_threads(max(1, int(spec.resources.cpus)))
    model = load_model(prepared.model_path, spec.model)
    tokenizer = load_tokenizer(prepared.tokenizer_path, spec)
    dataset = load_from_disk(prepared.data_path)
    record = {**_identity(spec, prepared, params), "started_at": started_at}
    # A checkpointing trial trains in a folder keyed by its own id, so a retry or a resumed sweep finds it.
    checkpoints = (
        checkpoint_dir(spec.resolved_output_dir(), params.trial_id) if spec.training.checkpoint_steps else None
    )
    try:
        trainer, guard, clock = build_trainer(
            spec, params, model, tokenizer, dataset, checkpoints or trial_dir, report_to=report_to
        )
        record["condition"] = replace(record["condition"], trainable_parameters=trainable_parameters(trainer.model))
        outcome = train(trainer, guard, clock)
    except torch.cuda.OutOfMemoryError:
        return _failed(spec, record, OOM_HINT)
    except BatchSizeMismatch as mismatch:
        return _failed(spec, record, str(mismatch))
    if not is_lead_worker():
        return None
    if checkpoints is not None:  # the trial's outcome is final: its checkpoint would only be restarted from
        shutil.rmtree(checkpoints, ignore_errors=True)
    trained = {
        "train_loss": outcome.train_loss,
        "train_steps": outcome.steps,
        "train_tokens": outcome.tokens,
        "train_seconds": outcome.seconds,
        "train_tokens_per_second": outcome.tokens_per_second,
        "loss_history": outcome.loss_history,
    }
    if outcome.divergence:
        return TrialResult(**record, **trained, status=TrialStatus.DIVERGED, scores=unscored(spec),
                           error=outcome.divergence, finished_at=time.time())  # fmt: skip
    saved = saved_model_dir(spec.resolved_output_dir(), params.trial_id) if spec.training.save_model else None
    # The trained model as the trainer holds it (with LoRA: the peft model around `model`), saved, then scored merged.
    policy = trainer.accelerator.unwrap_model(trainer.model)
    scored, whole_copy = save_trained(policy, tokenizer, saved, spec.training.lora)
    eval_started = time.perf_counter()
    try:
        scores = evaluate_trained(scored, tokenizer, spec, trial_dir, whole_copy)
    except torch.cuda.OutOfMemoryError:
        return _failed(spec, record, OOM_HINT, **trained)
    return TrialResult(**record, **trained, status=TrialStatus.OK, scores=scores,
                       eval_seconds=time.perf_counter() - eval_started, finished_at=time.time())  # fmt: skip


def _identity(spec: SweepSpec, prepared: PreparedSweep, params: TrialParams) -> dict[str, Any]:
    """The record's head (`trial_identity`), its condition with the base model's parameter count."""
    condition = replace(spec_condition(spec), model_parameters=prepared.model_parameters)
    return {**trial_identity(spec, params), "condition": condition}


def _failed(spec: SweepSpec, record: dict[str, Any], error: str, **trained: Any) -> TrialResult:
    """A trial that cannot succeed however often it is retried (out of memory, in training or in scoring; a batch
    that is not the grid's) is `failed` with its reason, returned rather than raised so Ray does not retry it."""
    return TrialResult(**record, **trained, status=TrialStatus.FAILED, scores=unscored(spec), error=error,
                       finished_at=time.time())  # fmt: skip


def evaluate_baseline(spec: SweepSpec, prepared: PreparedSweep) -> TrialResult:
    """Score the untrained base model once, so plots and reports show where training started."""
    import torch

    from trials.evaluate import evaluate_base
    from trials.model import load_tokenizer

    started_at = time.time()
    torch.set_num_threads(max(1, int(spec.resources.cpus)))
    scores = evaluate_base(prepared.model_path, load_tokenizer(prepared.tokenizer_path, spec), spec)
    return TrialResult(
        **_identity(spec, prepared, BASELINE_PARAMS), status=TrialStatus.BASELINE, scores=scores,
        eval_seconds=time.time() - started_at, started_at=started_at, finished_at=time.time(),
    )  # fmt: skip
