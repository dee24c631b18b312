"""The sweep spec: one typed object, loaded once from YAML and validated completely before Ray starts.

Every field is documented where it is declared (`Field(description=...)`), uses the libraries' own names
(`learning_rate`, `max_length`, `lr_scheduler_type`, ...), and is validated with the error naming its path.
Derived values (per-device batch, gradient accumulation, steps, lr from a ratio) are methods, never fields.
This module imports nothing heavy: `sweeper validate` and `--help` stay fast.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contract.errors import OutputDirError, SpecError

PACKAGED_SPECS = Path(__file__).resolve().parent.parent / "search_spaces"
SPEC_FILE = "spec.yaml"
"""The resolved spec (defaults and metric directions filled in) that a sweep's output dir holds."""


class StrictModel(BaseModel):
    """Unknown keys, NaN and inf are errors: a typo must never silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class PretrainSpec(StrictModel):
    """The demo's brief base-model pretraining (cached once per config, reused by every trial and run)."""

    max_steps: int = Field(1500, gt=0, description="Pretraining optimizer steps.")
    batch_size: int = Field(32, gt=0, description="Sequences per pretraining step.")
    seq_len: int = Field(128, gt=0, description="Tokens per pretraining sequence.")
    learning_rate: float = Field(3e-3, gt=0, description="Peak pretraining learning rate (cosine decay).")
    warmup_steps: int = Field(50, ge=0, description="Linear warmup steps.")
    corpus_size: int = Field(20000, gt=0, description="Synthetic plain-text sentences to pretrain on.")
    seed: int = Field(0, description="Seed of the corpus, the tokenizer and the initialisation.")


class TinyModelSpec(StrictModel):
    """A Llama built from a config and a locally trained tokenizer: the offline stand-in for a base model."""

    config: dict[str, int | float | bool] = Field(
        description="transformers `LlamaConfig` fields, e.g. hidden_size, num_hidden_layers, vocab_size."
    )
    pretrain: PretrainSpec = Field(default_factory=PretrainSpec, description="Base-model pretraining.")


class FromSweepSpec(StrictModel):
    """Start from the best trial of an earlier sweep (e.g. DPO from the best SFT trial)."""

    path: str = Field(description="Output dir of the earlier sweep (run with training.save_model: true).")
    best_on: str = Field("mean", description="A category or task of that sweep, or `mean` of all its tasks.")


class ModelSpec(StrictModel):
    """The model every trial starts from: a hub id, a local folder, `tiny`, or the best trial of a sweep."""

    name_or_path: str | None = Field(None, description="Hugging Face hub id or local model folder.")
    tiny: TinyModelSpec | None = Field(None, description="Build a tiny Llama from a config instead.")
    from_sweep: FromSweepSpec | None = Field(None, description="The best trial's model of an earlier sweep.")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    tokenizer: str | None = Field(None, description="Tokenizer hub id or folder; default: the model's own.")
    torch_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype when loading (`auto` keeps the checkpoint's)."
    )
    attn_implementation: str | None = Field(None, description="e.g. `sdpa`, `flash_attention_2`.")
    trust_remote_code: bool = Field(False, description="Run model code from the hub. Off unless you trust it.")

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if sum(source is not None for source in (self.name_or_path, self.tiny, self.from_sweep)) != 1:
            raise ValueError(
                "give exactly one of `name_or_path` (hub id or local path), `tiny` (a config) or `from_sweep`"
            )
        return self


class DataSpec(StrictModel):
    """Training data: the bundled `demo` generator, a hub dataset id, or a local file/folder."""

    source: str = Field(description="`demo`, a hub dataset id, or a local .jsonl/.json/.parquet file or folder.")
    config_name: str | None = Field(None, description="Hub dataset configuration name.")
    split: str = Field("train", description="Split to train on.")
    num_examples: int | None = Field(
        None, gt=0, description="Use this many examples (after a seeded shuffle); default: all."
    )
    seed: int = Field(0, description="Seed of the shuffle (and of the demo generator).")
    chat_template: str | None = Field(
        None, description="Jinja chat template or a path to a .jinja file; default: the tokenizer's own."
    )


class GridPoint(StrictModel):
    """One exact (learning rate, batch size) pair, for runs that are not a cross product (e.g. a paper's points)."""

    learning_rate: float = Field(description="Peak learning rate.")
    batch_size: int = Field(description="Effective batch size in sequences.")
    seeds: list[int] | None = Field(
        None,
        min_length=1,
        description="This point's seeds; default: training.seeds. A planned follow-up (`sweeper plan`) names them per "
        "point: a new replicate of an old point, or new points.",
    )


