"""Checks of a spec against this machine, before any compute is spent: paths, task names, metrics, resources.

`spec.py` checks what the YAML can say about itself; this module checks what it refers to. Hub ids cannot be
checked offline and are reported as such, never guessed at. lm-eval's index of its built-in tasks (~5 s) is
built only when a spec names a task that no local task folder defines.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import yaml

from sweeper.errors import SpecError
from sweeper.spec import SweepSpec
from trials.demo_tasks import DEMO_TASKS_DIR

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class CheckReport:
    """What was checked: the problems (fatal), and the references that could not be checked here."""

    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)


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


def local_task_configs(folders: list[str]) -> dict[str, dict[str, Any]]:
    """Task name → its YAML config for every task YAML in these folders (lm-eval's `!function` tags kept opaque)."""
    configs: dict[str, dict[str, Any]] = {}
    for folder in folders:
        for path in sorted(Path(folder).expanduser().rglob("*.yaml")):
            config = yaml.load(path.read_text(), Loader=_TaskLoader)
            if isinstance(config, dict) and isinstance(config.get("task"), str):
                configs[config["task"]] = config
    return configs


class _TaskLoader(yaml.SafeLoader):
    """SafeLoader that reads lm-eval's `!function module.name` tags as plain strings."""


_TaskLoader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


@cache
def builtin_task_names() -> frozenset[str]:
    """lm-eval's own task, group and tag names (indexing them costs ~5 s, so once per process)."""
    from lm_eval.tasks import TaskManager

    return frozenset(TaskManager(include_path=None, include_defaults=True, verbosity="ERROR").all_tasks)


def _check_tasks(spec: SweepSpec, report: CheckReport) -> None:
    folders = [str(DEMO_TASKS_DIR), *spec.evaluation.include_path]
    local = local_task_configs([f for f in folders if Path(f).expanduser().is_dir()])
    wanted = [task.task for task in spec.evaluation.tasks]
    known = set(local)
    if not set(wanted) <= known:
        known |= builtin_task_names()
    for index, task in enumerate(spec.evaluation.tasks):
        path = f"evaluation.tasks[{index}]"
        if task.task not in known:
            matches = difflib.get_close_matches(task.task, sorted(known), n=1)
            hint = f"did you mean '{matches[0]}'?" if matches else "check the name with `lm_eval --tasks list`"
            report.problems.append(f"{path}.task: unknown task '{task.task}'; {hint}")
            continue
        metrics = [m.get("metric") for m in (local.get(task.task) or {}).get("metric_list", [])]
        if metrics and task.metric not in metrics:
            report.problems.append(f"{path}.metric: task '{task.task}' reports {metrics}, not '{task.metric}'")
        filters = [f.get("name") for f in (local.get(task.task) or {}).get("filter_list", [])]
        if filters and task.filter not in filters:
            report.problems.append(f"{path}.filter: task '{task.task}' has filters {filters}, not '{task.filter}'")


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
    cpus = os.cpu_count() or 1
    if spec.resources.cpus > cpus:
        report.problems.append(f"resources.cpus: {spec.resources.cpus} per trial but this machine has {cpus}")
    if spec.resources.gpus > 0:
        import torch

        gpus = torch.cuda.device_count()
        if spec.resources.gpus > gpus:
            report.problems.append(
                f"resources.gpus: {spec.resources.gpus} per trial but this machine has {gpus}; "
                "set gpus: 0 or run on a GPU machine / Ray cluster (--address)"
            )
