"""What lm-eval's own task configs say about the spec's tasks, read offline before any compute is spent.

A task's YAML (its `include:`s merged, as lm-eval merges them) lists the metrics it reports with their direction
(`higher_is_better`) and the filters they come under; a group's `aggregate_metric_list` does the same for the score
lm-eval reports for the group. A typo in a metric or filter then fails the spec, not every trial after it trained,
and a metric where lower is better (perplexity) is known as such before Optuna picks its mode. Local task folders
and lm-eval's built-in tasks are read the same way; the built-in index (~5 s) is built only when a spec names a task
that no local folder defines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contract.spec import EvaluationSpec


@dataclass(frozen=True)
class TaskMetrics:
    """The scores lm-eval reports for one task or group name."""

    kind: str
    """`task`, `group`, `tag` (no score of its own) or `python` (a class-defined task: its config says nothing)."""
    higher_is_better: dict[str, bool | None]
    """metric → direction, for every metric the task reports."""
    filters: tuple[str, ...]
    """The filter names its metrics come under (`none` when it has no filter list)."""
    members: int = 0
    """How many tasks a tag collects."""


def lookup_tasks(evaluation: EvaluationSpec) -> dict[str, TaskMetrics | None]:
    """Each spec task's name → what lm-eval's config says of it (None: no task, group or tag has that name)."""
    from trials.evaluate import resolve_task_manager

    manager = resolve_task_manager(evaluation)
    index = manager.task_index
    return {task.task: _metrics(index[task.task], index) if task.task in index else None for task in evaluation.tasks}


def known_task_names(evaluation: EvaluationSpec) -> list[str]:
    """Every name the spec's task manager knows, for did-you-mean hints."""
    from trials.evaluate import resolve_task_manager

    return sorted(resolve_task_manager(evaluation).task_index)


def _metrics(entry: Any, index: dict[str, Any]) -> TaskMetrics:
    from lm_eval.tasks._index import Kind

    if entry.kind is Kind.TAG:
        return TaskMetrics("tag", {}, (), members=sum(entry.name in other.tags for other in index.values()))
    if entry.yaml_path is None or entry.kind is Kind.PY_TASK:
        return TaskMetrics("python", {}, ())
    config = _config(entry.yaml_path)
    if entry.kind is Kind.GROUP:
        aggregates = config.get("aggregate_metric_list") or []
        if isinstance(aggregates, dict):
            aggregates = [aggregates]
        filters = {name for item in aggregates for name in _as_list(item.get("filter_list", "none"))}
        return TaskMetrics("group", {item["metric"]: _direction(item) for item in aggregates}, tuple(sorted(filters)))
    from lm_eval.api.registry import DEFAULT_METRIC_REGISTRY

    listed = config.get("metric_list") or [
        {"metric": name} for name in DEFAULT_METRIC_REGISTRY.get(config.get("output_type", ""), [])
    ]
    filters = tuple(item["name"] for item in config.get("filter_list") or []) or ("none",)
    return TaskMetrics("task", {item["metric"]: _direction(item) for item in listed}, filters)


def _config(path: Any) -> dict[str, Any]:
    """The task YAML with its includes merged, `!function` tags left unresolved (no task code is imported)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(path, resolve_func=False)


def _direction(item: dict[str, Any]) -> bool | None:
    """The config's own `higher_is_better`, else lm-eval's registry default for the metric, else None: a custom
    metric's direction is left to what lm-eval reports when it scores, and is never guessed here."""
    from lm_eval.api.registry import is_higher_better

    stated = item.get("higher_is_better")
    if isinstance(stated, bool):
        return stated
    metric = item.get("metric")
    registered = is_higher_better(metric) if isinstance(metric, str) else None
    return None if registered is None else bool(registered)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
