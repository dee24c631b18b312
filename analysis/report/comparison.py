"""A study across conditions: its tables, figures and report.md, the comparison first (how far each category's
optimum moves from one condition to another, and with model size), then each condition's own Answer, whose full
analysis lies in the condition's sub-folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.estimates.conditions import Condition, parameter_count
from analysis.estimates.shifts import (
    MIN_SIZES,
    ConditionFit,
    condition_optima,
    condition_shifts,
    is_size_study,
    size_law_tables,
    size_laws,
)
from analysis.figures.write import write_comparison_plots
from analysis.files import write_atomically, write_text_atomically
from analysis.report.findings import ratio, sci
from analysis.schema import BASELINE_STATUS


@dataclass(frozen=True)
class Compared:
    """What the comparison wrote: its tables (by CSV name), the study's Answer, warnings and files."""

    tables: dict[str, pd.DataFrame]
    answer: str
    warnings: list[str]
    files: list[Path]


def compare_conditions(
    fitted: list[ConditionFit],
    conditions: list[Condition],
    output: Path,
    predict_sizes: Sequence[float],
    answers: dict[str, str],
    warnings: dict[str, list[str]],
) -> Compared:
    """Write condition_optima.csv, condition_shifts.csv, size_law.csv, size_predictions.csv, their figures and
    report.md into `output`; `answers` and `warnings` are each condition's own, by label."""
    optima = condition_optima(fitted)
    laws = size_laws(fitted)
    law_table, predictions = size_law_tables(laws, list(predict_sizes))
    tables = {
        "condition_optima": optima,
        "condition_shifts": condition_shifts(fitted),
        "size_law": law_table,
        "size_predictions": predictions,
    }
    files = [
        write_atomically(output / f"{name}.csv", lambda path, table=table: table.to_csv(path, index=False))
        for name, table in tables.items()
    ]
    files += write_comparison_plots(optima, laws, output / "plots")
    found = _comparison_warnings(fitted, tables, predict_sizes)
    found += [f"[{label}] {warning}" for label, own in warnings.items() for warning in own]
    answer = _answer(conditions, tables, laws, answers)
    files.append(write_text_atomically(output / "report.md", _report(conditions, tables, answer, found, files, output)))
    return Compared(tables, answer, found, files)


def _categories(condition: ConditionFit) -> list[str]:
    return [fit.name for fit in condition.fits if fit.level == "category"]


def _trials(condition: Condition) -> int:
    trained = condition.table[condition.table["status"] != BASELINE_STATUS]
    return trained["trial_id"].nunique()


def _answer(conditions: list[Condition], tables: dict[str, pd.DataFrame], laws: list, answers: dict[str, str]) -> str:
    """The comparison's sentences, then each condition's own Answer under its label."""
    listed = ", ".join(f"{one.label} ({_trials(one)} trials)" for one in conditions)
    lines = [f"- **Conditions compared**: {listed}."]
    lines += [f"- {shift_sentence(row)}" for _, row in tables["condition_shifts"].iterrows()]
    for law in laws:
        row = law.row()
        lines.append(
            f"- **{law.category}** across {row['n_sizes']} model sizes: log10 of the optimal lr/bs changes by "
            f"{row['slope']:.2f} [95% CI {row['slope_ci_low']:.2f}, {row['slope_ci_high']:.2f}] per decade of "
            "parameters."
        )
    for _, row in tables["size_predictions"].iterrows():
        lines.append(f"- {prediction_sentence(row)}")
    for one in conditions:
        own = answers[one.label].replace("\n", "\n  ")
        lines.append(f"- **{one.label}**:\n  {own}")
    return "\n".join(lines)