class GridSpec(StrictModel):
    """The learning-rate × batch-size grid, a lr/bs-ratio × batch-size grid (lr derived per cell), or a list of
    exact points."""

    learning_rate: list[float] | None = Field(None, description="Peak learning rates.")
    lr_bs_ratio: list[float] | None = Field(None, description="lr / batch_size values; lr = ratio × batch_size.")
    batch_size: list[int] | None = Field(
        None, description="Effective batch sizes in sequences (accumulation included)."
    )
    points: list[GridPoint] | None = Field(
        None, description="Exact (learning_rate, batch_size) pairs instead of a cross product."
    )

    @model_validator(mode="after")
    def _one_form(self) -> GridSpec:
        if self.points is not None:
            if any(axis is not None for axis in (self.learning_rate, self.lr_bs_ratio, self.batch_size)):
                raise ValueError(
                    "give either `points` or axes (`learning_rate`/`lr_bs_ratio` × `batch_size`), not both"
                )
        elif (self.learning_rate is None) == (self.lr_bs_ratio is None) or self.batch_size is None:
            raise ValueError(
                "give exactly one of `learning_rate` or `lr_bs_ratio` next to `batch_size`, or a list of `points`"
            )
        return self

    def rate_axis(self) -> tuple[str, list[float]]:
        """The name and values of the axis that sets the learning rate: `learning_rate` or `lr_bs_ratio`."""
        if self.learning_rate is not None:
            return "learning_rate", self.learning_rate
        return "lr_bs_ratio", self.lr_bs_ratio or []

    def cells(self) -> list[tuple[float, int]]:
        """Every (learning rate, batch size) of the grid, sorted by learning rate, then batch size."""
        if self.points is not None:
            cells = [(point.learning_rate, point.batch_size) for point in self.points]
        elif self.learning_rate is not None:
            cells = [(rate, size) for size in self.batch_size or [] for rate in self.learning_rate]
        else:
            ratios = self.lr_bs_ratio or []
            cells = [(learning_rate_at(ratio, size), size) for size in self.batch_size or [] for ratio in ratios]
        return sorted(cells)


class LoraSpec(StrictModel):
    """A LoRA adapter (peft) trained in place of the full model: the base weights stay frozen, and the optimizer sees
    only the adapter's, so its learning rate (and its best lr/bs) is its own, typically ~10x full fine-tuning's."""

    rank: int = Field(16, gt=0, description="LoRA rank r.")
    alpha: float = Field(32.0, gt=0, description="LoRA alpha: the update is scaled by alpha/r (alpha/sqrt(r) rsLoRA).")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the adapter's input.")
    target_modules: Annotated[list[str], Field(min_length=1)] | Literal["all-linear"] = Field(
        "all-linear",
        description="Modules that get an adapter: `all-linear` (every linear layer but the output head, as 'LoRA "
        "Without Regret' recommends) or a list of module names, e.g. [q_proj, v_proj].",
    )
    rslora: bool = Field(False, description="Rank-stabilised LoRA: scale by alpha/sqrt(r), so lr* moves less with r.")
    save_merged: bool = Field(
        False,
        description="With training.save_model: also save the model with the adapter merged in, under `merged/` in the "
        "trial's saved-model folder (beside the adapter): a DPO sweep with `model.from_sweep` starts from it as it is; "
        "without it that sweep merges the adapter into its base model once, which must then still load.",
    )


