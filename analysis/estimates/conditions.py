"""A study's conditions: the sweeps it holds that differ in what was trained (model, adapter, method), found from
the results themselves, so `sweeper analyze runs/full runs/lora` needs no flag to say what it compares.

A condition is one value of the columns in CONDITION_COLUMNS that vary over the table (a column every row shares
says nothing about the comparison). Sources that differ in none of them (tables written before the columns existed,
a user's CSVs) are told apart by their `sweep` name instead; a single condition is the ordinary one-sweep analysis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.schema import CONDITION_COLUMNS


@dataclass(frozen=True)
class Condition:
    """One condition of a study: its label, the values that define it, and its rows of the results table."""

    label: str
    """Short and readable: the varying columns' values, e.g. `lora r16` or `135M`."""
    values: dict[str, object]
    table: pd.DataFrame

    @property
    def folder(self) -> str:
        """The label as a folder name for the condition's own analysis."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.label).strip("_") or "condition"

    @property
    def parameters(self) -> float:
        """The base model's parameter count (NaN where the sweep did not record it)."""
        counts = self.table["model_parameters"]
        return float(counts.max()) if (counts > 0).any() else np.nan


def split_conditions(frame: pd.DataFrame) -> list[Condition]:
    """The conditions of `frame` (a validated results table), ordered by parameter count, then adapter (`full`
    first), rank and method; one condition when nothing varies."""
    varying = [column for column in CONDITION_COLUMNS if frame[column].nunique(dropna=False) > 1]
    if not varying:
        varying = ["sweep"] if frame["sweep"].nunique() > 1 else []
    if not varying:
        return [Condition("all", {}, frame)]
    if "model" in varying and "model_parameters" in varying:
        varying.remove("model")  # the size says it, shorter
    conditions = []
    for keys, rows in frame.groupby(varying, sort=False, dropna=False):  # a list of columns: keys are tuples
        values = dict(zip(varying, keys, strict=True))
        conditions.append(Condition(_label(values), values, rows.reset_index(drop=True)))
    return sorted(conditions, key=_order)


def _order(condition: Condition) -> tuple:
    values = condition.values
    return (
        values.get("model_parameters", 0),
        values.get("adapter", "") != "full",
        values.get("lora_rank", 0),
        str(values.get("method", "")),
        condition.label,
    )


def _label(values: dict[str, object]) -> str:
    parts = []
    for column, value in values.items():
        if column == "model_parameters":
            parts.append(parameter_count(float(value)) if value else "size not recorded")
        elif column == "lora_rank":
            parts.append(f"r{value}" if value else "")
        elif column == "model":
            parts.append(str(value).rstrip("/").rsplit("/", 1)[-1] or "model not recorded")
        else:
            parts.append(str(value))
    return " ".join(part for part in parts if part) or "full"


def parameter_count(count: float) -> str:
    """1.35e8 -> "135M", 1.7e9 -> "1.7B"."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= scale:
            return f"{count / scale:.3g}{suffix}"
    return f"{count:.0f}"
