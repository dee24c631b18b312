"""`sweeper plan`: the next sweep of a study, chosen where it settles the question, written as a normal spec.

A study is a sweep dir and the follow-up sweeps planned into it. The analysis' designer (`analysis.design`) reads
the study's results and chooses the next (lr, bs, seed) trials per unit of cost; this module supplies what only the
sweep knows: which batch sizes the spec can split, what a trial costs (the study's measured train + eval seconds,
scaled by the steps a batch size takes), and the follow-up spec itself: the study's spec with `grid.points`, its own
output dir inside the study's and `study_dir` pointing back, so `sweeper run` extends the study without
touching what it holds, and `sweeper resume` works on each part.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from contract.errors import SweeperError
from contract.spec import SweepSpec, load_sweep_spec, spec_from_dict, split_batch

if TYPE_CHECKING:
    import pandas as pd

    from analysis.design import Plan

PLAN_FILE = "next.yaml"
PART_PREFIX = "plan-"


@dataclass(frozen=True)
class StudyPlan:
    """What `plan_study` decided, and where the follow-up spec went (None when nothing is worth running)."""

    plan: Plan
    spec_path: Path | None
    output_dir: Path | None
    device_hours: float
    follow_up: SweepSpec | None = None
    """The follow-up spec written to `spec_path`: how each planned trial will run (its batch split, its lr/bs)."""


def plan_study(
    study_dir: Path,
    *,
    target_ci: float,
    max_trials: int | None = None,
    max_gpu_hours: float | None = None,
    focus: str | None = None,
) -> StudyPlan:
    """Plan the study's next sweep and write it to `<study_dir>/next.yaml` (when there is one to run)."""
    from analysis import load_results
    from analysis.design import plan_followup
    from analysis.errors import AnalysisInputError

    study_dir = Path(study_dir).resolve()
    spec = load_sweep_spec(study_dir)
    try:  # analysis has no dependency on sweeper, so its input error is mapped here
        table = load_results(study_dir)
        cost = trial_seconds(spec, table)
        devices = device_share(spec)
        plan = plan_followup(
            table,
            batch_sizes=candidate_batch_sizes(spec, table),
            seconds_per_trial=cost,
            target_ci=target_ci,
            max_trials=max_trials,
            max_seconds=None if max_gpu_hours is None else max_gpu_hours * 3600 / devices,
            focus=focus,
        )
    except AnalysisInputError as error:
        raise SweeperError(f"sweeper plan: {error}") from None
    if not plan.trials:
        return StudyPlan(plan, None, None, 0.0)
    output_dir = _next_part(study_dir)
    follow_up, text = _follow_up_spec(spec, plan, study_dir, output_dir)
    path = study_dir / PLAN_FILE
    path.write_text(f"# sweeper run {path}\n# Planned by `sweeper plan` from {study_dir}: {plan.message}\n{text}")
    return StudyPlan(plan, path, output_dir, sum(t.seconds for t in plan.trials) * devices / 3600, follow_up)


def predicted_cost(follow_up: SweepSpec) -> tuple[float, float]:
    """A study follow-up's trial-seconds and GPU-hours, from the study's measured trials (`sweeper validate`)."""
    from analysis import load_results

    study = Path(follow_up.study_dir)
    cost = trial_seconds(load_sweep_spec(study), load_results(study))
    seconds = sum(cost(params.batch_size) for params in follow_up.trials())
    return seconds, seconds * device_share(follow_up) / 3600


def device_share(spec: SweepSpec) -> float:
    """Devices one trial holds: its GPUs (fractions included) over all its workers; a CPU trial counts as one."""
    return spec.resources.gpus * spec.resources.workers or 1.0


def trial_seconds(spec: SweepSpec, table: pd.DataFrame) -> Callable[[int], float]:
    """A trial's cost at a batch size: the study's measured train + eval seconds fitted as a + b·steps over its ok
    trials, at the steps the spec's budget gives that batch size."""
    trials = table[table["status"] == "ok"].drop_duplicates("trial_id")
    if trials.empty:
        raise SweeperError("sweeper plan: the study has no ok trial to measure a trial's cost from; run it first")
    seconds = (trials["train_seconds"] + trials["eval_seconds"]).to_numpy(float)
    steps = trials["train_steps"].to_numpy(float)
    # Examples per epoch, for an epoch budget: what the trials saw, over the epochs they were given.
    examples = float(np.median(steps * trials["batch_size"].to_numpy(float)))
    epochs = spec.training.num_train_epochs
    dataset_size = int(examples / epochs) if epochs else None
    if np.unique(steps).size > 1:
        slope, intercept = np.polyfit(steps, seconds, 1)
        slope, intercept = max(slope, 0.0), max(intercept, 0.0)
    else:
        slope, intercept = float(np.mean(seconds / steps)), 0.0

    def cost(batch_size: int) -> float:
        return intercept + slope * (spec.train_steps(batch_size, dataset_size) or math.ceil(examples / batch_size))

    return cost


def candidate_batch_sizes(spec: SweepSpec, table: pd.DataFrame) -> list[int]:
    """The study's batch sizes and the geometric middle of each neighbouring pair, kept where the spec can split
    them over its micro-batch limit and workers."""
    tried = sorted({int(size) for size in table.loc[table["status"] != "baseline", "batch_size"]})
    middles = [round(math.sqrt(low * high)) for low, high in itertools.pairwise(tried)]
    return sorted({size for size in [*tried, *middles] if _splits(spec, size)})


def _splits(spec: SweepSpec, batch_size: int) -> bool:
    try:
        split_batch(batch_size, spec.training.max_per_device_batch, spec.resources.workers)
    except ValueError:
        return False
    return True


def _next_part(study_dir: Path) -> Path:
    numbers = [path.name.removeprefix(PART_PREFIX) for path in study_dir.glob(f"{PART_PREFIX}*")]
    return study_dir / f"{PART_PREFIX}{max((int(n) for n in numbers if n.isdigit()), default=0) + 1}"


def _follow_up_spec(spec: SweepSpec, plan: Plan, study_dir: Path, output_dir: Path) -> tuple[SweepSpec, str]:
    """The study's spec with the planned trials as `grid.points` (their seeds per point), validated, and as YAML."""
    seeds: dict[tuple[float, int], list[int]] = {}
    for trial in plan.trials:
        seeds.setdefault((trial.learning_rate, trial.batch_size), []).append(trial.seed)
    raw = spec.model_dump(mode="json", exclude={"output_dir", "study_dir"})
    raw["grid"] = {
        "points": [
            {"learning_rate": rate, "batch_size": size, "seeds": sorted(point_seeds)}
            for (rate, size), point_seeds in sorted(seeds.items())
        ]
    }
    raw["search"] = {**raw["search"], "algorithm": "grid"}
    raw["evaluation"]["baseline"] = False  # the study scored the untrained model already
    raw |= {"output_dir": str(output_dir), "study_dir": str(study_dir)}
    return spec_from_dict(raw, PLAN_FILE), yaml.safe_dump(raw, sort_keys=False)
