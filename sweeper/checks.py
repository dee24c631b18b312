"""Checks of a spec against this machine, before any compute is spent: paths, task names, metrics, resources.

`contract/spec.py` checks what the YAML can say about itself; this module checks what it refers to. Hub ids cannot be
checked offline and are reported as such, never guessed at. lm-eval's index of its built-in tasks (~5 s) is
built only when a spec names a task that no local task folder defines.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from contract.errors import SpecError
from contract.spec import SweepSpec, did_you_mean

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class CheckReport:
    """What was checked: the problems (fatal), and the references that could not be checked here."""

    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    higher_is_better: dict[str, bool | None] = field(default_factory=dict)
    """Task → lm-eval's direction of the spec's metric for it (the tasks whose metric could be checked; None where
    the config and lm-eval's registry state none)."""


def check_spec(spec: SweepSpec, *, address: str | None = None, for_this_machine: bool = True) -> CheckReport:
    """Raise `SpecError` listing every problem at once; return the report of what was left unchecked.

    `for_this_machine=False` (`sweeper validate`, which often checks a GPU recipe on a laptop, or a DPO recipe
    before the SFT sweep it starts from has run) reports resources this machine lacks and a `model.from_sweep`
    sweep that is not there yet as unchecked instead of failing.
    """
    report = CheckReport()
    _check_references(spec, report)
    _check_tasks(spec, report)
    for field_path, needs_gpu, _ in _gpu_packages(spec):
        if needs_gpu and spec.resources.gpus == 0:
            report.problems.append(f"{field_path}: needs a GPU; set resources.gpus > 0, or turn it off")
    address = address or os.environ.get("RAY_ADDRESS")
    resources = CheckReport()
    _check_resources(spec, address, resources)
    _defer(resources, report, for_this_machine, "fine if you run elsewhere")
    earlier = CheckReport()
    _check_earlier_sweep(spec, earlier)
    _defer(earlier, report, for_this_machine, "fine if that sweep runs first")
    if report.problems:
        raise SpecError(report.problems)
    return report


def _check_references(spec: SweepSpec, report: CheckReport) -> None:
    references = {
        "model.name_or_path": spec.model.name_or_path,
        "model.tokenizer": spec.model.tokenizer,
        "data.source": None if spec.data.source == "demo" else spec.data.source,
    }
    for field_path, value in references.items():
        if value is None:
            continue
        if Path(value).expanduser().exists():
            continue
        if HUB_ID.match(value):
            report.unchecked.append(f"{field_path}: '{value}' is a hub id (not checked offline)")
        else:
            report.problems.append(f"{field_path}: no such local path '{value}'; fix the path or give a hub id")
    template = spec.data.chat_template
    if template is not None and template.endswith(".jinja") and not Path(template).expanduser().is_file():
        report.problems.append(f"data.chat_template: no such file '{template}'; give a .jinja path or inline Jinja")
    for index, folder in enumerate(spec.evaluation.include_path):
        if not Path(folder).expanduser().is_dir():
            report.problems.append(f"evaluation.include_path[{index}]: no such folder '{folder}'")


def _check_earlier_sweep(spec: SweepSpec, report: CheckReport) -> None:
    source = spec.model.from_sweep
    if source is not None and not (Path(source.path).expanduser() / "results.parquet").is_file():
        report.problems.append(f"model.from_sweep.path: no sweep results in '{source.path}'; give a sweep's output dir")


def _defer(checked: CheckReport, report: CheckReport, for_this_machine: bool, note: str) -> None:
    """Problems that only matter when the sweep runs here and now: fatal then, `unchecked` for `validate`."""
    report.unchecked += checked.unchecked
    if for_this_machine:
        report.problems += checked.problems
    else:
        report.unchecked += [f"{problem} ({note})" for problem in checked.problems]


def _check_tasks(spec: SweepSpec, report: CheckReport) -> None:
    """Task names, metrics and filters against lm-eval's own configs; each task's metric direction is recorded."""
    from trials.task_configs import known_task_names, lookup_tasks

    found = lookup_tasks(spec.evaluation)
    for index, task in enumerate(spec.evaluation.tasks):
        path = f"evaluation.tasks[{index}]"
        metrics = found[task.task]
        if metrics is None:
            hint = did_you_mean(task.task, known_task_names(spec.evaluation))
            report.problems.append(
                f"{path}.task: unknown task '{task.task}'; {hint or 'check the name with `lm_eval --tasks list`'}"
            )
        elif metrics.kind == "tag":
            report.problems.append(
                f"{path}.task: '{task.task}' is a tag of {metrics.members} tasks, and lm-eval reports no score for a "
                "tag; list its tasks one by one, or name a group"
            )
        elif metrics.kind == "python":
            report.unchecked.append(f"{path}: '{task.task}' is defined in Python; its metric and filter are unchecked")
        elif task.metric not in metrics.higher_is_better:
            reported = list(metrics.higher_is_better)
            hint = did_you_mean(task.metric, reported) or f"it reports {reported}"
            report.problems.append(f"{path}.metric: task '{task.task}' reports no '{task.metric}'; {hint}")
        elif task.filter not in metrics.filters:
            hint = did_you_mean(task.filter, list(metrics.filters)) or f"its filters are {list(metrics.filters)}"
            report.problems.append(f"{path}.filter: task '{task.task}' has no filter '{task.filter}'; {hint}")
        else:
            report.higher_is_better[task.task] = metrics.higher_is_better[task.metric]


def _gpu_packages(spec: SweepSpec) -> list[tuple[str, bool, str]]:
    """(field, switched on, the package it needs) for the GPU-only options: vLLM scoring, Liger's Triton kernels."""
    return [
        ("evaluation.backend", spec.evaluation.backend == "vllm", "vllm"),
        ("training.liger_kernel", spec.training.liger_kernel, "liger_kernel"),
    ]


def _check_resources(spec: SweepSpec, address: str | None, report: CheckReport) -> None:
    if address:
        report.unchecked.append(f"resources: checked by the Ray cluster at {address}, not here")
        return
    for field_path, needed, package in _gpu_packages(spec):
        if needed and find_spec(package) is None:
            report.problems.append(
                f"{field_path}: {package} is not installed here; pip install 'ratio-sweeper[gpu]' on a GPU machine, "
                "or turn it off"
            )
    resources = spec.resources
    per_trial = f"per trial ({resources.workers} worker(s))" if resources.workers > 1 else "per trial"
    cpus = os.cpu_count() or 1
    if resources.cpus * resources.workers > cpus:
        report.problems.append(
            f"resources.cpus: {resources.cpus * resources.workers:g} {per_trial} but this machine has {cpus}"
        )
    if resources.gpus > 0:
        import torch

        gpus = torch.cuda.device_count()
        if resources.gpus * resources.workers > gpus:
            report.problems.append(
                f"resources.gpus: {resources.gpus * resources.workers:g} {per_trial} but this machine has {gpus}; "
                "set gpus: 0 or run on a GPU machine / Ray cluster (--address)"
            )