class TrainingSpec(StrictModel):
    """Training arguments shared by every trial (the grid sets learning_rate and the batch size)."""

    train_examples: int | None = Field(
        None, gt=0, description="Budget in examples: steps = ceil(train_examples / batch_size) for every cell."
    )
    num_train_epochs: float | None = Field(None, gt=0, description="Budget in epochs over the data.")
    max_steps: int | None = Field(None, gt=0, description="Budget in optimizer steps (bigger batches see more).")
    max_length: int = Field(512, gt=0, description="Tokens per sequence; longer ones are truncated.")
    max_per_device_batch: int = Field(
        8, gt=0, description="Largest micro-batch; batch_size is split into micro-batch × accumulation."
    )
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Share of steps with linear warmup.")
    lr_scheduler_type: str = Field("linear", description="transformers scheduler name.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm; 0 turns clipping off.")
    optim: str = Field(
        "adamw_torch_fused",
        description="transformers optimizer name. The default is transformers 5's own: AdamW in one fused kernel per "
        "step (torch's CUDA, CPU and MPS kernels; the same update as `adamw_torch` up to float rounding).",
    )
    seeds: list[int] = Field([0], min_length=1, description="Each grid cell is trained once per seed.")
    bf16: bool = Field(False, description="bfloat16 mixed precision (GPU).")
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory.")
    packing: bool = Field(
        False,
        description="Pack sequences (padding-free) so no FLOP goes to padding. A batch then counts packed rows of "
        "max_length tokens, not examples, so lr/bs is no longer per conversation: keep it off for ratio studies.",
    )
    padding_free: bool | None = Field(
        None,
        description="Concatenate each micro-batch into one row with position_ids (TRL `padding_free`): no FLOP goes "
        "to padding and a batch still counts examples, so lr/bs keeps its meaning. Exact with flash_attention_2 "
        "(varlen kernels, the full gain) and with sdpa/eager (a block-diagonal mask over the whole row, whose "
        "attention grows with the row's length squared: on a CPU 1.16x faster at micro-batch 8 of ~40-token rows, "
        "2x slower at micro-batch 64; benchmarks/RESULTS.md). Unset: on for SFT where `model.attn_implementation` "
        "is a flash-attention kernel, off elsewhere (set `true` for small micro-batches of short rows); DPO has none.",
    )
    liger_kernel: bool = Field(
        False,
        description="Liger's fused Triton kernels (RMSNorm, RoPE, SwiGLU, fused linear cross-entropy): less memory, "
        "faster steps on a GPU. Needs `pip install liger-kernel` and a GPU. SFT only.",
    )
    torch_compile: bool = Field(
        False, description="`torch.compile` the model: faster steps after a one-off compilation in each trial."
    )
    logging_steps: int = Field(10, gt=0, description="Log (and check for divergence) every N steps.")
    divergence_factor: float = Field(
        10.0, gt=1, description="Stop as `diverged` when loss is NaN/inf or exceeds this × its first value."
    )
    beta: float = Field(0.1, gt=0, description="DPO beta (method: dpo); Tulu 3 used 5 with `sigmoid_norm`.")
    loss_type: list[str] = Field(
        ["sigmoid"], min_length=1, description="DPO loss types (method: dpo); `sigmoid_norm` is length-normalized."
    )
    precompute_ref_log_probs: bool = Field(
        False, description="DPO: score the reference model once up front instead of keeping a frozen copy."
    )
    save_model: bool = Field(
        False, description="Save each trial's trained model (needed to start a DPO sweep from an SFT sweep)."
    )
    fsdp: bool = Field(
        False,
        description="Shard parameters, gradients and optimizer state over the trial's workers (FSDP full shard, "
        "transformers' `fsdp`), for models that do not fit one device; needs resources.workers > 1 and GPUs.",
    )
    lora: LoraSpec | None = Field(
        None,
        description="Train a LoRA adapter (peft) instead of every weight, for SFT and DPO (whose reference is then "
        "the base model, the adapter disabled); absent: full fine-tuning. `--set training.lora.rank=8` turns it on "
        "with the other fields' defaults. A trial saves the adapter (training.save_model) and scores the merged model.",
    )
    checkpoint_steps: int | None = Field(
        None,
        gt=0,
        description="Save a resumable checkpoint (weights, optimizer, scheduler, RNG) every N optimizer steps under "
        "<output_dir>/checkpoints/<trial>: a trial restarted after a crash, a pre-emption or `sweeper resume` goes on "
        "from its last one instead of step 0. Only the newest is kept, and it is deleted when the trial ends. Meant "
        "for trials of hours; off (None) by default.",
    )

    @model_validator(mode="after")
    def _one_budget(self) -> TrainingSpec:
        given = [self.train_examples, self.num_train_epochs, self.max_steps]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one budget: `train_examples`, `num_train_epochs` or `max_steps`")
        return self


class TaskSpec(StrictModel):
    """One lm-eval task, the metric that scores it, and the user's category label for it."""

    task: str = Field(description="lm-eval task name (built-in or from an include_path folder).")
    category: str = Field(description="Your label, e.g. `reasoning` or `pattern`; must be in `categories`.")
    metric: str = Field("acc", description="lm-eval metric, e.g. `acc`, `acc_norm`, `exact_match`.")
    filter: str = Field("none", description="lm-eval filter name of that metric, e.g. `strict-match`.")
    num_fewshot: int | None = Field(None, ge=0, description="Few-shot examples; default: the task's own.")
    higher_is_better: bool | None = Field(
        None,
        description="Whether a higher score is better. Default: lm-eval's own `higher_is_better` for the metric, read "
        "from the task's config before the sweep starts (False for perplexity and other loss-like metrics); fits, "
        "optima, the best trial of `from_sweep` and Optuna's mode all follow it.",
    )

    @property
    def result_key(self) -> str:
        """The key lm-eval uses in `results[task]`, e.g. `exact_match,strict-match`."""
        return f"{self.metric},{self.filter}"


