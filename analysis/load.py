"""Read a sweep's results from wherever they live into one validated tidy frame, and average seeds.

Sources: a sweep output dir (`results.parquet`, else `results.csv`; with the follow-up sweeps a study keeps in its
sub-folders, as one table), a results .parquet/.csv file, a Ray Tune
experiment folder, a `wandb://entity/project[/group]` URI, or a DataFrame already in memory. Every source ends in
`schema.validate_results`, so the fits see one shape whatever the source. Ray and wandb are imported only by the
loader that needs them, so the analysis runs on a laptop without the training stack.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.schema import COLUMNS, CONDITION_COLUMNS, FIT_STATUS, validate_results
from analysis.wandb_source import WANDB_SCHEME, load_wandb

RESULTS_FILES = ("results.parquet", "results.csv")
GRID_KEYS = ["task", "category", "metric", "learning_rate", "batch_size"]

Source = str | os.PathLike[str] | pd.DataFrame


def load_results(source: Source) -> pd.DataFrame:
    """The results of one sweep as a tidy frame with every column of the results format, validated."""
    if isinstance(source, pd.DataFrame):
        return validate_results(source, "DataFrame")
    if str(source).startswith(WANDB_SCHEME):
        return load_wandb(str(source))
    path = Path(source)
    if path.is_dir():
        parts = [part for part in (path, *sorted(path.iterdir())) if part.is_dir() and _results_file(part)]
        if parts:
            return _study(parts)
        if any(path.glob("experiment_state-*.json")):
            return load_ray_experiment(path)
        raise AnalysisInputError(
            f"{path}: holds no {' or '.join(RESULTS_FILES)} and is not a Ray Tune experiment folder (no "
            f"experiment_state-*.json); point at a sweep output dir, a results file, a Ray experiment folder or "
            f"{WANDB_SCHEME}entity/project/group."
        )
    if path.suffix in {".parquet", ".csv"} and path.is_file():
        return _read_file(path)
    raise AnalysisInputError(
        f"{source}: no such results file or folder; give a sweep output dir, a results .parquet/.csv, a Ray "
        f"experiment folder or {WANDB_SCHEME}entity/project/group."
    )


def load_study(sources: list[Source]) -> pd.DataFrame:
    """One source as `load_results` reads it, or several (sweeps of one study, e.g. full fine-tuning and LoRA) as
    one table, where a trial seen twice (the same sweep given twice) is kept once, from the first source that has
    it."""
    tables = [load_results(source) for source in sources]
    return tables[0] if len(tables) == 1 else _joined(tables)


def _joined(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """`tables` stacked, each trial × task × metric of a condition kept from the first table that has it: trial ids
    repeat across conditions (the same grid point trained with LoRA and in full) and are told apart by them."""
    table = pd.concat(tables, ignore_index=True)
    repeated = table.duplicated(["trial_id", "task", "metric", *CONDITION_COLUMNS]) & table["trial_id"].ne("")
    return table[~repeated].reset_index(drop=True)


def _results_file(folder: Path) -> Path | None:
    return next((folder / name for name in RESULTS_FILES if (folder / name).exists()), None)


def _study(parts: list[Path]) -> pd.DataFrame:
    """A sweep dir and the follow-up sweeps inside it (`sweeper plan` puts them there), or a study dir of sweeps
    that differ in a condition (full/, lora/), as one table. A trial id seen twice within a condition (the untrained
    baseline, say) is kept from the first part: the study's own sweep, then by name."""
    return _joined([_read_file(_results_file(part)) for part in parts])


def _read_file(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return validate_results(frame, str(path))


def load_ray_experiment(path: Path) -> pd.DataFrame:
    """Each Tune trial's final report (see `ray_results_to_frame`) as the tidy frame.

    Ray leaves every column of a trial that errored before reporting empty, its config too, so the configs are
    taken from the trials themselves (a ratio-sweeper grid nests the grid point: `{"cell": {learning_rate,
    batch_size}, "seed": ...}`, lifted here to top-level columns).
    """
    from ray.tune import ExperimentAnalysis

    experiment = ExperimentAnalysis(str(path))
    configs = pd.DataFrame.from_dict(
        {
            trial.trial_id: {
                f"config/{key}": value for key, value in {**trial.config, **trial.config.get("cell", {})}.items()
            }
            for trial in experiment.trials
        },
        orient="index",
    )
    return validate_results(ray_results_to_frame(experiment.results_df.combine_first(configs)), str(path))


def ray_results_to_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """Ray's one row per trial (`config/...` columns, `tasks/<task>/<field>` metrics) -> one row per trial × task.

    A metric the trial reported wins over the config value of the same name. Ray overwrites a reported
    `trial_id` with its own id, so ratio-sweeper reports its own as `sweep_trial_id`, kept when present.
    A trial that errored before reporting has no task cells:
    it gets status `failed` and the category, metric and direction its tasks have in the other trials.
    """
    trials = trials.reset_index().reset_index(drop=True)
    for column in [column for column in trials.columns if column.startswith("config/")]:
        name = column.removeprefix("config/")
        trials[name] = trials[name].fillna(trials[column]) if name in trials else trials[column]
    if "sweep_trial_id" in trials:
        trials["trial_id"] = trials["sweep_trial_id"].fillna(trials["trial_id"])
    task_columns = [column for column in trials.columns if column.startswith("tasks/")]
    if not task_columns:
        raise AnalysisInputError(
            "Ray experiment: no trial reported 'tasks/<task>/score'; each trial must report its scores as "
            "a nested dict 'tasks' = {task: {score, stderr, metric, category, higher_is_better}}."
        )
    cells = trials[task_columns]
    cells.columns = pd.MultiIndex.from_tuples(
        [tuple(column.removeprefix("tasks/").rsplit("/", 1)) for column in task_columns], names=["task", "field"]
    )
    per_task = cells.stack("task", future_stack=True).reset_index(level="task")
    per_trial = trials[[column for column in COLUMNS if column in trials.columns]]
    frame = per_trial.join(per_task).reset_index(drop=True)
    frame["status"] = frame["status"].fillna("failed")
    for column in [column for column in ("category", "metric", "higher_is_better") if column in frame]:
        known = frame.dropna(subset=[column]).groupby("task")[column].first()
        frame[column] = frame[column].fillna(frame["task"].map(known))
    return frame


def aggregate_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean score per grid point (learning_rate, batch_size) × task over its `ok` seeds.

    Keeps `score_sd` (across seeds, NaN for one seed), `n_seeds`, and `stderr` as the root-mean-square of the
    seeds' lm-eval stderr (the evaluation noise of one run). Diverged and failed seeds have no score to average.
    """
    ok = frame[(frame["status"] == FIT_STATUS) & frame["score"].notna()]
    ok = ok.assign(stderr_squared=ok["stderr"] ** 2)
    grid = ok.groupby(GRID_KEYS, sort=True).agg(
        score=("score", "mean"),
        score_sd=("score", "std"),
        n_seeds=("score", "size"),
        stderr_squared=("stderr_squared", "mean"),
        lr_bs_ratio=("lr_bs_ratio", "first"),
        log10_ratio=("log10_ratio", "first"),
    )
    grid = grid.reset_index()
    grid["stderr"] = np.sqrt(grid.pop("stderr_squared"))
    return grid
