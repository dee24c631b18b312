"""A crashing trial is retried, then recorded `failed` with its error; the sweep still ends. An analysis that fails
at the end of a sweep leaves the finished sweep as it is and says how to rerun it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from ray import tune

from contract.errors import OutputDirError
from contract.spec import spec_from_dict
from contract.store import ResultsStore
from sweeper.driver import _start_ray, run_sweep
from sweeper.tune_trials import StoreCallback, param_space
from tests.conftest import micro_spec_dict
from tests.wandb_records import offline_runs


def _exploding_task(folder: Path) -> Path:
    """A valid lm-eval task whose scoring raises: training works, then every trial crashes in evaluation."""
    folder.mkdir()
    (folder / "items.jsonl").write_text('{"question": "1 plus 1?", "answer": "2"}\n')
    (folder / "utils.py").write_text("def explode(doc, results):\n    raise RuntimeError('planted failure')\n")
    (folder / "explode.yaml").write_text(
        "task: planted_explode\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {folder / 'items.jsonl'}\n"
        "test_split: test\noutput_type: generate_until\ndoc_to_text: 'Q: {{question}}\\nA:'\n"
        "doc_to_target: '{{answer}}'\ngeneration_kwargs:\n  until: ['\\n']\n  max_gen_toks: 4\n"
        "process_results: !function utils.explode\n"
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
    )
    return folder


def test_a_trial_that_crashes_at_every_try_is_recorded_failed_and_the_sweep_ends(tmp_path: Path) -> None:
    raw = micro_spec_dict(tmp_path / "run")
    raw["grid"] = {"learning_rate": [1.0e-3], "batch_size": [4]}
    raw["evaluation"]["include_path"] = [str(_exploding_task(tmp_path / "tasks"))]
    raw["evaluation"]["tasks"][0] = {"task": "planted_explode", "category": "reasoning", "metric": "exact_match"}
    raw["evaluation"]["baseline"] = False
    raw["search"] = {"max_failures": 1}
    raw["storage_path"] = str(tmp_path / "ray-storage")  # e.g. a shared filesystem or s3:// on a cluster
    table = run_sweep(spec_from_dict(raw), analyze=False)
    assert (tmp_path / "ray-storage" / "tune").is_dir() and not (tmp_path / "run" / "tune").exists()
    trials = table.drop_duplicates("trial_id")
    assert len(trials) == 1 and set(trials.status) == {"failed"}
    assert trials.error.str.contains("planted failure").all(), trials.error.tolist()
    assert table.score.isna().all()

    with pytest.raises(OutputDirError, match="sweeper resume"):
        run_sweep(spec_from_dict(raw), analyze=False)


def test_a_trial_that_crashes_at_its_first_try_is_recorded_with_its_error(tmp_path: Path) -> None:
    """No retry (`search.max_failures: 0`, the default): Tune tells the store of the crash before it has copied the
    error to storage, where `trial.get_error()` reads it, so the trial was recorded as 'unknown error'. Tune alone,
    on the driver's Ray (still up after the sweep above, when run with it), with a trial that crashes at once."""
    spec = spec_from_dict(micro_spec_dict(tmp_path / "run", grid={"learning_rate": [1.0e-3], "batch_size": [4]}))
    store = ResultsStore(spec.resolved_output_dir())
    store.directory.mkdir(parents=True)
    StoreCallback.attach(store, None, None)

    def crash(config: dict) -> None:
        raise RuntimeError("planted failure")

    _start_ray(None, verbose=False)
    tune.Tuner(
        crash,
        param_space=param_space(spec, num_examples=32, baseline=False),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray"), callbacks=[StoreCallback(spec)], verbose=0),
    ).fit()
    [trial] = store.load().drop_duplicates("trial_id").itertuples()
    assert trial.status == "failed" and "RuntimeError: planted failure" in trial.error, trial.error


# The CLI with `analysis.analyze` replaced by one that raises, as a bug or an unfittable study would.
CLI_WITH_A_FAILING_ANALYSIS = """
import analysis
from sweeper.cli import main

def fail(*args, **kwargs):
    raise ZeroDivisionError("division by zero [planted]")

analysis.analyze = fail
main()
"""


def test_a_failing_analysis_leaves_the_finished_sweep_and_says_how_to_rerun_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    raw = micro_spec_dict(run, grid={"learning_rate": [1.0e-3], "batch_size": [4]}, **{"evaluation.baseline": False})
    spec_path = tmp_path / "micro.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [sys.executable, "-c", CLI_WITH_A_FAILING_ANALYSIS, "run", str(spec_path), "--quiet"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "WANDB_MODE": "offline", "RAY_ADDRESS": ""},
    )  # fmt: skip
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if "analysis failed" in line]
    assert "ZeroDivisionError: division by zero [planted]" in line, "in words, as raised"
    assert f"sweeper analyze {run} --output-dir {run}" in line
    table = pd.read_parquet(run / "results.parquet")
    assert set(table.status) == {"ok"} and table.score.notna().all(), "the finished trial stays"
    summary = offline_runs(run / "wandb")["micro-summary"]
    assert summary.summary["results/nrows"] == len(table), "the summary run is logged without the analysis"
    assert "answer" not in summary.summary
