"""Train one trial with TRL at the trial's learning rate and effective batch size.

The only place where the grid point becomes training arguments: `learning_rate` as is, the effective batch as
micro-batch × gradient accumulation (transformers normalises the loss by the tokens of the whole effective
batch, so 8 × 1 and 2 × 4 take the same step: tests/trials/test_train.py checks it), and the budget as
`max_steps`. A `DivergenceGuard` stops a run whose loss turns NaN/inf or explodes, so a diverged point costs
seconds, not the whole budget, and is reported as data rather than as a crash. With `training.checkpoint_steps`
the run saves a resumable checkpoint in its output folder and, started again there, goes on from the newest one.
With `training.lora` the trainer wraps the model with the adapter (`trials.adapter`) and trains only that; the
batch, the guard and the checkpoints are the same.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from analysis.files import write_text_atomically
from contract.errors import BatchSizeMismatch, SweeperError

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainingArguments

    from contract.spec import SweepSpec, TrainingSpec, TrialParams


@dataclass(frozen=True)
class TrainOutcome:
    """What training produced, besides the trained model itself (updated in place)."""

    steps: int
    seconds: float
    """Training time in all: a run resumed from a checkpoint adds the time the checkpoint had taken."""
    train_loss: float
    tokens: int
    """Non-padding tokens the optimizer consumed in all (a resumed run included)."""
    tokens_per_second: float
    """This process's tokens over this process's training time."""
    loss_history: tuple[float, ...]
    divergence: str  # "" when the run stayed stable


CLOCK_FILE = "trial_clock.json"
"""Written into every checkpoint: the training seconds and tokens it holds, so a resumed trial reports its totals."""


class TrainingClock(TrainerCallback):
    """Training time and tokens of the whole trial, a resumed one included: each checkpoint carries them
    (`CLOCK_FILE`), as TRL's token counter and the process's timer restart at zero in a resumed run."""

    def __init__(self, count_tokens: Callable[[], int]) -> None:
        self.count_tokens = count_tokens
        """This process's tokens so far: TRL's count, gathered over every data-parallel worker."""
        self.seconds_before = 0.0
        self.tokens_before = 0
        self.started = time.perf_counter()

    def resume(self, checkpoint: Path) -> None:
        saved = json.loads((checkpoint / CLOCK_FILE).read_text())
        self.seconds_before, self.tokens_before = saved["train_seconds"], saved["train_tokens"]

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_save(self, args, state, control, **kwargs):
        """Every data-parallel worker saves into the same checkpoint folder, and their clocks agree on the tokens (the
        count is gathered over all of them): rank 0 alone writes the clock, and atomically, so a resume never reads
        two ranks' writes interleaved or one cut short by a kill."""
        if not state.is_world_process_zero:
            return
        clock = {"train_seconds": self.seconds(), "train_tokens": self.tokens()}
        write_text_atomically(Path(args.output_dir) / f"checkpoint-{state.global_step}" / CLOCK_FILE, json.dumps(clock))

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def tokens(self) -> int:
        return self.tokens_before + self.count_tokens()