class EvaluationSpec(StrictModel):
    """How every trial (and the untrained baseline) is evaluated with lm-eval."""

    tasks: list[TaskSpec] = Field(min_length=1, description="Tasks to score.")
    batch_size: int | Literal["auto"] = Field(
        32, description="Eval batch size, fixed per sweep and recorded (scores can move with it)."
    )
    limit: int | None = Field(None, gt=0, description="Score only the first N documents per task.")
    apply_chat_template: bool = Field(False, description="Render prompts with the tokenizer's chat template.")
    bootstrap_iters: int = Field(100, ge=0, description="lm-eval bootstrap resamples for stderr (0: none).")
    include_path: list[str] = Field([], description="Extra folders of lm-eval task YAMLs.")
    baseline: bool = Field(True, description="Also score the untrained model once (status `baseline`).")
    backend: Literal["hf", "vllm"] = Field(
        "hf",
        description="`hf`: lm-eval's HFLM scores the trained model in memory. `vllm`: the trained model is saved "
        "and served by vLLM, which generates many times faster on generation-heavy tasks (GSM8K, IFEval, BBH); "
        "needs a GPU and `pip install 'ratio-sweeper[gpu]'`. With vllm, batch_size `auto` hands every request "
        "to vLLM's scheduler.",
    )
    vllm_gpu_memory_utilization: float | None = Field(
        None,
        gt=0,
        le=1,
        description="vLLM's `gpu_memory_utilization`: the share of the WHOLE GPU it preallocates (weights + KV "
        "cache). Default: 0.9 × resources.gpus, so trials sharing a GPU each stay within their fraction.",
    )
    vllm_max_model_len: int | None = Field(
        None,
        gt=0,
        description="vLLM's `max_model_len` (prompt + generated tokens); default: the model's own. Lower it when "
        "a small memory share cannot hold a KV cache of the model's full length.",
    )

    def gpu_memory_utilization(self, gpus: float) -> float:
        """vLLM's share of the whole GPU: the configured one, or 0.9 × the trial's GPU fraction (one GPU at most)."""
        return self.vllm_gpu_memory_utilization or 0.9 * min(gpus, 1.0)


class ResourcesSpec(StrictModel):
    """Ray resources per trial worker; fractions share a GPU (Ray does not isolate its memory)."""

    cpus: float = Field(1, gt=0, description="CPUs per worker (also its torch threads).")
    gpus: float = Field(
        0,
        ge=0,
        le=1,
        description="GPUs per worker, at most one: a trial process sees only the devices Ray gave it, and never "
        "wraps the model in DataParallel (which would multiply the batch). 0.25 runs four one-worker trials on one "
        "GPU; for more GPUs per trial, set `workers`.",
    )
    workers: int = Field(
        1,
        ge=1,
        description="Data-parallel workers per trial (Ray Train's TorchTrainer, DDP). The grid's batch size is split "
        "as micro-batch x accumulation x workers, so the optimizer sees exactly that batch; each worker gets `cpus` "
        "and `gpus` (whole GPUs when workers > 1).",
    )
    placement_strategy: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = Field(
        "PACK",
        description="Where a multi-worker trial's workers go (Ray placement groups): PACK fills one node first, "
        "STRICT_PACK requires one node, SPREAD / STRICT_SPREAD spread them over nodes.",
    )


class SearchSpec(StrictModel):
    """How grid points are chosen and scheduled."""

    algorithm: Literal["grid", "optuna"] = Field(
        "grid", description="`grid`: every cell × seed. `optuna`: sample within the grid's ranges."
    )
    num_samples: int = Field(
        1, gt=0, description="Optuna's sampled (lr, bs) points (ignored by `grid`); each is trained once per seed."
    )
    metric: str = Field("score/mean", description="Reported metric Optuna optimises, e.g. `score/reasoning`.")
    mode: Literal["max", "min"] | None = Field(
        None,
        description="Maximise or minimise `metric`. Default: the metric's own direction (lm-eval's `higher_is_better` "
        "of its tasks; `min` for train_loss).",
    )
    max_concurrent_trials: int | None = Field(None, gt=0, description="Cap on trials running at once.")
    max_failures: int = Field(0, ge=0, description="Retries of a crashed trial before it is recorded `failed`.")
    reuse_actors: bool = Field(
        True,
        description="Run trials one after another in warm worker processes (saves ~5-10 s of imports per trial); "
        "each trial frees its model and CUDA cache when done. false: a fresh process per trial.",
    )


class WandbSpec(StrictModel):
    """Weights & Biases logging: one run per trial, grouped by sweep. WANDB_MODE overrides `mode`."""

    mode: Literal["offline", "online", "disabled"] = Field("disabled", description="offline runs sync later.")
    project: str = Field("ratio-sweeper", description="W&B project.")
    entity: str | None = Field(None, description="W&B entity (user or team).")


