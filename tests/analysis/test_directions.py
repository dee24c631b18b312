"""A metric's direction is never guessed: a table states it, or lm-eval's registry knows the metric, or the table is
refused with the fix. A perplexity read as higher-is-better would be maximised: every optimum at the wrong end."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis import load_results
from analysis.directions import METRIC_DIRECTIONS
from analysis.errors import AnalysisInputError
from analysis.load import ray_results_to_frame
from analysis.schema import validate_results
from analysis.synthetic import PlantedTask, planted_table
from analysis.wandb_source import runs_to_frame


def _table(metric: str = "word_perplexity") -> pd.DataFrame:
    tasks = {
        "arc": PlantedTask("reasoning", best_z=-5.0),
        "wikitext": PlantedTask("lm", best_z=-4.0, peak=12.0, curvature=2.0, higher_is_better=False, metric=metric),
    }
    return planted_table(tasks, [1e-4, 1e-3, 1e-2], [8, 32])


def _directions(frame: pd.DataFrame) -> dict[str, set[bool]]:
    return {task: set(rows) for task, rows in frame.groupby("task")["higher_is_better"]}


def test_the_table_of_directions_is_lm_evals_registry() -> None:
    registry = pytest.importorskip("lm_eval.api.registry")
    import lm_eval.api.metrics  # noqa: F401  (registers the metrics)

    assert dict(registry.higher_is_better_registry.items()) == METRIC_DIRECTIONS


def test_a_table_without_directions_takes_each_known_metrics_own() -> None:
    """Used to read every metric as higher-is-better: the perplexity task was maximised."""
    frame = load_results(_table().drop(columns=["higher_is_better"]))
    assert _directions(frame) == {"arc": {True}, "wikitext": {False}}


def test_a_row_without_a_direction_takes_its_tasks() -> None:
    table = _table(metric="judge_loss").astype({"higher_is_better": object})
    table.loc[table["status"] == "baseline", "higher_is_better"] = np.nan
    assert _directions(load_results(table)) == {"arc": {True}, "wikitext": {False}}


def test_an_unknown_metric_without_a_direction_is_refused_with_the_fix() -> None:
    with pytest.raises(AnalysisInputError) as error:
        load_results(_table(metric="judge_loss").drop(columns=["higher_is_better"]))
    message = str(error.value)
    assert "'higher_is_better'" in message and "'wikitext'" in message and "'judge_loss'" in message
    assert "False where a lower one is" in message and "'arc'" not in message


def test_rows_of_one_task_that_disagree_on_the_direction_are_refused() -> None:
    table = _table()
    table.loc[table.index[-1], "higher_is_better"] = True
    with pytest.raises(AnalysisInputError, match=r"both True and False among the rows of task 'wikitext'"):
        load_results(table)


def test_a_direction_spelled_otherwise_than_true_or_false_is_refused() -> None:
    with pytest.raises(AnalysisInputError, match=r"'higher_is_better' holds 'maybe'"):
        load_results(_table().assign(higher_is_better="maybe"))


def test_a_ray_trial_that_errored_first_takes_its_tasks_direction() -> None:
    """Its task cells are empty: the direction used to default to True, and the task's first row decided it."""
    recorded = pd.DataFrame(
        {
            "status": [np.nan, "ok"],
            "config/learning_rate": [3e-3, 1e-4],
            "config/batch_size": [8, 8],
            "config/seed": [0, 0],
            "tasks/wikitext/score": [np.nan, 25.0],
            "tasks/wikitext/stderr": [np.nan, 0.5],
            "tasks/wikitext/metric": [np.nan, "judge_loss"],
            "tasks/wikitext/category": [np.nan, "lm"],
            "tasks/wikitext/higher_is_better": [np.nan, False],
        },
        index=pd.Index(["t_00000", "t_00001"], name="trial_id"),
    )
    frame = ray_results_to_frame(recorded)
    assert frame["higher_is_better"].tolist() == [False, False]
    assert _directions(validate_results(frame)) == {"wikitext": {False}}


def test_a_wandb_run_that_died_carries_its_tasks_direction() -> None:
    tasks = {"wikitext": {"category": "lm", "metric": "judge_loss", "higher_is_better": False}}
    config = {"learning_rate": 1e-4, "batch_size": 8, "seed": 0, "trial_id": "lr1e-04_bs8_s0", "tasks": tasks}
    frame = runs_to_frame([SimpleNamespace(name="crashed", job_type="sft", config=config, summary={})])
    assert frame["status"].tolist() == ["failed"] and frame["higher_is_better"].tolist() == [False]


def test_the_cli_refuses_a_table_without_directions_in_one_line(tmp_path) -> None:
    _table(metric="judge_loss").drop(columns=["higher_is_better"]).to_csv(tmp_path / "results.csv", index=False)
    command = [sys.executable, "-m", "sweeper.cli", "analyze", str(tmp_path / "results.csv")]
    done = subprocess.run([*command, "--output-dir", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "'higher_is_better'" in done.stderr and "'judge_loss'" in done.stderr
