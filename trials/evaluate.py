"""Score the in-memory model with lm-eval's `simple_evaluate` on the spec's tasks.

The model is wrapped in `HFLM` as it is (no save-and-reload). The eval batch size is the spec's, fixed for the
whole sweep, because scores can move with it (lm-eval#704, #1625) and `auto` caches the first task's size.
Local task folders (the demo's and `evaluation.include_path`) are indexed alone; lm-eval's ~5 s index of its
built-in tasks is paid only when a spec names one.
"""

from __future__ import annotations

import logging
import math
from functools import cache
from typing import TYPE_CHECKING, Any

from sweeper.store import TaskScore

if TYPE_CHECKING:
    from lm_eval.tasks import TaskManager
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from sweeper.spec import EvaluationSpec


def task_folders(evaluation: EvaluationSpec) -> tuple[str, ...]:
    """The demo tasks' folder plus the spec's extra task folders."""
    from trials.demo_tasks import DEMO_TASKS_DIR

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


def evaluate_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, evaluation: EvaluationSpec
) -> tuple[TaskScore, ...]:
    """One `TaskScore` per spec task; tasks are grouped by `num_fewshot` (one simple_evaluate call each)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    was_training = model.training
    model.eval()
    manager = resolve_task_manager(evaluation)
    language_model = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=evaluation.batch_size)
    by_fewshot: dict[int | None, list[str]] = {}
    for task in evaluation.tasks:
        by_fewshot.setdefault(task.num_fewshot, []).append(task.task)
    results: dict[str, dict[str, Any]] = {}
    for num_fewshot, names in by_fewshot.items():
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
    model.train(was_training)
    return tuple(_score(task, results.get(task.task, {})) for task in evaluation.tasks)


def _score(task: Any, result: dict[str, Any]) -> TaskScore:
    key = task.result_key
    if key not in result:
        known = sorted(k for k in result if "," in k and not k.split(",")[0].endswith("_stderr"))
        raise KeyError(f"task {task.task}: lm-eval reported no '{key}'; it reported {known}")
    stderr = result.get(key.replace(",", "_stderr,", 1))
    return TaskScore(
        task=task.task,
        category=task.category,
        metric=task.metric,
        score=float(result[key]),
        stderr=float(stderr) if isinstance(stderr, (int, float)) else math.nan,
    )
