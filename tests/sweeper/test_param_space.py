"""The order Tune receives the grid in: longest trials first, the baseline last, every trial exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.spec import spec_from_dict
from sweeper.tune_trials import is_baseline, param_space, params_of
from tests.conftest import micro_spec_dict


def _order(spec, baseline: bool) -> list[dict]:
    return param_space(spec, num_examples=64, baseline=baseline)["cell"]["grid_search"]


@pytest.mark.parametrize(
    ("budget", "expected_batch_order"),
    # An examples budget: a small batch takes more steps, each paying a fixed cost, so it runs longest.
    # A steps budget: every cell takes the same steps, so the bigger batch runs longest.
    [({"train_examples": 32}, [4, 4, 8, 8]), ({"max_steps": 5}, [8, 8, 4, 4])],
)
def test_longest_trials_first_and_the_baseline_last(tmp_path: Path, budget: dict, expected_batch_order) -> None:
    raw = micro_spec_dict(tmp_path)
    raw["training"].pop("train_examples")
    raw["training"].update(budget)
    spec = spec_from_dict(raw)
    cells = _order(spec, baseline=True)
    assert is_baseline({"cell": cells[-1]})
    trials = [params_of({"cell": cell}, spec)[0] for cell in cells[:-1]]
    assert [t.batch_size for t in trials] == expected_batch_order
    assert sorted(t.trial_id for t in trials) == sorted(t.trial_id for t in spec.trials())
    assert not any(is_baseline({"cell": cell}) for cell in _order(spec, baseline=False))


def test_exact_points_and_seeds_each_become_one_trial(tmp_path: Path) -> None:
    raw = micro_spec_dict(tmp_path)
    raw["grid"] = {"points": [{"learning_rate": 9e-5, "batch_size": 8}, {"learning_rate": 3.1e-6, "batch_size": 4}]}
    raw["training"]["seeds"] = [0, 1]
    spec = spec_from_dict(raw)
    ids = [params_of({"cell": c}, spec)[0].trial_id for c in _order(spec, baseline=False)]
    assert ids == ["lr3.1e-06_bs4_s0", "lr3.1e-06_bs4_s1", "lr9e-05_bs8_s0", "lr9e-05_bs8_s1"]
