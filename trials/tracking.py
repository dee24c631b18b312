"""Weights & Biases: one run per trial (grouped by sweep), and one summary run per sweep.

W&B is a sink, the results store is the source of truth. Each trial's run has a deterministic id (sweep id +
trial id), so a retried or resumed trial continues its own run instead of adding a duplicate (wandb#3522).
The config holds the grid point with the ratio as a first-class value and the trial's condition (model, its
parameter count, adapter, LoRA rank, trainable parameters: the counts are added when the trial ends); the summary
holds the scores per task and per category and the status. Offline runs land in `<output_dir>/wandb/` for
`wandb sync` later. Only values from the spec and the trial go into a config: secrets stay in the environment.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from analysis.report import AnalysisResult
    from contract.spec import SweepSpec, TrialParams
    from contract.store import TrialResult

SWEEP_FILE = "sweep.json"


def resolve_wandb_mode(spec: SweepSpec) -> str:
    """`WANDB_MODE` in the driver's environment wins over the spec, as in every W&B tool."""
    mode = os.environ.get("WANDB_MODE", spec.wandb.mode)
    return mode if mode in {"offline", "online", "disabled"} else "offline"


def sweep_id(output_dir: Path) -> str:
    """A random id minted when the sweep dir is first used, so a new sweep never appends to an old one's runs."""
    path = Path(output_dir) / SWEEP_FILE
    if not path.exists():
        path.write_text(json.dumps({"sweep_id": uuid.uuid4().hex[:8]}))
    return json.loads(path.read_text())["sweep_id"]


def trial_config(spec: SweepSpec, params: TrialParams) -> dict[str, Any]:
    """The run's config: the grid point with the ratio as a first-class value, and what was trained on what."""
    from contract.store import spec_condition

    return {
        "sweep": spec.name,
        "trial_id": params.trial_id,
        "method": spec.method,
        **params.flat(),
        "log10_lr_bs_ratio": math.log10(params.lr_bs_ratio),
        **asdict(spec_condition(spec)),
        "data": spec.data.source,
        "tasks": {
            t.task: {"category": t.category, "metric": t.metric, "higher_is_better": t.higher_is_better}
            for t in spec.evaluation.tasks
        },
    }


def start_trial_run(spec: SweepSpec, params: TrialParams) -> Any | None:
    """Open this trial's run (None when W&B is disabled); TRL's W&B callback then logs into it."""
    if spec.wandb.mode == "disabled":
        return None
    import wandb

    output_dir = spec.resolved_output_dir()
    return wandb.init(
        project=spec.wandb.project,
        entity=spec.wandb.entity,
        group=spec.name,
        job_type=spec.method,
        name=params.trial_id,
        id=f"{spec.name}-{sweep_id(output_dir)}-{params.trial_id}".replace(".", "_"),
        resume="allow",
        dir=str(output_dir),
        mode=spec.wandb.mode,
        config=trial_config(spec, params),
        reinit="finish_previous",
    )


def finish_trial_run(run: Any | None, result: TrialResult) -> None:
    """The condition's parameter counts into the config; scores per task and per category, status and timings as
    the run's summary; then close it."""
    if run is None:
        return
    run.config.update(asdict(result.condition), allow_val_change=True)
    summary: dict[str, Any] = {
        "status": result.status.value,
        "train_loss": result.train_loss,
        "train_steps": result.train_steps,
        "train_seconds": result.train_seconds,
        "eval_seconds": result.eval_seconds,
        "train_tokens_per_second": result.train_tokens_per_second,
        "error": result.error,
    }
    for score in result.scores:
        summary[f"{score.task}/score"] = score.score
        summary[f"{score.task}/stderr"] = score.stderr
    for key, value in result.summary_scores().items():
        name = key.removeprefix("score/")
        summary["score/mean" if name == "mean" else f"category/{name}/score"] = value
    run.summary.update(summary)
    run.finish()


def log_sweep_summary(
    spec: SweepSpec, table: pd.DataFrame, plots_dir: Path, analysis: AnalysisResult | None = None
) -> None:
    """One summary run per sweep: the tidy results as a `wandb.Table` and the analysis figures as images; with
    `analysis` (what `analysis.analyze` returned) also its Answer as text, the optima and regret tables, and a
    native scatter of score against log10(lr/bs) per category, so the result shows without opening a file."""
    if spec.wandb.mode == "disabled":
        return
    import wandb

    output_dir = spec.resolved_output_dir()
    run = wandb.init(
        project=spec.wandb.project,
        entity=spec.wandb.entity,
        group=spec.name,
        job_type="summary",
        name=f"{spec.name}-summary",
        id=f"{spec.name}-{sweep_id(output_dir)}-summary".replace(".", "_"),
        resume="allow",
        dir=str(output_dir),
        mode=spec.wandb.mode,
        config={"sweep": spec.name, "spec": spec.model_dump(mode="json")},
        reinit="finish_previous",
    )
    run.log({"results": wandb.Table(dataframe=table.astype({"error": str}))})
    images = {f"plots/{path.stem}": wandb.Image(str(path)) for path in sorted(Path(plots_dir).glob("*.png"))}
    if images:
        run.log(images)
    if analysis is not None:
        run.summary["answer"] = analysis.answer
        run.log({"answer": wandb.Html(f"<h3>Answer</h3><pre>{analysis.answer}</pre>")})
        run.log({"optima": wandb.Table(dataframe=analysis.optima), "regret": wandb.Table(dataframe=analysis.regret)})
        run.log(_category_scatters(analysis.results))
    run.finish()


def _category_scatters(results: pd.DataFrame) -> dict[str, Any]:
    """Per category, a native W&B scatter of each ok trial's mean score over the category's tasks."""
    import wandb

    ok = results[(results["status"] == "ok") & results["score"].notna()]
    per_trial = ok.groupby(["category", "trial_id"], as_index=False).agg(
        lr_bs_ratio=("lr_bs_ratio", "first"), score=("score", "mean")
    )
    per_trial["log10_lr_bs_ratio"] = per_trial["lr_bs_ratio"].map(math.log10)
    charts = {}
    for category, rows in per_trial.groupby("category"):
        points = wandb.Table(dataframe=rows[["trial_id", "log10_lr_bs_ratio", "score"]])
        title = f"{category}: mean score vs log10(lr/bs)"
        charts[f"scatter/{category}"] = wandb.plot.scatter(points, "log10_lr_bs_ratio", "score", title=title)
    return charts