class DivergenceGuard(TrainerCallback):
    """Stops training when the loss or grad norm is not finite, the loss exceeds factor × its first value, or
    the gradient is exactly zero while the loss is not: a learning rate so large that the weights saturated
    and the model collapsed (seen at lr=1e4 on the tiny model: loss pinned at ln(vocab), grad norm 0). It sees the
    raw logged loss (the trainer's NaN filter is off); a run without gradient clipping logs no grad norm, which says
    nothing about collapse."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.first_loss: float | None = None
        self.reason = ""
        self.losses: list[float] = []

    def on_train_begin(self, args, state, control, **kwargs):
        """A run resumed from a checkpoint brings its logged losses back: judge it against its real first loss."""
        self.losses = [float(entry["loss"]) for entry in state.log_history if "loss" in entry]
        self.first_loss = self.losses[0] if self.losses else None

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        self.losses.append(float(loss))
        grad_norm = (logs or {}).get("grad_norm")  # absent when gradient clipping is off
        if not math.isfinite(loss) or (grad_norm is not None and not math.isfinite(grad_norm)):
            self.reason = f"non-finite loss {loss} / grad norm {grad_norm} at step {state.global_step}"
        elif grad_norm == 0.0 and loss > 0.0 and state.global_step > 1:
            self.reason = f"gradient norm 0 at loss {loss:.3g} (collapsed) at step {state.global_step}"
        elif self.first_loss is None:
            self.first_loss = loss
        elif loss > self.factor * self.first_loss:
            self.reason = (
                f"loss {loss:.3g} > {self.factor:g} x first loss {self.first_loss:.3g} at step {state.global_step}"
            )
        if self.reason:
            control.should_training_stop = True


def train(trainer: Trainer, guard: DivergenceGuard, clock: TrainingClock) -> TrainOutcome:
    """Run a trainer from `build_trainer`; one that saves checkpoints goes on from the newest in its output dir."""
    resume_from = _last_checkpoint(trainer.args)
    if resume_from is not None:
        clock.resume(Path(resume_from))
    trainer.train(resume_from_checkpoint=resume_from)
    # With bf16, Accelerate wrapped `model.forward` in autocast, and the wrapper outlives training: the trained model
    # would be scored in bf16 while the baseline (and any reload of a saved model) is scored in its own dtype.
    trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    seconds_here = clock.seconds() - clock.seconds_before
    return TrainOutcome(
        steps=trainer.state.global_step,
        seconds=clock.seconds(),
        train_loss=guard.losses[-1] if guard.losses else math.nan,
        tokens=clock.tokens(),
        tokens_per_second=clock.count_tokens() / seconds_here if seconds_here > 0 else math.nan,
        loss_history=tuple(guard.losses),
        divergence=guard.reason,
    )


def _last_checkpoint(args: TrainingArguments) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if args.save_strategy == "no" or not Path(args.output_dir).is_dir():
        return None
    return get_last_checkpoint(args.output_dir)


def build_trainer(
    spec: SweepSpec,
    params: TrialParams,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Dataset,
    output_dir: Path,
    *,
    report_to: str = "none",
) -> tuple[Trainer, DivergenceGuard, TrainingClock]:
    """The trial's TRL trainer (the spec's `method`, with its `training` arguments) at the trial's grid point, for the
    steps the spec's budget gives its batch size over `dataset`; not yet trained, with the guard that stops it on
    divergence and its clock (`train` runs them). With `training.checkpoint_steps` it checkpoints into `output_dir`;
    with `training.lora` its `trainer.model` is the peft model around `model` (adapter layers added in place)."""
    import torch
    from transformers import TrainingArguments

    from trials.adapter import lora_config

    training = spec.training

    # transformers renamed `gradient_checkpointing` to `activation_checkpointing` within 5.x (5.17 knows only the old
    # name, 5.24 warns on it): the name this install declares.
    fields = TrainingArguments.__dataclass_fields__
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    shared = {
        "output_dir": str(output_dir),
        "learning_rate": params.learning_rate,
        "per_device_train_batch_size": params.per_device_batch_size,
        "gradient_accumulation_steps": params.gradient_accumulation_steps,
        "max_steps": spec.train_steps(params.batch_size, len(dataset)),
        "lr_scheduler_type": training.lr_scheduler_type,
        "warmup_steps": training.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        "weight_decay": training.weight_decay,
        "max_grad_norm": training.max_grad_norm,
        "optim": training.optim,
        "seed": params.seed,
        "data_seed": params.seed,
        "bf16": training.bf16,
        checkpointing: training.gradient_checkpointing,
        "torch_compile": training.torch_compile,
        "max_length": training.max_length,
        "logging_steps": training.logging_steps,
        "logging_first_step": True,
        "logging_nan_inf_filter": False,  # the divergence guard must see a NaN loss as NaN
        **_checkpointing(training),
        "report_to": report_to,
        "disable_tqdm": True,
        "use_cpu": not torch.cuda.is_available(),
        "dataloader_num_workers": 0,
        # Data-parallel workers: the loss is normalised by the tokens of the whole batch over all workers (and scaled
        # back up against DDP's average), so the step equals one worker's at the same batch (tests/sweeper/
        # test_workers.py); transformers' default, pinned because the equivalence rests on it.
        "average_tokens_across_devices": True,
        "ddp_find_unused_parameters": False,
    }
    if training.fsdp:
        shared |= {"fsdp": "full_shard auto_wrap", "fsdp_config": {"use_orig_params": True}}
    config = (
        _dpo_config(shared, training) if spec.method == "dpo" else _sft_config(shared, training, padding_free(spec))
    )
    _check_batch(config, params)
    guard = DivergenceGuard(training.divergence_factor)
    clock = TrainingClock(lambda: int(trainer._total_train_tokens))  # TRL's running count, every worker's tokens
    build = _dpo_trainer if spec.method == "dpo" else _sft_trainer
    trainer = build(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[guard, clock],
        peft_config=lora_config(training.lora) if training.lora is not None else None,
    )
    if training.fsdp and trainer.accelerator.distributed_type.name != "FSDP":
        # accelerate falls back to DDP without a word where FSDP cannot run (CPUs): a model that needs sharding
        # would then try to fit whole on every device.
        raise SweeperError(f"training.fsdp: the trainer runs {trainer.accelerator.distributed_type.name}, not FSDP")
    return trainer, guard, clock


def _check_batch(args: TrainingArguments, params: TrialParams) -> None:
    """The batch the optimizer will really see, before any step: micro-batch × the devices this process drives
    (transformers wraps the model in DataParallel when it sees several GPUs) × accumulation × data-parallel workers.
    A trial whose optimizer would see another batch than its grid point names must never train."""
    seen = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
    if seen != params.batch_size:
        raise BatchSizeMismatch(
            f"the optimizer would see batches of {seen} sequences (micro-batch {args.per_device_train_batch_size} x "
            f"{max(1, args.n_gpu)} device(s) in this process x accumulation {args.gradient_accumulation_steps} x "
            f"{args.world_size} worker(s)), not the grid's batch size {params.batch_size}: give each worker process "
            "one GPU (resources.gpus <= 1, more through resources.workers)"
        )


def _checkpointing(training: TrainingSpec) -> dict[str, Any]:
    """Trainer arguments for `training.checkpoint_steps`: the newest resumable checkpoint only, or none at all."""
    if training.checkpoint_steps is None:
        return {"save_strategy": "no"}
    return {"save_strategy": "steps", "save_steps": training.checkpoint_steps, "save_total_limit": 1}


def padding_free(spec: SweepSpec) -> bool:
    """Whether an SFT trial concatenates each micro-batch into one row: the spec's `training.padding_free`, or unset,
    where the attention has varlen kernels (flash-attention: the same step as padded rows without the padding's FLOPs
    and no extra attention). With sdpa/eager the row gets a block-diagonal mask, and its attention grows with the
    row's length squared (benchmarks/RESULTS.md: 2x slower at micro-batch 64 on a CPU). Packing implies it."""
    training = spec.training
    if training.packing:
        return True
    if training.padding_free is not None:
        return training.padding_free
    return (spec.model.attn_implementation or "").startswith("flash_attention")


