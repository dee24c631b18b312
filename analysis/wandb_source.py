"""Results from Weights & Biases: `wandb://entity/project[/group]` -> the tidy results frame.

Each trial is one W&B run (as trials/tracking.py writes it). Its `config` holds the grid point (learning_rate,
batch_size, seed, ...) and `tasks` = {task: {category, metric, higher_is_better}}; its `summary` holds status,
timings, and `<task>/score`, `<task>/stderr`. The sweep's summary run (job_type `summary`: the results table,
figures and the analysis' answer) is no trial and is skipped.
The conversion (`runs_to_frame`) is a pure function of the runs so it is tested on recorded responses;
only `load_wandb` talks to the W&B API, and imports wandb when called.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.schema import validate_results

WANDB_SCHEME = "wandb://"
CONFIG_FIELDS = (
    "sweep", "trial_id", "method", "learning_rate", "batch_size", "per_device_batch_size",
    "gradient_accumulation_steps", "lr_bs_ratio", "seed",
)  # fmt: skip
SUMMARY_JOB_TYPE = "summary"
"""trials/tracking.py's job_type for the one run per sweep that holds its tables and figures, not a trial."""
SUMMARY_FIELDS = (
    "status", "train_loss", "train_seconds", "eval_seconds", "train_tokens_per_second", "train_steps", "error",
)  # fmt: skip


class WandbRun(Protocol):
    """The part of `wandb.apis.public.Run` the conversion reads."""

    name: str
    job_type: str
    config: dict[str, Any]
    summary: Any  # a mapping with .get (wandb's HTTPSummary, or a dict)


def load_wandb(uri: str) -> pd.DataFrame:
    """The runs of `wandb://entity/project[/group]` (all of the project's runs when no group is given)."""
    parts = uri.removeprefix(WANDB_SCHEME).strip("/").split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise AnalysisInputError(f"{uri}: expected {WANDB_SCHEME}entity/project or {WANDB_SCHEME}entity/project/group.")
    import wandb

    filters = {"group": parts[2]} if len(parts) == 3 else None
    runs = list(wandb.Api().runs(f"{parts[0]}/{parts[1]}", filters=filters))
    if not runs:
        raise AnalysisInputError(f"{uri}: W&B returned no runs; check the entity, project and group names.")
    return runs_to_frame(runs, source=uri)


def runs_to_frame(runs: Iterable[WandbRun], source: str = "W&B runs") -> pd.DataFrame:
    """One row per trial run × task of its `config['tasks']`, validated against the results format."""
    rows = []
    for run in runs:
        if run.job_type == SUMMARY_JOB_TYPE:
            continue
        tasks = run.config.get("tasks")
        if not tasks:
            raise AnalysisInputError(
                f"{source}: run {run.name!r} has no 'tasks' in its config; log the trial's tasks as "
                f"config['tasks'] = {{task: {{'category': ..., 'metric': ..., 'higher_is_better': ...}}}}."
            )
        common = {field: run.config.get(field) for field in CONFIG_FIELDS}
        common |= {field: run.summary.get(field) for field in SUMMARY_FIELDS}
        common["status"] = common["status"] or "failed"  # a run that died before its summary was written
        for task, info in tasks.items():
            rows.append(
                {
                    **common,
                    "task": task,
                    "category": info.get("category"),
                    "metric": info.get("metric"),
                    "higher_is_better": info.get("higher_is_better"),
                    "score": run.summary.get(f"{task}/score", math.nan),
                    "stderr": run.summary.get(f"{task}/stderr", math.nan),
                }
            )
    return validate_results(pd.DataFrame(rows), source)
