"""Score a model with lm-eval's `simple_evaluate` on the spec's tasks, with the spec's `evaluation.backend`.

`hf`: the model is wrapped in `HFLM` as it is (no save-and-reload). `vllm`: a trained model is saved to the trial
dir and moved off the GPU (vLLM preallocates its share of the GPU at start), then vLLM serves that folder; the
baseline's base model is served from its own folder or hub id. Both backends build one lm-eval model for every
`num_fewshot` group and score through the same code, so their results have the same format.
The eval batch size is the spec's, fixed for the whole sweep, because scores can move with it (lm-eval#704, #1625)
and HFLM's `auto` caches the first task's size. Local task folders (the demo's and `evaluation.include_path`) are
indexed alone; lm-eval's ~5 s index of its built-in tasks is paid only when a spec names one.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract.store import TaskScore

if TYPE_CHECKING:
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from contract.spec import EvaluationSpec, SweepSpec, TaskSpec

VLLM_MODEL_DIR = "vllm_model"


def task_folders(evaluation: EvaluationSpec) -> tuple[str, ...]:
    """The demo tasks' folder plus the spec's extra task folders."""
    from trials.demo.tasks import DEMO_TASKS_DIR

    return (str(DEMO_TASKS_DIR), *evaluation.include_path)


@cache
def task_manager(folders: tuple[str, ...], with_builtin: bool) -> TaskManager:
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=list(folders), include_defaults=with_builtin, verbosity="ERROR")


def resolve_task_manager(evaluation: EvaluationSpec) -> TaskManager:
    """A TaskManager that knows every task the spec names (built-ins indexed only when needed)."""
    folders = task_folders(evaluation)
    local = task_manager(folders, with_builtin=False)
    wanted = {task.task for task in evaluation.tasks}
    return local if wanted <= set(local.all_tasks) else task_manager(folders, with_builtin=True)


def evaluate_trained(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    spec: SweepSpec,
    trial_dir: Path,
    saved: Path | None = None,
) -> tuple[TaskScore, ...]:
    """A trained model's scores: in memory (`hf`), or served by vLLM (`vllm`) from `saved` (the folder where
    `training.save_model` put it) or from a copy saved to `trial_dir` for the run; the model is left on the CPU."""
    if spec.evaluation.backend == "hf":
        return evaluate_model(model, tokenizer, spec.evaluation)
    from trials.model import free_gpu_memory

    folder = saved or Path(trial_dir) / VLLM_MODEL_DIR
    if saved is None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    # The trainer (optimizer state, activations) was dropped when training returned; the weights go now.
    model.to("cpu")
    free_gpu_memory()
    try:
        return evaluate_with_vllm(str(folder), str(folder), spec)
    finally:
        if saved is None:
            shutil.rmtree(folder)  # a model copy per trial would fill the disk


def evaluate_base(name_or_path: str, tokenizer: PreTrainedTokenizerBase, spec: SweepSpec) -> tuple[TaskScore, ...]:
    """The untrained base model's scores (the baseline): `hf` loads it, vLLM serves its folder or hub id as it is,
    with the tokenizer as the trials use it (the data spec's chat template) saved aside for the run."""
    if spec.evaluation.backend == "hf":
        from trials.model import load_model

        return evaluate_model(load_model(name_or_path, spec.model), tokenizer, spec.evaluation)
    revision = spec.model.revision if spec.model.tiny is None else None
    with tempfile.TemporaryDirectory() as tokenizer_folder:
        tokenizer.save_pretrained(tokenizer_folder)
        return evaluate_with_vllm(name_or_path, tokenizer_folder, spec, revision)


def evaluate_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, evaluation: EvaluationSpec
) -> tuple[TaskScore, ...]:
    """The in-memory model's scores through lm-eval's HFLM, in eval mode (its training mode restored after)."""
    from lm_eval.models.huggingface import HFLM

    was_training = model.training
    model.eval()
    scores = _evaluate(HFLM(pretrained=model, tokenizer=tokenizer, batch_size=evaluation.batch_size), evaluation)
    model.train(was_training)
    return scores