def shift_sentence(row: pd.Series) -> str:
    """One category's shift between two conditions, with its CI and the regret of not re-tuning."""
    a, b, name = row["condition_a"], row["condition_b"], row["category"]
    if np.isnan(row["ci_low"]):
        return f"**{name}**: {b} − {a} = {row['shift_log10_ratio']:.2f} decades (no CI: an optimum has none)."
    factor = f"{10 ** row['shift_log10_ratio']:.2g}x"
    bounds = f"[95% CI {row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    if row["ci_low_open"] or row["ci_high_open"]:
        bounds += " (bounded by a grid: an optimum's CI is open)"
    verdict = "the conditions differ" if row["differ"] else "the data cannot tell the two optima apart"
    regret = ""
    if np.isfinite(row["regret_b_at_a"]):
        regret = (
            f" Training {b} at {a}'s optimum costs {row['regret_b_at_a']:.3g} [95% CI {row['regret_ci_low']:.3g}, "
            f"{row['regret_ci_high']:.3g}] {row['regret_metric']}."
        )
    return (
        f"**{name}**: {b}'s optimal lr/bs is {factor} {a}'s: {b} − {a} = {row['shift_log10_ratio']:.2f} decades "
        f"{bounds}; {verdict}.{regret}"
    )


def prediction_sentence(row: pd.Series) -> str:
    where = (
        "an extrapolation beyond the sizes measured: its CI holds only if the line does"
        if row["extrapolation"]
        else "within the sizes measured"
    )
    return (
        f"**{row['category']}** at {parameter_count(row['model_parameters'])} parameters: optimal lr/bs "
        f"{ratio(row['best_log10_ratio'])} [95% CI {ratio(row['ci_low'])}, {ratio(row['ci_high'])}] ({where})."
    )


def _comparison_warnings(
    fitted: list[ConditionFit], tables: dict[str, pd.DataFrame], predict_sizes: Sequence[float]
) -> list[str]:
    warnings = []
    everywhere = set.intersection(*(set(_categories(one)) for one in fitted))
    for one in fitted:
        missing = sorted(set(_categories(one)) - everywhere)
        if missing:
            warnings.append(f"{', '.join(missing)}: not in every condition; compared only where present.")
    if is_size_study(fitted) and len(fitted) < MIN_SIZES:
        warnings.append(
            f"{len(fitted)} model sizes: the shift between them only; a line in parameters needs {MIN_SIZES} or more."
        )
    for _, row in tables["size_law"].iterrows():
        if row["left_out"]:
            warnings.append(
                f"{row['category']}: the size law leaves out {row['left_out']} (an open or missing optimum)."
            )
    if predict_sizes and tables["size_law"].empty:
        warnings.append(
            f"--predict-size {', '.join(sci(size) for size in predict_sizes)}: no size law was fitted (it needs "
            f"{MIN_SIZES} or more model sizes, each with the parameter count recorded and a closed optimum)."
        )
    return warnings


def _report(
    conditions: list[Condition],
    tables: dict[str, pd.DataFrame],
    answer: str,
    warnings: list[str],
    files: list[Path],
    output: Path,
) -> str:
    lines = ["# Study across conditions", "", "## Answer", "", answer, ""]
    lines += ["## Optima per condition (log10 lr/bs, 95% CI)", "", _markdown(tables["condition_optima"]), ""]
    lines += ["## Shifts between conditions", "", _markdown(tables["condition_shifts"]), ""]
    if not tables["size_law"].empty:
        lines += ["## Optimum against model size", "", _markdown(tables["size_law"]), ""]
        if not tables["size_predictions"].empty:
            lines += [_markdown(tables["size_predictions"]), ""]
    lines += ["## Each condition's own analysis", ""]
    lines += [f"- [{one.label}]({one.folder}/report.md)" for one in conditions]
    lines += ["", "## Warnings", ""] + ([f"- {warning}" for warning in warnings] or ["- none"])
    figures = [path.relative_to(output) for path in files if path.suffix == ".png"]
    lines += ["", "## Figures", ""] + [f"![{path.stem}]({path})" for path in figures]
    return "\n".join(lines) + "\n"


def _markdown(table: pd.DataFrame) -> str:
    if table.empty:
        return "(none)"
    shown = table.copy()
    for column in shown.select_dtypes("float").columns:
        shown[column] = shown[column].map(lambda value: f"{value:.3g}")
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *body])
