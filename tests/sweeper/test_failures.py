"""A crashing trial is retried, then recorded `failed` with its error; the sweep still ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.errors import OutputDirError
from contract.spec import spec_from_dict
from sweeper.driver import run_sweep
from tests.conftest import micro_spec_dict


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


def test_crashing_trials_are_recorded_failed_and_the_sweep_ends(tmp_path: Path) -> None:
    raw = micro_spec_dict(tmp_path / "run")
    raw["grid"] = {"learning_rate": [1.0e-3], "batch_size": [4, 8]}
    raw["evaluation"]["include_path"] = [str(_exploding_task(tmp_path / "tasks"))]
    raw["evaluation"]["tasks"][0] = {"task": "planted_explode", "category": "reasoning", "metric": "exact_match"}
    raw["evaluation"]["baseline"] = False
    raw["search"] = {"max_failures": 1}
    raw["storage_path"] = str(tmp_path / "ray-storage")  # e.g. a shared filesystem or s3:// on a cluster
    table = run_sweep(spec_from_dict(raw), analyze=False)
    assert (tmp_path / "ray-storage" / "tune").is_dir() and not (tmp_path / "run" / "tune").exists()
    trials = table.drop_duplicates("trial_id")
    assert len(trials) == 2 and set(trials.status) == {"failed"}
    assert trials.error.str.contains("planted failure").all(), trials.error.tolist()
    assert table.score.isna().all()

    with pytest.raises(OutputDirError, match="sweeper resume"):
        run_sweep(spec_from_dict(raw), analyze=False)