def evaluate_with_vllm(
    pretrained: str, tokenizer: str, spec: SweepSpec, revision: str | None = None
) -> tuple[TaskScore, ...]:
    """Scores from lm-eval's `vllm` model serving a folder or hub id. It is built once, as `simple_evaluate` would
    build it from these `model_args`, because each `num_fewshot` group would otherwise start another engine."""
    from lm_eval.api.registry import get_model

    from trials.model import free_gpu_memory

    evaluation = spec.evaluation
    model_args = {
        "pretrained": pretrained,
        "tokenizer": tokenizer,
        "revision": revision,
        "trust_remote_code": spec.model.trust_remote_code,
        "dtype": "auto",
        "gpu_memory_utilization": evaluation.gpu_memory_utilization(spec.resources.gpus),
        "max_model_len": evaluation.vllm_max_model_len,
        "batch_size": evaluation.batch_size,
    }
    language_model = get_model("vllm").create_from_arg_obj(model_args)
    try:
        return _evaluate(language_model, evaluation)
    finally:
        del language_model
        free_gpu_memory()  # the engine's preallocated share must be gone before the worker's next trial


@contextmanager
def _without_subprocesses() -> Iterator[None]:
    """Score without forking. `simple_evaluate` ends by running `git describe` and torch's `collect_env` (pip, conda,
    nvidia-smi, ...) in subprocesses, only to annotate its results, and its bootstrap stderr runs in a process pool.
    A fork in a Ray worker is where Ray's SIGTERM at the end of a sweep can land in a fork handler, where Python
    drops the `SystemExit`, and the worker never exits. The annotations are not used here, so they are skipped for
    the call, and `DISABLE_MULTIPROC` (lm-eval's own switch) keeps the bootstrap in this process."""
    import lm_eval.evaluator as evaluator

    saved = evaluator.get_git_commit_hash, evaluator.add_env_info, os.environ.get("DISABLE_MULTIPROC")
    evaluator.get_git_commit_hash, evaluator.add_env_info = (lambda: None), (lambda storage: None)
    os.environ["DISABLE_MULTIPROC"] = "1"
    try:
        yield
    finally:
        evaluator.get_git_commit_hash, evaluator.add_env_info = saved[:2]
        if saved[2] is None:
            os.environ.pop("DISABLE_MULTIPROC")
        else:
            os.environ["DISABLE_MULTIPROC"] = saved[2]


def _evaluate(language_model: LM, evaluation: EvaluationSpec) -> tuple[TaskScore, ...]:
    """One `TaskScore` per spec task; tasks are grouped by `num_fewshot` (one simple_evaluate call each)."""
    from lm_eval import simple_evaluate

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    manager = resolve_task_manager(evaluation)
    by_fewshot: dict[int | None, list[str]] = {}
    for task in evaluation.tasks:
        by_fewshot.setdefault(task.num_fewshot, []).append(task.task)
    results: dict[str, dict[str, Any]] = {}
    directions: dict[str, dict[str, bool]] = {}
    for num_fewshot, names in by_fewshot.items():
        with _without_subprocesses():
            output = simple_evaluate(
                model=language_model,
                tasks=names,
                num_fewshot=num_fewshot,
                limit=evaluation.limit,
                bootstrap_iters=evaluation.bootstrap_iters,
                apply_chat_template=evaluation.apply_chat_template,
                task_manager=manager,
                log_samples=False,
                verbosity="ERROR",
            )
        results.update(output["results"])
        directions.update(output.get("higher_is_better", {}))
    return tuple(_score(task, results.get(task.task, {}), directions.get(task.task, {})) for task in evaluation.tasks)


def _score(task: TaskSpec, result: dict[str, Any], directions: dict[str, bool]) -> TaskScore:
    """The spec task's score; its direction is the spec's (resolved from lm-eval's task config before the sweep),
    else what lm-eval reported for the metric, else None (never guessed)."""
    key = task.result_key
    if key not in result:
        known = sorted(k for k in result if "," in k and not k.split(",")[0].endswith("_stderr"))
        raise KeyError(f"task {task.task}: lm-eval reported no '{key}'; it reported {known}")
    stderr = result.get(key.replace(",", "_stderr,", 1))
    higher_is_better = task.higher_is_better
    return TaskScore(
        task=task.task,
        category=task.category,
        metric=task.metric,
        score=float(result[key]),
        stderr=float(stderr) if isinstance(stderr, (int, float)) else math.nan,
        higher_is_better=directions.get(task.metric) if higher_is_better is None else higher_is_better,
    )
