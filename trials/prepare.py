"""Work done once per sweep, before any trial: the base model (built and pretrained for `tiny`, merged for a LoRA
trial of `model.from_sweep`), its parameter count (and the LoRA targets checked against it), and the tokenized data.
Trials receive a `PreparedSweep` of paths and only read from them.

Everything lands in the cache (`trials.cache`) under content-hash keys, so a resumed or repeated sweep reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contract.spec import SweepSpec


@dataclass(frozen=True)
class PreparedSweep:
    """Paths (or hub ids) every trial reads; cheap to pickle and ship to Ray workers."""

    model_path: str
    tokenizer_path: str
    data_path: str
    num_examples: int
    num_tokens: int
    model_parameters: int
    """The base model's parameter count (the condition of every trial and of the baseline)."""


def saved_model_dir(output_dir: Path, trial_id: str) -> Path:
    """Where a trial saves its trained model when `training.save_model` is on."""
    return Path(output_dir) / "models" / trial_id


def checkpoint_dir(output_dir: Path, trial_id: str) -> Path:
    """Where a trial keeps its resumable checkpoint when `training.checkpoint_steps` is on (outside Ray's folders,
    so a restored or re-created Tune trial finds it by the trial's own id)."""
    return Path(output_dir) / "checkpoints" / trial_id


def prepare_sweep(spec: SweepSpec, base_model: str | None = None) -> PreparedSweep:
    """Build or locate the base model, then tokenize the training data once (both cached). `base_model`: the
    folder the driver chose for a `model.from_sweep` spec (the earlier sweep's best trial; its adapter merged in, if
    it trained one). A `training.lora` whose target modules the model lacks stops the sweep here, before any trial."""
    import datasets
    import transformers

    from trials.adapter import check_targets, whole_model
    from trials.cache import cache_root
    from trials.data import prepare_data
    from trials.model import load_tokenizer, model_skeleton

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    if spec.model.tiny is not None:
        from trials.demo.pretrain import ensure_demo_base_model

        tiny = spec.model.tiny
        pretrain = tiny.pretrain.model_dump(exclude={"corpus_size", "seed"})
        model_path = str(
            ensure_demo_base_model(
                cache_root() / "models", tiny.config, pretrain, tiny.pretrain.corpus_size, tiny.pretrain.seed
            )
        )
    elif base_model is not None:
        model_path = str(whole_model(Path(base_model), spec.model, cache_root()))
    else:
        model_path = spec.model.name_or_path
    skeleton = model_skeleton(model_path, spec.model)
    if spec.training.lora is not None:
        check_targets(skeleton, spec.training.lora, model_path)
    tokenizer_path = spec.model.tokenizer or model_path
    tokenizer = load_tokenizer(tokenizer_path, spec)
    data = prepare_data(spec.data, spec.method, tokenizer, spec.training.max_length, cache_root())
    return PreparedSweep(
        model_path, tokenizer_path, str(data.path), data.num_examples, data.num_tokens, skeleton.num_parameters()
    )