def _sft_config(shared: dict[str, Any], training: TrainingSpec, padding_free: bool) -> TrainingArguments:
    from trl import SFTConfig

    return SFTConfig(
        **{
            **shared,
            # Padding-free without packing: TRL asks for max_length=None, as the rows are truncated already (per sweep).
            "max_length": None if padding_free and not training.packing else training.max_length,
        },
        packing=training.packing,
        padding_free=padding_free,
        use_liger_kernel=training.liger_kernel,
        # The data is tokenized, masked and truncated once per sweep; only packing is left to TRL.
        dataset_kwargs={"skip_prepare_dataset": not training.packing},
    )


def _sft_trainer(**arguments: Any) -> Trainer:
    """TRL's SFTTrainer, its loss scored on labelled positions only (`trials.sft_loss`), with `build_trainer`'s
    arguments (model, args, data, tokenizer, callbacks, peft_config)."""
    from trials.sft_loss import SweepSFTTrainer

    return SweepSFTTrainer(**arguments)


def _dpo_config(shared: dict[str, Any], training: TrainingSpec) -> TrainingArguments:
    from trl import DPOConfig

    return DPOConfig(
        **shared,
        beta=training.beta,
        loss_type=list(training.loss_type),
        precompute_ref_log_probs=training.precompute_ref_log_probs,
    )


def _dpo_trainer(**arguments: Any) -> Trainer:
    """TRL's DPOTrainer with `build_trainer`'s arguments, over the sweep's pretokenized pairs, and its reference."""
    from trl import DPOTrainer

    from trials.data import PAIR_COLUMNS, row_lengths
    from trials.micro_batches import PER_PAIR_LOSSES, DealtByLength

    class PretokenizedDPOTrainer(DealtByLength, DPOTrainer):
        """DPOTrainer over data tokenized once per sweep (`prompt_ids`/`chosen_ids`/`rejected_ids`, built by
        `trials.data` exactly as TRL would): TRL 1.16 has no switch to skip its own tokenization. Where a step has
        several micro-batches and its loss is a mean of per-pair losses, it deals the step's pairs into them by
        length (`trials.micro_batches`)."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset

        def _split_free(self) -> bool:
            return set(self.loss_types) <= PER_PAIR_LOSSES

        def _padded_lengths(self) -> list[int]:
            """A pair's rows (prompt + chosen, prompt + rejected) are padded together, to the longer of the two."""
            prompt, chosen, rejected = (row_lengths(self.train_dataset, column) for column in PAIR_COLUMNS)
            return [p + max(c, r) for p, c, r in zip(prompt, chosen, rejected, strict=True)]

    # The reference is the policy as the trial received it: a frozen in-memory copy, not a reload by name (TRL's
    # default), which also works for models that were never saved under a name. With LoRA it is that model itself:
    # given no reference, TRL runs the peft model with its adapter disabled.
    model = arguments["model"]
    reference = None if arguments["peft_config"] is not None else copy.deepcopy(model).eval().requires_grad_(False)
    return PretokenizedDPOTrainer(ref_model=reference, **arguments)
