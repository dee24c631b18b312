"""Finished trials as read-only records, and the tidy results table they are written to.

A `TrialResult` is what one trial produced: which trial it was (its `TrialParams`), how it ended, its timings and
per-task scores. It travels from the trial to Ray Tune as a flat metrics dict (`to_metrics` / `from_metrics`), and
lands in the sweep's `results.parquet` + `results.csv` as one row per trial × task × metric (ARCHITECTURE.md has the
schema). Both flatten the params into the keys and columns sweeps have always written, so an older sweep resumes
and loads.
The table is rewritten atomically (temp file + rename) after every finished trial, so a crash never loses a
finished trial's scores and a reader never sees half a file.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.directions import metric_directions
from analysis.files import write_atomically
from analysis.schema import COLUMN_TYPES, COLUMNS, DEFAULTS, STORE_DTYPES
from contract.spec import TrialParams

if TYPE_CHECKING:
    from contract.spec import SweepSpec

RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"
SWEEP_TRIAL_ID = "sweep_trial_id"
"""Our trial id's key in Ray's metrics: Ray fills in its own `trial_id` in every result."""


class TrialStatus(str, Enum):
    """How a trial ended. `diverged` is data (a point past the stability frontier), not an error."""

    OK = "ok"
    DIVERGED = "diverged"
    FAILED = "failed"
    BASELINE = "baseline"


@dataclass(frozen=True)
class TaskScore:
    """One task's score as lm-eval reported it; NaN when the trial produced none."""

    task: str
    category: str
    metric: str
    score: float = math.nan
    stderr: float = math.nan
    higher_is_better: bool | None = None
    """The metric's direction (False for perplexity-like metrics): the spec's, else what lm-eval reported; None where
    neither stated it, and then the analysis takes lm-eval's registry's or refuses (analysis/directions.py), so no
    direction is ever guessed."""


@dataclass(frozen=True)
class TrialCondition:
    """What was trained, besides the grid point: the columns that tell one sweep's condition from another's (LoRA
    against full fine-tuning, one model size against another), so one analysis can compare them."""

    model: str = ""
    """The base model as the spec names it: a hub id or path, `tiny`, or `from_sweep:<dir>`."""
    model_parameters: int = 0
    """The base model's parameter count (0: not recorded, e.g. a trial that failed before its model loaded)."""
    adapter: str = "full"
    """`full` (every weight trains) or `lora`."""
    lora_rank: int = 0
    """The adapter's rank (0 for full fine-tuning)."""
    trainable_parameters: int = 0
    """Parameters the optimizer updates (0: not recorded)."""


def spec_condition(spec: SweepSpec) -> TrialCondition:
    """The condition a spec names before any model is loaded (the parameter counts come with the model)."""
    model = spec.model
    name = model.name_or_path or ("tiny" if model.tiny is not None else f"from_sweep:{model.from_sweep.path}")
    lora = spec.training.lora
    return TrialCondition(model=name, adapter="lora" if lora else "full", lora_rank=lora.rank if lora else 0)