class SweepSpec(StrictModel):
    """A whole sweep: what to train, on what, over which grid, evaluated how, run where."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Sweep name (W&B group, run dir).")
    method: Literal["sft", "dpo"] = Field("sft", description="`sft` (SFTTrainer) or `dpo` (DPOTrainer).")
    model: ModelSpec
    data: DataSpec
    grid: GridSpec
    training: TrainingSpec
    categories: list[str] = Field(min_length=1, description="Task categories, e.g. [reasoning, pattern].")
    evaluation: EvaluationSpec
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    wandb: WandbSpec = Field(default_factory=WandbSpec)
    output_dir: str | None = Field(None, description="Where results go; default: runs/<name>.")
    study_dir: str | None = Field(
        None,
        description="The study this sweep extends (set by `sweeper plan` in the follow-up it writes): the sweep keeps "
        "its own output dir inside the study's, and its analysis covers the whole study and lands in `study_dir`.",
    )
    storage_path: str | None = Field(
        None,
        description="Where Ray Tune keeps the experiment state (a folder every node can reach, or an s3:// / "
        "gs:// URI, as Ray allows); default: the output dir. Results, plots and W&B files stay in output_dir.",
    )

    def trials(self) -> list[TrialParams]:
        """Every grid cell × seed, in a stable order (learning rates outer, then batch sizes, then seeds)."""
        if self.grid.points is not None:
            seeded = [
                (point.learning_rate, point.batch_size, seed)
                for point in self.grid.points
                for seed in point.seeds or self.training.seeds
            ]
        else:
            seeded = [(rate, size, seed) for rate, size in self.grid.cells() for seed in self.training.seeds]
        return [self.trial_params(*trial) for trial in sorted(seeded)]

    def trial_params(self, learning_rate: float, batch_size: int, seed: int) -> TrialParams:
        """One trial of this sweep, its batch split over this sweep's micro-batch limit and workers."""
        limit, workers = self.training.max_per_device_batch, self.resources.workers
        return TrialParams.make(learning_rate, batch_size, seed, limit, workers)

    def num_trials(self) -> int:
        """Trials the sweep trains: every grid cell × seed, or every Optuna point × seed."""
        if self.search.algorithm == "grid":
            return len(self.trials())
        return self.search.num_samples * len(self.training.seeds)

    def train_steps(self, batch_size: int, dataset_size: int | None) -> int | None:
        """Optimizer steps of one trial; None when the budget is in epochs and the data size is unknown."""
        budget = self.training
        if budget.max_steps is not None:
            return budget.max_steps
        if budget.train_examples is not None:
            return math.ceil(budget.train_examples / batch_size)
        if dataset_size is None:
            return None
        return math.ceil(budget.num_train_epochs * dataset_size / batch_size)

    def metric_tasks(self, metric: str) -> list[TaskSpec]:
        """The tasks a reported metric averages: all (`score/mean`), a category's, or one task's."""
        name = metric.removeprefix("score/").removeprefix("tasks/").removesuffix("/score")
        tasks = self.evaluation.tasks
        return [t for t in tasks if name in {"mean", t.category, t.task}] if metric != "train_loss" else []

    def search_mode(self) -> Literal["max", "min"]:
        """Optuna's mode: the spec's, else the direction of `search.metric` (its tasks' directions resolved)."""
        if self.search.mode is not None:
            return self.search.mode
        tasks = self.metric_tasks(self.search.metric)
        return "max" if tasks and all(task.higher_is_better is not False for task in tasks) else "min"

    def with_metric_directions(self, higher_is_better: dict[str, bool | None]) -> SweepSpec:
        """This spec with each task's `higher_is_better` filled in from lm-eval (where the spec left it unset),
        validated again: a search metric that mixes directions is refused then."""
        raw = self.model_dump(mode="json")
        for task in raw["evaluation"]["tasks"]:
            if task["higher_is_better"] is None and task["task"] in higher_is_better:
                task["higher_is_better"] = higher_is_better[task["task"]]
        return spec_from_dict(raw)

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir or f"runs/{self.name}").resolve()


