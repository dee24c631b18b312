"""Work done once per sweep, before any trial: the base model (built and pretrained for `tiny`) and the
tokenized data. Trials receive a `PreparedSweep` of paths and only read from them.

Everything lands in the cache (`$RATIO_SWEEPER_CACHE`, default `~/.cache/ratio-sweeper`) under content-hash
keys, so a resumed or repeated sweep reuses it. On a multi-node Ray cluster point the cache at a filesystem
every node can read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sweeper.spec import SweepSpec


@dataclass(frozen=True)
class PreparedSweep:
    """Paths (or hub ids) every trial reads; cheap to pickle and ship to Ray workers."""

    model_path: str
    tokenizer_path: str
    data_path: str
    num_examples: int
    num_tokens: int


def cache_root() -> Path:
    return Path(os.environ.get("RATIO_SWEEPER_CACHE", "~/.cache/ratio-sweeper")).expanduser()


def saved_model_dir(output_dir: Path, trial_id: str) -> Path:
    """Where a trial saves its trained model when `training.save_model` is on."""
    return Path(output_dir) / "models" / trial_id


def checkpoint_dir(output_dir: Path, trial_id: str) -> Path:
    """Where a trial keeps its resumable checkpoint when `training.checkpoint_steps` is on (outside Ray's folders,
    so a restored or re-created Tune trial finds it by the trial's own id)."""
    return Path(output_dir) / "checkpoints" / trial_id


def best_model_of_sweep(sweep_dir: str, best_on: str) -> Path:
    """The saved model of an earlier sweep's best trial on a category, task or the mean of all tasks."""
    from sweeper.errors import SweeperError
    from sweeper.store import ResultsStore, best_trial

    store = ResultsStore(Path(sweep_dir).expanduser())
    if not store.parquet_path.exists():
        raise SweeperError(f"model.from_sweep.path: {sweep_dir} holds no results.parquet; give a sweep's output dir")
    try:
        trial_id = best_trial(store.load(), best_on)
    except ValueError as error:
        raise SweeperError(f"model.from_sweep.best_on: {error}; use a category or task of that sweep") from None
    folder = saved_model_dir(store.directory, trial_id)
    if not folder.is_dir():
        raise SweeperError(
            f"model.from_sweep: best trial {trial_id} of {sweep_dir} saved no model; "
            "run that sweep with training.save_model: true"
        )
    return folder


def prepare_sweep(spec: SweepSpec) -> PreparedSweep:
    """Build or locate the base model, then tokenize the training data once (both cached)."""
    import datasets
    import transformers

    from trials.data import prepare_data

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    from trials.model import load_tokenizer

    if spec.model.tiny is not None:
        from trials.pretrain import ensure_demo_base_model

        tiny = spec.model.tiny
        pretrain = tiny.pretrain.model_dump(exclude={"corpus_size", "seed"})
        model_path = str(
            ensure_demo_base_model(
                cache_root() / "models", tiny.config, pretrain, tiny.pretrain.corpus_size, tiny.pretrain.seed
            )
        )
    elif spec.model.from_sweep is not None:
        model_path = str(best_model_of_sweep(spec.model.from_sweep.path, spec.model.from_sweep.best_on))
    else:
        model_path = spec.model.name_or_path
    tokenizer_path = spec.model.tokenizer or model_path
    tokenizer = load_tokenizer(tokenizer_path, spec)
    data = prepare_data(spec.data, spec.method, tokenizer, spec.training.max_length, cache_root())
    return PreparedSweep(model_path, tokenizer_path, str(data.path), data.num_examples, data.num_tokens)