@dataclass(frozen=True)
class TrialResult:
    """Everything one trial produced; the results table and the Ray/W&B metrics are views of it."""

    sweep: str
    trial_id: str
    """The trial's key in the results store: `params.trial_id` when the trial ran, kept as recorded when read back."""
    method: str
    params: TrialParams
    """The grid point and its batch split (`BASELINE_PARAMS` for the untrained baseline)."""
    status: TrialStatus
    condition: TrialCondition = TrialCondition()
    scores: tuple[TaskScore, ...] = ()
    train_loss: float = math.nan
    train_steps: int = 0
    train_tokens: int = 0
    """Non-padding tokens the optimizer consumed over the whole run (a resumed run included)."""
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    train_tokens_per_second: float = math.nan
    started_at: float = math.nan
    finished_at: float = math.nan
    error: str = ""
    loss_history: tuple[float, ...] = field(default=(), repr=False)

    def _flat(self) -> dict[str, Any]:
        """The trial's scalars by column name: sweep, trial id, method, the params flattened (lr/bs included),
        status and how the run went."""
        return {
            "sweep": self.sweep,
            "trial_id": self.trial_id,
            "method": self.method,
            **dataclasses.asdict(self.condition),
            **self.params.flat(),
            "status": self.status.value,
            **{name: getattr(self, name) for name in _RUN_FIELDS},
        }

    def to_metrics(self) -> dict[str, Any]:
        """Flat metrics for `tune.report`: the scalars (in the order sweeps have always reported them), the loss
        history, `tasks/<task>/<field>` per task, and the summary scores."""
        flat = self._flat()
        flat[SWEEP_TRIAL_ID] = flat.pop("trial_id")
        metrics = {key: flat[key] for key in _METRIC_KEYS}
        metrics["loss_history"] = list(self.loss_history)
        for score in self.scores:
            for name in ("score", "stderr", "metric", "category", "higher_is_better"):
                metrics[f"tasks/{score.task}/{name}"] = getattr(score, name)
        metrics.update(self.summary_scores())
        return metrics

    def summary_scores(self) -> dict[str, float]:
        """`score/mean` and `score/<category>`: plain means of task scores, what a search can optimise."""
        by_category: dict[str, list[float]] = {}
        for score in self.scores:
            by_category.setdefault(score.category, []).append(score.score)
        summary = {f"score/{category}": sum(values) / len(values) for category, values in by_category.items()}
        values = [score.score for score in self.scores]
        summary["score/mean"] = sum(values) / len(values) if values else math.nan
        return summary

    @classmethod
    def from_metrics(cls, metrics: dict[str, Any]) -> TrialResult:
        """Inverse of `to_metrics`; accepts Ray's flattened (`tasks/x/score`) or nested (`tasks: {x: ...}`) form."""
        tasks: dict[str, dict[str, Any]] = {}
        for key, value in metrics.items():
            if key.startswith("tasks/"):
                _, task, name = key.split("/", 2)
                tasks.setdefault(task, {})[name] = value
        for task, fields in (metrics.get("tasks") or {}).items():
            tasks.setdefault(task, {}).update(fields)
        scores = tuple(TaskScore(task=task, **fields) for task, fields in tasks.items())
        flat = {**metrics, "trial_id": metrics[SWEEP_TRIAL_ID]}
        return cls._of_flat(flat, scores, tuple(metrics.get("loss_history") or ()))

    @classmethod
    def from_rows(cls, rows: pd.DataFrame) -> TrialResult:
        """Inverse of `rows` (the loss history is not kept in the table)."""
        first = rows.iloc[0]
        flat = {name: _plain(first[name], COLUMN_TYPES[name]) for name in _FLAT_FIELDS if name in rows.columns}
        flat["error"] = "" if pd.isna(first["error"]) else str(first["error"])
        scores = tuple(
            TaskScore(
                r.task,
                r.category,
                r.metric,
                float(r.score),
                float(r.stderr),
                None if pd.isna(r.higher_is_better) else bool(r.higher_is_better),
            )
            for r in rows.itertuples()
        )
        return cls._of_flat(flat, scores)

    @classmethod
    def _of_flat(
        cls, flat: dict[str, Any], scores: tuple[TaskScore, ...], loss_history: tuple[float, ...] = ()
    ) -> TrialResult:
        """A record from its flat scalars (a metrics dict or a table row); a field that an older sweep did not
        record yet (`world_size`, `train_tokens`, ...) takes its default."""
        params = TrialParams(**{name: flat[name] for name in _PARAM_FIELDS if name in flat})
        condition = TrialCondition(**{name: flat[name] for name in _CONDITION_FIELDS if name in flat})
        run = {name: flat[name] for name in _RUN_FIELDS if name in flat}
        return cls(
            sweep=flat["sweep"],
            trial_id=flat["trial_id"],
            method=flat["method"],
            params=params,
            condition=condition,
            status=TrialStatus(flat["status"]),
            scores=scores,
            loss_history=loss_history,
            **run,
        )

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows, one per task, with the table's columns in order (a failed trial still gets one row per task,
        with NaN scores)."""
        flat = self._flat()
        merged = [{**flat, **dataclasses.asdict(score)} for score in self.scores]
        return [{column: row[column] for column in COLUMNS} for row in merged]


_PARAM_FIELDS = tuple(f.name for f in dataclasses.fields(TrialParams))
_CONDITION_FIELDS = tuple(f.name for f in dataclasses.fields(TrialCondition))
_RUN_FIELDS = ("train_loss", "train_steps", "train_tokens", "train_seconds", "eval_seconds",
               "train_tokens_per_second", "started_at", "finished_at", "error")  # fmt: skip
"""How the trial's run went: one column of the table and one key of the metrics each."""
_FLAT_FIELDS = ("sweep", "trial_id", "method", *_CONDITION_FIELDS, *_PARAM_FIELDS, "status", *_RUN_FIELDS)
_METRIC_KEYS = ("sweep", "method", "learning_rate", "batch_size", "per_device_batch_size",
                "gradient_accumulation_steps", "seed", "status", "world_size", *_RUN_FIELDS, "lr_bs_ratio",
                SWEEP_TRIAL_ID, *_CONDITION_FIELDS)  # fmt: skip
