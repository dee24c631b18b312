"""The results format (ARCHITECTURE.md) in code: column types, statuses, and the one validation every source
goes through, so a table from a sweep dir, Ray, W&B or a user's CSV reaches the fits in the same shape.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.directions import metric_directions
from analysis.errors import AnalysisInputError

COLUMN_TYPES: dict[str, type] = {
    "sweep": str, "trial_id": str, "method": str, "model": str, "model_parameters": int, "adapter": str,
    "lora_rank": int, "trainable_parameters": int, "learning_rate": float, "batch_size": int,
    "per_device_batch_size": int, "gradient_accumulation_steps": int, "world_size": int, "lr_bs_ratio": float,
    "seed": int, "task": str, "category": str, "metric": str, "score": float, "stderr": float,
    "higher_is_better": bool, "status": str, "train_loss": float, "train_steps": int, "train_tokens": int,
    "train_seconds": float, "eval_seconds": float, "train_tokens_per_second": float, "started_at": float,
    "finished_at": float, "error": str,
}  # fmt: skip
"""Every column of the results format, in ARCHITECTURE.md's order, with its type: the one definition of the format
(the sweep's results store writes exactly these columns, ARCHITECTURE.md's table is checked against it)."""
COLUMNS = tuple(COLUMN_TYPES)
PANDAS_DTYPES = {str: "string", float: "float64", int: "int64", bool: "boolean"}
STORE_DTYPES = {column: PANDAS_DTYPES[kind] for column, kind in COLUMN_TYPES.items()}
"""The pandas dtype of each column as the results store writes it (`higher_is_better` is nullable: a trial records
no direction that neither its spec nor lm-eval stated, and the analysis resolves it by directions.py's rule)."""
CONDITION_COLUMNS = ("model", "model_parameters", "adapter", "lora_rank", "method")
"""What a sweep trained, besides its grid: the columns whose values tell one condition of a study from another
(estimates/conditions.py)."""
DEFAULTS: dict[str, object] = {
    "world_size": 1, "adapter": "full", "lora_rank": 0, "model_parameters": 0, "trainable_parameters": 0,
}  # fmt: skip
"""What a column holds when a source lacks it (tables written before the column existed, a user's CSV). A metric's
direction has no default: `higher_is_better` comes from the table or lm-eval's registry (directions.py)."""

DERIVED_COLUMNS = ("log10_ratio",)
"""Columns every loaded table gains: log10_ratio = log10(lr/bs), the axis of every fit, made once here."""

FINITE_COLUMNS = ("learning_rate", "score", "stderr")
"""Float columns the fits use, where an infinite value (a perplexity that overflowed) cannot be analysed; the int
columns must be finite too."""

REQUIRED_COLUMNS = ("learning_rate", "batch_size", "seed", "task", "category", "score", "status")
"""What the fits cannot do without; every other column is filled with NaN / "" when absent."""

STATUSES = ("ok", "diverged", "failed", "baseline")
FIT_STATUS = "ok"
BASELINE_STATUS = "baseline"

_FORMAT_HINT = "see 'The results format' in ARCHITECTURE.md: one row per trial x task x metric"


def validate_results(frame: pd.DataFrame, source: str = "results") -> pd.DataFrame:
    """Check `frame` against the results format and return a typed copy with every column present.

    Raises `AnalysisInputError` naming the missing columns, or the rows whose numbers are not numbers, whose
    status is unknown, or whose learning rate / batch size is not positive. A task reported under several
    metrics is split into one series per metric (`task/metric`), so every analysed curve is one number per trial;
    each task's direction is then resolved (directions.py).
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise AnalysisInputError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))} "
            f"(found: {', '.join(map(str, frame.columns))}); add them ({_FORMAT_HINT})."
        )
    if frame.empty:
        raise AnalysisInputError(f"{source}: the table has no rows; analyse a sweep that has finished trials.")
    table = frame.copy()
    for column, kind in COLUMN_TYPES.items():
        if kind is str:
            default = str(DEFAULTS.get(column, ""))
            table[column] = table[column].fillna(default).astype(str) if column in table else default
        elif kind is not bool:  # the one bool column, higher_is_better, is resolved per task below
            numbers = _numeric(table, column, source) if column in table else pd.Series(np.nan, table.index)
            if column in DEFAULTS:
                numbers = numbers.fillna(DEFAULTS[column])
            table[column] = numbers.round().astype("Int64") if kind is int else numbers
    _check_statuses(table, source)
    _check_positive(table, source)
    table = with_ratio_columns(table)
    _split_multi_metric_tasks(table)
    table["higher_is_better"] = metric_directions(table, source)
    extras = [column for column in table.columns if column not in COLUMNS]
    return table[[*COLUMNS, *extras]].reset_index(drop=True)


def with_ratio_columns(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with `lr_bs_ratio` and `log10_ratio` computed from its learning rates and batch sizes (NaN for the
    baseline, which has neither): the one place the analysis derives the ratio."""
    ratio = table["learning_rate"] / table["batch_size"].astype(float)
    return table.assign(lr_bs_ratio=ratio, log10_ratio=np.log10(ratio))


def _numeric(table: pd.DataFrame, column: str, source: str) -> pd.Series:
    """The column as float; raises when a non-empty cell is not a number (a string like 'N/A', a list ...), or is
    infinite in one of the FINITE_COLUMNS or an int column."""
    values = table[column]
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    bad = numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if column in FINITE_COLUMNS or COLUMN_TYPES[column] is int:
        bad |= np.isinf(numbers)
    if bad.any():
        rows = bad[bad].index[:5].tolist()
        examples = ", ".join(f"row {row} ({_describe(table, row)}): {values[row]!r}" for row in rows)
        more = f" and {bad.sum() - len(rows)} more" if bad.sum() > len(rows) else ""
        problem = "infinite" if np.isinf(numbers[bad]).all() else "non-numeric"
        raise AnalysisInputError(
            f"{source}: column {column!r} has {problem} values in {examples}{more}; write finite "
            "numbers, and leave the cell empty (NaN) when there is none (a run whose score overflowed diverged: give "
            "it status 'diverged')."
        )
    return numbers


def _describe(table: pd.DataFrame, row: object) -> str:
    """'trial 'x', task 'y'' for an error message, from whichever of the two columns the table has."""
    return ", ".join(f"{column} {table.at[row, column]!r}" for column in ("trial_id", "task") if column in table)


def _check_statuses(table: pd.DataFrame, source: str) -> None:
    unknown = sorted(set(table["status"]) - set(STATUSES))
    if unknown:
        raise AnalysisInputError(
            f"{source}: column 'status' has unknown value(s) {', '.join(map(repr, unknown))}; "
            f"each row's status must be one of {', '.join(STATUSES)}."
        )


def _check_positive(table: pd.DataFrame, source: str) -> None:
    trained = table["status"] != BASELINE_STATUS
    for column in ("learning_rate", "batch_size"):
        bad = trained & ~(table[column].astype(float) > 0)
        if bad.any():
            rows = bad[bad].index[:5].tolist()
            raise AnalysisInputError(
                f"{source}: column {column!r} must be > 0 for trained rows, got "
                f"{', '.join(f'row {row}: {table.at[row, column]}' for row in rows)}; "
                f"fix those rows or mark the untrained model's rows status 'baseline'."
            )


def _split_multi_metric_tasks(table: pd.DataFrame) -> None:
    metrics_per_task = table[table["metric"] != ""].groupby("task")["metric"].nunique()
    several = (table["task"].map(metrics_per_task).fillna(0) > 1) & (table["metric"] != "")
    table.loc[several, "task"] = table.loc[several, "task"] + "/" + table.loc[several, "metric"]