@dataclass(frozen=True)
class TrialParams:
    """One trial's grid point, with the effective batch split into micro-batch × accumulation × workers. The
    untrained baseline is a trial too, with `BASELINE_PARAMS`: no learning rate and no batch."""

    learning_rate: float
    batch_size: int
    seed: int
    per_device_batch_size: int
    gradient_accumulation_steps: int
    world_size: int = 1

    @classmethod
    def make(
        cls, learning_rate: float, batch_size: int, seed: int, max_per_device_batch: int, world_size: int = 1
    ) -> TrialParams:
        per_device, accumulation = split_batch(batch_size, max_per_device_batch, world_size)
        return cls(learning_rate, batch_size, seed, per_device, accumulation, world_size)

    @property
    def is_baseline(self) -> bool:
        return self.batch_size == 0

    @property
    def lr_bs_ratio(self) -> float:
        """learning_rate / batch_size, the quantity the sweep studies (computed here only); NaN for the baseline."""
        return math.nan if self.is_baseline else self.learning_rate / self.batch_size

    @property
    def trial_id(self) -> str:
        """Stable, readable id of the grid point + seed: the same cell gets the same id on every resume, and distinct
        points get distinct ids (the learning rate keeps every digit of its shortest round-trip form: 3e-04,
        1.0004e-03), since the id keys the results store and the W&B run. The baseline's is `baseline`."""
        return BASELINE_TRIAL_ID if self.is_baseline else f"{self.point_id}_s{self.seed}"

    @property
    def point_id(self) -> str:
        """The id of the grid point alone, shared by its seeds."""
        return f"lr{scientific(self.learning_rate)}_bs{self.batch_size}"

    def flat(self) -> dict[str, Any]:
        """Each field by its name, and `lr_bs_ratio`: the params as the results table's columns and the flat keys
        of Ray's metrics and W&B's config hold them."""
        return {**asdict(self), "lr_bs_ratio": self.lr_bs_ratio}


BASELINE_TRIAL_ID = "baseline"
BASELINE_PARAMS = TrialParams(
    learning_rate=math.nan, batch_size=0, seed=-1, per_device_batch_size=0, gradient_accumulation_steps=0
)
"""The untrained model's params, as its rows in the results table hold them: no learning rate (NaN), no batch (0),
no seed (-1)."""


def scientific(value: float) -> str:
    """`value` in scientific notation with exactly the digits that round-trip it (3e-04, 3.1e-06, 1.0004e-03)."""
    mantissa, exponent = f"{Decimal(repr(value)).normalize():e}".split("e")
    return f"{mantissa}e{int(exponent):+03d}"


def learning_rate_at(lr_bs_ratio: float, batch_size: int) -> float:
    """The learning rate of a ratio at a batch size, to 12 significant digits: 1.1e-5 × 8 is 8.8e-05, not the
    8.800000000000001e-05 of float arithmetic, so a ratio grid's trial ids read as the user's numbers."""
    return float(f"{lr_bs_ratio * batch_size:.12g}")


def split_batch(batch_size: int, max_per_device_batch: int, world_size: int = 1) -> tuple[int, int]:
    """Effective batch → (micro-batch, accumulation steps) per worker: each of the `world_size` workers
    (`resources.workers`) takes an equal share, split as min(share, limit) × accumulation; both must divide exactly.
    The one rule of the split: a spec's batch sizes are checked against it, and its ValueError says which part fails
    and the fix."""
    if batch_size % world_size:
        raise ValueError(
            f"{batch_size} does not split over resources.workers={world_size}: each worker must take the same whole "
            f"number of sequences; use a multiple of {world_size}, or other workers"
        )
    share = batch_size // world_size
    per_device = min(share, max_per_device_batch)
    if share % per_device:
        each = f" ({share} per worker)" if world_size > 1 else ""
        raise ValueError(
            f"{batch_size}{each} is not a multiple of training.max_per_device_batch={max_per_device_batch}; use a "
            f"multiple of {max_per_device_batch * world_size} or a max_per_device_batch that divides {share}"
        )
    return per_device, share // per_device


def _grid_problems(grid: GridSpec, training: TrainingSpec, workers: int) -> list[str]:
    if grid.points is not None:
        lists: dict[str, list[Any]] = {"points": [(p.learning_rate, p.batch_size) for p in grid.points]}
        values = {
            f"points[{i}].{name}": getattr(p, name)
            for i, p in enumerate(grid.points)
            for name in ("learning_rate", "batch_size")
        }
    else:
        lists = dict([grid.rate_axis(), ("batch_size", grid.batch_size)])
        values = {f"{name}[{i}]": value for name, items in lists.items() for i, value in enumerate(items)}
    problems = []
    for name, items in lists.items():
        if not items:
            problems.append(f"grid.{name}: is empty; list at least one value")
        for index, item in enumerate(items):
            if items.index(item) != index:
                problems.append(f"grid.{name}[{index}]: duplicate of [{items.index(item)}] ({item}); remove it")
    problems += [f"grid.{where}: must be > 0, got {value}" for where, value in values.items() if value <= 0]
    for index, point in enumerate(grid.points or []):
        if point.seeds is not None and len(set(point.seeds)) != len(point.seeds):
            problems.append(f"grid.points[{index}].seeds: has duplicates {point.seeds}; list each seed once")
    batch_sizes = {where: value for where, value in values.items() if "batch_size" in where and value > 0}
    for where, batch_size in batch_sizes.items():
        try:
            split_batch(batch_size, training.max_per_device_batch, workers)
        except ValueError as unsplittable:
            problems.append(f"grid.{where}: {unsplittable}")
    if grid.lr_bs_ratio is not None and not problems:
        problems += _ratio_collisions(grid.lr_bs_ratio, grid.batch_size or [])
    if len(set(training.seeds)) != len(training.seeds):
        problems.append(f"training.seeds: has duplicates {training.seeds}; list each seed once")
    return problems


