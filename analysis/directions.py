"""Each metric's direction (`higher_is_better`): read from the table, else from lm-eval's registry, never guessed.

A perplexity minimised as if it were an accuracy puts every optimum at the wrong end, so a row's direction is the
one its table states (True/False, 1/0 or their spellings); a row that states none (a trial that errored before it
reported, a table written before the column existed) takes the one its task's other rows state, and a task that
states none takes its metric's direction in lm-eval's registry, mirrored in `METRIC_DIRECTIONS` (the analysis does
not import lm-eval; a test checks the two agree). Anything else is refused with the fix: a metric lm-eval does not
know, or rows of one task and metric that disagree.
"""

from __future__ import annotations

import pandas as pd

from analysis.errors import AnalysisInputError

METRIC_DIRECTIONS: dict[str, bool] = {
    "acc": True, "acc_norm": True, "acc_mutual_info": True, "acc_bytes": True, "acc_all": True, "exact_match": True,
    "f1": True, "mcc": True, "bleu": True, "chrf": True, "chrf++": True, "likelihood": True, "bypass": True,
    "perplexity": False, "word_perplexity": False, "byte_perplexity": False, "bits_per_byte": False,
    "brier_score": False, "ter": False,
}  # fmt: skip
"""lm-eval 0.4's `higher_is_better` registry (`lm_eval.api.registry.higher_is_better_registry`): True where a higher
score is better."""

_SPELLINGS = {"true": True, "1": True, "1.0": True, "yes": True, "false": False, "0": False, "0.0": False, "no": False}
_FIX = "True where a higher score is better (accuracy), False where a lower one is (perplexity, loss)"


def metric_directions(table: pd.DataFrame, source: str) -> pd.Series:
    """Each row's `higher_is_better` (bool, on `table`'s index) by the rule above, from `table`'s `task`, `metric`
    and (when present) `higher_is_better` columns. Raises `AnalysisInputError` naming the tasks at fault and the
    fix."""
    if "higher_is_better" in table:
        stated = table["higher_is_better"].map(lambda value: _as_bool(value, source), na_action="ignore")
    else:
        stated = pd.Series(None, table.index, dtype=object)
    by_task = stated.groupby([table["task"], table["metric"]], dropna=False)
    disagreeing = by_task.nunique()
    disagreeing = disagreeing[disagreeing > 1]
    if len(disagreeing):
        raise AnalysisInputError(
            f"{source}: column 'higher_is_better' is both True and False among the rows of "
            f"{_tasks(disagreeing.index)}; a metric has one direction: give every row of a task the same value."
        )
    directions = stated.fillna(by_task.transform("first")).fillna(table["metric"].map(METRIC_DIRECTIONS))
    unknown = directions.isna()
    if unknown.any():
        missing = pd.MultiIndex.from_frame(table.loc[unknown, ["task", "metric"]].drop_duplicates())
        metrics = "that metric" if missing.get_level_values("metric").nunique() == 1 else "those metrics"
        raise AnalysisInputError(
            f"{source}: column 'higher_is_better' is missing or empty for {_tasks(missing)}, and lm-eval's registry "
            f"does not know the direction of {metrics}; add the column for those rows: {_FIX}."
        )
    return directions.astype(bool)


def _as_bool(value: object, source: str) -> bool:
    """A flag as a CSV, Ray or W&B gives it back: True/False, 1/0, or their spellings."""
    spelled = str(value).strip().lower()
    if spelled not in _SPELLINGS:
        raise AnalysisInputError(
            f"{source}: column 'higher_is_better' holds {value!r}; write {_FIX}, or leave it empty for a metric "
            "lm-eval knows."
        )
    return _SPELLINGS[spelled]


def _tasks(pairs: pd.MultiIndex) -> str:
    """'task 'arc' (metric 'acc')', ... for at most five (task, metric) pairs."""
    named = [f"task {task!r} (metric {metric!r})" for task, metric in pairs[:5]]
    more = f" and {len(pairs) - 5} more" if len(pairs) > 5 else ""
    return ", ".join(named) + more