"""The scalars of `to_metrics`, in the order Ray keeps them in (result.json, progress.csv) for every sweep, an older
one resumed included (tests/contract/test_store.py pins it): keys added later go at the end."""
STORE_DEFAULTS = {**dict.fromkeys(COLUMNS, pd.NA), "train_tokens": 0, **DEFAULTS}


def trial_identity(spec: SweepSpec, params: TrialParams) -> dict[str, Any]:
    """Which sweep, method and trial a record is: the head of every `TrialResult` a trial or the driver makes."""
    return {
        "sweep": spec.name, "trial_id": params.trial_id, "method": spec.method, "params": params,
        "condition": spec_condition(spec),
    }  # fmt: skip


def unscored(spec: SweepSpec) -> tuple[TaskScore, ...]:
    """The scores of a trial that produced none (diverged, failed): NaN for every task, with the spec's direction
    (None where the spec could not resolve it before the sweep: a task defined in Python)."""
    return tuple(
        TaskScore(t.task, t.category, t.metric, higher_is_better=t.higher_is_better) for t in spec.evaluation.tasks
    )


class ResultsStore:
    """The tidy results table of one sweep directory; `add` is idempotent per trial_id."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def parquet_path(self) -> Path:
        return self.directory / RESULTS_PARQUET

    def load(self) -> pd.DataFrame:
        if not self.parquet_path.exists():
            return pd.DataFrame(columns=list(COLUMNS)).astype(STORE_DTYPES)
        table = pd.read_parquet(self.parquet_path)
        # A sweep written before a column existed is resumed with that column's default; a metric's direction has
        # none, and stays empty for the analysis to resolve (analysis/directions.py).
        absent = {column: STORE_DEFAULTS[column] for column in COLUMNS if column not in table.columns}
        return table.assign(**absent)[list(COLUMNS)].astype(STORE_DTYPES) if absent else table

    def trial_ids(self) -> set[str]:
        return set(self.load()["trial_id"])

    def add(self, results: list[TrialResult]) -> pd.DataFrame:
        """Insert or replace these trials' rows and rewrite both files atomically."""
        replaced = {result.trial_id for result in results}
        current = self.load()
        fresh = pd.DataFrame([row for result in results for row in result.rows()], columns=list(COLUMNS))
        kept = current[~current["trial_id"].isin(replaced)]
        table = fresh if kept.empty else pd.concat([kept, fresh], ignore_index=True)
        table = table.sort_values(["learning_rate", "batch_size", "seed", "task"], na_position="first")
        table = table.reset_index(drop=True).astype(STORE_DTYPES)
        write_atomically(self.parquet_path, lambda path: table.to_parquet(path, index=False))
        write_atomically(self.directory / RESULTS_CSV, lambda path: table.to_csv(path, index=False))
        return table


def _plain(value: Any, kind: type) -> Any:
    """A table cell (a numpy scalar) → the Python scalar its column declares."""
    if kind is int:
        return int(value)
    return value.item() if hasattr(value, "item") else value


def best_trial(table: pd.DataFrame, best_on: str) -> str:
    """The trial id with the best mean score over a category's tasks, one task, or all tasks (`mean`); a metric
    where lower is better (`higher_is_better` False) counts with its sign flipped."""
    scored = table[table["status"] == TrialStatus.OK.value]
    if best_on != "mean":
        scored = scored[(scored["category"] == best_on) | (scored["task"] == best_on)]
    if scored.empty:
        raise ValueError(f"no ok trial has a score on '{best_on}'")
    signed = scored["score"].where(metric_directions(scored, "the results table"), -scored["score"])
    return str(signed.groupby(scored["trial_id"]).mean().idxmax())


def pivot_by_trial(table: pd.DataFrame) -> pd.DataFrame:
    """One row per trial (lr, bs, lr/bs, seed, status, loss, one column per task), for people to read."""
    index = ["trial_id", "learning_rate", "batch_size", "lr_bs_ratio", "seed", "status", "train_loss"]
    if table.empty:
        return pd.DataFrame(columns=index)
    scores = table.pivot_table(index="trial_id", columns="task", values="score", aggfunc="first", dropna=False)
    ordered = list(dict.fromkeys(table["task"]))
    trials = table.drop_duplicates("trial_id")[index].set_index("trial_id")
    wide = trials.join(scores[ordered]).reset_index()
    wide.columns.name = None
    return wide.sort_values(["learning_rate", "batch_size", "seed"], na_position="first").reset_index(drop=True)