def _ratio_collisions(ratios: list[float], batch_sizes: list[int]) -> list[str]:
    """Distinct ratios whose learning rates agree to the 12 digits a ratio grid keeps would share a trial id."""
    problems = []
    for size in batch_sizes:
        first: dict[float, int] = {}
        for index, ratio in enumerate(ratios):
            rate = learning_rate_at(ratio, size)
            if rate in first:
                problems.append(
                    f"grid.lr_bs_ratio[{index}]: at batch size {size} it gives the learning rate {rate} of "
                    f"lr_bs_ratio[{first[rate]}] (equal to 12 significant digits), so their trials would share an id; "
                    "remove one"
                )
            first.setdefault(rate, index)
    return problems


def _method_problems(spec: SweepSpec) -> list[str]:
    problems = []
    if spec.search.algorithm == "optuna" and spec.grid.points is not None:
        problems.append(
            "search.algorithm: optuna samples within ranges, which exact grid.points do not give; use "
            "grid.learning_rate (or lr_bs_ratio) × batch_size as the ranges, or algorithm: grid"
        )
    resources = spec.resources
    if resources.workers > 1 and resources.gpus not in (0, 1):
        problems.append(
            f"resources.gpus: {resources.gpus} per worker, but a multi-worker trial's workers each hold a whole GPU; "
            "set gpus: 1 (or 0 on CPUs), or workers: 1 to share a GPU between trials"
        )
    if spec.training.fsdp and (resources.workers == 1 or resources.gpus != 1):
        problems.append(
            "training.fsdp: shards over a trial's workers, one GPU each (on CPUs accelerate would quietly run DDP); "
            "set resources.workers > 1 and resources.gpus: 1, or fsdp: false"
        )
    if spec.training.fsdp and spec.training.lora is not None:
        problems.append(
            "training.lora: not with training.fsdp (sharding a frozen base beside a small trainable adapter is "
            "untested here); a LoRA trial's gradients and optimizer state are the adapter's only, so plain data "
            "parallelism usually fits: set fsdp: false, or drop lora"
        )
    if spec.method == "dpo":
        for switch in ("padding_free", "liger_kernel"):
            if getattr(spec.training, switch):
                problems.append(f"training.{switch}: SFT only (TRL's DPOTrainer has none); set it false for dpo")
    return problems


def _category_problems(spec: SweepSpec) -> list[str]:
    problems = []
    declared = spec.categories
    for index, task in enumerate(spec.evaluation.tasks):
        if task.category not in declared:
            hint = did_you_mean(task.category, declared) or f"add it to `categories` {declared}"
            problems.append(f"evaluation.tasks[{index}].category: unknown category '{task.category}'; {hint}")
    used = {task.category for task in spec.evaluation.tasks}
    for index, category in enumerate(declared):
        if category not in used:
            problems.append(f"categories[{index}]: '{category}' has no task; give it a task or remove it")
    metrics = {"score/mean", "train_loss", *(f"score/{c}" for c in declared)}
    metrics |= {f"tasks/{task.task}/score" for task in spec.evaluation.tasks}
    if spec.search.metric not in metrics:
        hint = did_you_mean(spec.search.metric, sorted(metrics)) or f"use one of {sorted(metrics)}"
        problems.append(f"search.metric: '{spec.search.metric}' is not reported by trials; {hint}")
    problems += _direction_problems(spec)
    names = [task.task for task in spec.evaluation.tasks]
    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.append(f"evaluation.tasks[{index}].task: '{name}' is listed twice; list each task once")
    return problems


