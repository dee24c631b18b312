"""A crashing trial is retried, then recorded `failed` with its error; the sweep still ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeper.driver import run_sweep
from sweeper.errors import OutputDirError
from sweeper.spec import spec_from_dict
from tests.conftest import micro_spec_dict


def test_crashing_trials_are_recorded_failed_and_the_sweep_ends(tmp_path: Path) -> None:
    raw = micro_spec_dict(tmp_path / "run")
    raw["grid"] = {"learning_rate": [1.0e-3], "batch_size": [4, 8]}
    # a metric lm-eval never reports: training works, scoring raises in every trial
    raw["evaluation"]["tasks"][0]["metric"] = "no_such_metric"
    raw["evaluation"]["baseline"] = False
    raw["search"] = {"max_failures": 1}
    table = run_sweep(spec_from_dict(raw), analyze=False)
    trials = table.drop_duplicates("trial_id")
    assert len(trials) == 2 and set(trials.status) == {"failed"}
    assert trials.error.str.contains("no_such_metric").all(), trials.error.tolist()
    assert table.score.isna().all()

    with pytest.raises(OutputDirError, match="sweeper resume"):
        run_sweep(spec_from_dict(raw), analyze=False)
