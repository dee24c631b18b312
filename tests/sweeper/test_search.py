"""Optuna search through Ray Tune: trials sampled inside the grid's ranges, optimising a reported metric."""

from __future__ import annotations

import math
from pathlib import Path

from contract.spec import spec_from_dict
from sweeper.driver import run_sweep
from tests.conftest import micro_spec_dict


def test_optuna_samples_points_within_the_grid_ranges_and_trains_each_point_once_per_seed(tmp_path: Path) -> None:
    raw = micro_spec_dict(tmp_path / "run")
    raw["grid"] = {"learning_rate": [5.0e-4, 5.0e-3], "batch_size": [4, 8]}
    raw["training"]["seeds"] = [0, 1]
    raw["evaluation"]["baseline"] = False
    raw["search"] = {"algorithm": "optuna", "num_samples": 2, "metric": "score/reasoning", "max_concurrent_trials": 2}
    started: list[str] = []
    table = run_sweep(spec_from_dict(raw), analyze=False, on_start=started.append)
    trials = table.drop_duplicates("trial_id")
    assert len(trials) == 4 and set(trials.status) == {"ok"}
    assert sorted(started) == sorted(trials.trial_id), "the live view hears of every trial as it starts"
    assert trials.learning_rate.between(5.0e-4, 5.0e-3).all()
    assert set(trials.batch_size) <= {4, 8}
    points = trials.groupby(["learning_rate", "batch_size"])["seed"].apply(sorted)
    assert len(points) == 2 and all(seeds == [0, 1] for seeds in points), "seeds are replicates of a sampled point"
    assert all(math.isfinite(score) for score in table.score)