def _direction_problems(spec: SweepSpec) -> list[str]:
    """Optuna's objective must have one direction: a metric averaging tasks where higher is better with tasks where
    lower is better is no objective, and a mode against the metric's direction is a slip."""
    search = spec.search
    if search.algorithm != "optuna":
        return []
    directions = {task.task: task.higher_is_better for task in spec.metric_tasks(search.metric)}
    known = {direction for direction in directions.values() if direction is not None}
    if len(known) > 1:
        lower = sorted(task for task, higher in directions.items() if higher is False)
        return [
            f"search.metric: '{search.metric}' averages tasks where higher is better with tasks where lower is better "
            f"({', '.join(lower)}); optimise one category or task (`tasks/<task>/score`) of one direction"
        ]
    if search.mode is not None and known and None not in directions.values():
        expected = "max" if known == {True} else "min"
        if search.mode != expected:
            return [
                f"search.mode: '{search.mode}' but a {'higher' if expected == 'max' else 'lower'} "
                f"'{search.metric}' is better; set mode: {expected} or leave it out (it follows the metric)"
            ]
    return []


def did_you_mean(word: str, options: list[str]) -> str:
    """ "did you mean 'x'?" for the closest option, or "" when none is close (lm-eval's registry does the same)."""
    matches = difflib.get_close_matches(word, options, n=1)
    return f"did you mean '{matches[0]}'?" if matches else ""


def load_spec(source: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read a spec from a YAML path (or a packaged spec's name, e.g. `demo`) and validate it completely."""
    path = _find_spec_file(source)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError([f"malformed YAML at{where}: {getattr(error, 'problem', error)}"], str(path)) from None
    if not isinstance(raw, dict):
        raise SpecError(["the file must hold a mapping of spec fields (name, model, data, ...)"], str(path))
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return spec_from_dict(raw, str(path))


def load_sweep_spec(output_dir: str | Path) -> SweepSpec:
    """The spec of the sweep in `output_dir` (its `spec.yaml`), for resume and status."""
    path = Path(output_dir) / SPEC_FILE
    if not path.is_file():
        raise OutputDirError(f"{output_dir} holds no sweep (no {SPEC_FILE}); start one with `sweeper run SPEC`")
    return load_spec(path, {"output_dir": str(Path(output_dir).resolve())})


def spec_from_dict(raw: dict[str, Any], source: str = "spec") -> SweepSpec:
    """Validate a plain dict, turning pydantic's errors into `path: problem; fix` lines (all at once)."""
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as error:
        raise SpecError(_describe_all(error.errors()), source) from None
    problems = [
        *_grid_problems(spec.grid, spec.training, spec.resources.workers),
        *_method_problems(spec),
        *_category_problems(spec),
    ]
    if problems:
        raise SpecError(problems, source)
    return spec


def _describe_all(items: list[dict[str, Any]]) -> list[str]:
    """One line per field: the alternatives of a union (`int | 'auto'`) are joined with `or`."""
    by_path: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_path.setdefault(_format_path(item["loc"]), []).append(item)
    lines = []
    for group in by_path.values():
        first, *others = group
        line = _describe(first)
        for other in others:
            line = line.replace(", got ", f" or {other['msg'].removeprefix('Input should be ')}, got ", 1)
        lines.append(line)
    return lines


def _describe(item: dict[str, Any]) -> str:
    location = item["loc"]
    path = _format_path(location)
    if item["type"] == "extra_forbidden":
        parent = _model_at(location[:-1])
        hint = did_you_mean(str(location[-1]), list(parent.model_fields)) if parent else ""
        return f"{path}: unknown key; {hint or 'remove it (see `sweeper validate --help` for the fields)'}"
    if item["type"] == "missing":
        return f"{path}: required field is missing; add it"
    message = item["msg"].removeprefix("Value error, ")
    got = item.get("input")
    shown = "" if isinstance(got, dict) or item["type"] == "value_error" else f", got {got!r}"
    return f"{path or 'spec'}: {message}{shown}"


def _format_path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in {"int", "float", "bool", "str", "literal['auto']"} or "[" in str(part):
            continue  # pydantic names union members in the location; they are not part of the user's path
        else:
            path += f".{part}" if path else str(part)
    return path


def _model_at(location: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class at a location inside SweepSpec (for did-you-mean on unknown keys)."""
    model: Any = SweepSpec
    for part in location:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def _find_spec_file(source: str | Path) -> Path:
    path = Path(source)
    if path.is_file():
        return path
    packaged = PACKAGED_SPECS / f"{source}.yaml"
    if packaged.is_file():
        return packaged
    known = sorted(p.stem for p in PACKAGED_SPECS.glob("*.yaml"))
    hint = did_you_mean(str(source), known)
    raise SpecError([f"no such file; give a YAML path or a packaged spec name {known}. {hint}".strip()], str(source))


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for key in parents:
        if node.get(key) is None:  # absent, or an optional section left out (`lora: null`): `--set` opens it
            node[key] = {}
        node = node[key]
    node[leaf] = value


def dump_spec(spec: SweepSpec) -> str:
    """The resolved spec as YAML (defaults filled in), as written next to a sweep's results."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
