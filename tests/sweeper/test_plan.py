"""`sweeper plan`'s side of a study: what a trial costs, which batch sizes a follow-up may use, and the follow-up
spec it writes (a normal spec of grid.points inside the study, that joins the study's results); end to end on a
planted study."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import load_results
from analysis.synthetic import PlantedTask, planted_table
from contract.spec import TrialParams, load_spec, spec_from_dict
from contract.store import ResultsStore, TaskScore, TrialResult, TrialStatus
from sweeper.plan import _follow_up_spec, candidate_batch_sizes, plan_study, predicted_cost, trial_seconds
from tests.conftest import micro_spec_dict


@dataclass(frozen=True)
class Planned:
    learning_rate: float
    batch_size: int
    seed: int
    reason: str = "widest CI"
    seconds: float = 1.0


@dataclass(frozen=True)
class FakePlan:
    trials: tuple[Planned, ...]
    message: str = "planned"


def _trial(lr: float, bs: int, seed: int, seconds: float, steps: int) -> TrialResult:
    return TrialResult(
        sweep="micro", trial_id=f"lr{lr}_bs{bs}_s{seed}", method="sft", params=TrialParams.make(lr, bs, seed, 8),
        status=TrialStatus.OK, scores=(TaskScore("demo_addition", "reasoning", "exact_match", 0.5, 0.05),),
        train_steps=steps, train_seconds=seconds, eval_seconds=2.0,
    )  # fmt: skip


def _study(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    spec = spec_from_dict(micro_spec_dict(tmp_path / "pilot", **{"training.max_per_device_batch": 8}))
    trials = [_trial(1e-3, 4, 0, 20.0, 8), _trial(1e-3, 16, 0, 8.0, 2), _trial(3e-3, 64, 0, 5.0, 1)]
    table = ResultsStore(tmp_path / "pilot").add(trials)
    (tmp_path / "pilot" / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    return tmp_path / "pilot", table


def test_a_trials_cost_is_its_measured_seconds_at_the_steps_its_batch_takes(tmp_path: Path) -> None:
    study, table = _study(tmp_path)
    spec = load_spec(study / "spec.yaml")
    cost = trial_seconds(spec, table)
    # 32 examples: bs 4 takes 8 steps (22 s measured with eval), bs 16 two (10 s); a + b·steps fits both
    assert cost(4) == pytest.approx(22.0, rel=0.05) and cost(16) == pytest.approx(10.0, rel=0.1)
    assert cost(16) < cost(8) < cost(4), "4 steps at bs 8: between the two"
    assert candidate_batch_sizes(spec, table) == [4, 8, 16, 32, 64], "the study's sizes and their geometric middles"


def test_the_follow_up_is_a_valid_spec_of_points_inside_the_study_and_joins_its_results(tmp_path: Path) -> None:
    study, _ = _study(tmp_path)
    spec = load_spec(study / "spec.yaml")
    plan = FakePlan((Planned(2e-3, 8, 0), Planned(2e-3, 8, 1), Planned(1e-3, 4, 1)))
    written, text = _follow_up_spec(spec, plan, study, study / "plan-1")
    follow_up = spec_from_dict(yaml.safe_load(text))
    assert written == follow_up, "the spec returned is the one written"
    assert follow_up.study_dir == str(study) and follow_up.output_dir == str(study / "plan-1")
    assert [t.trial_id for t in follow_up.trials()] == ["lr1e-03_bs4_s1", "lr2e-03_bs8_s0", "lr2e-03_bs8_s1"]
    assert not follow_up.evaluation.baseline, "the study scored the untrained model already"
    seconds, device_hours = predicted_cost(follow_up)  # what `sweeper validate next.yaml` prints
    cost = trial_seconds(spec, load_results(study))
    assert seconds == pytest.approx(cost(4) + 2 * cost(8)) and device_hours == pytest.approx(seconds / 3600)
    ResultsStore(study / "plan-1").add([_trial(2e-3, 8, 0, 9.0, 4)])
    joined = load_results(study)
    assert sorted(joined.trial_id.unique()) == sorted(
        ["lr0.001_bs4_s0", "lr0.001_bs16_s0", "lr0.003_bs64_s0", "lr0.002_bs8_s0"]
    ), "the study's analysis reads every part as one table"


def _planted_study(tmp_path: Path) -> Path:
    """A finished 3 × 3 one-seed sweep of the micro spec as a sweep dir: each category's optimum planted half a decade
    from the other's, lm-eval's binomial noise, measured seconds from steps."""
    truths = {
        "demo_addition": PlantedTask("reasoning", best_z=-4.6, n_items=1000, metric="exact_match"),
        "demo_sequence": PlantedTask("pattern", best_z=-4.1, n_items=1000, metric="exact_match"),
    }
    table = planted_table(truths, (3e-4, 1e-3, 3e-3), (4, 16, 64), (0,), random_state=1)
    steps = np.ceil(32 / pd.to_numeric(table["batch_size"]))
    table = table.assign(train_steps=steps, train_seconds=0.5 * steps, eval_seconds=2.0, sweep="micro")
    spec = spec_from_dict(micro_spec_dict(tmp_path / "pilot", **{"training.max_per_device_batch": 8}))
    (tmp_path / "pilot").mkdir()
    (tmp_path / "pilot" / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    table.to_parquet(tmp_path / "pilot" / "results.parquet")
    return tmp_path / "pilot"


def test_planning_a_planted_study_writes_a_valid_follow_up_of_new_points_inside_it(tmp_path: Path) -> None:
    study = _planted_study(tmp_path)
    planned = plan_study(study, target_ci=1.5)
    assert planned.spec_path == study / "next.yaml" and planned.output_dir == study / "plan-1"
    follow_up = spec_from_dict(yaml.safe_load(planned.spec_path.read_text()))
    assert follow_up.study_dir == str(study) and follow_up.output_dir == str(study / "plan-1")
    trials = [(params.learning_rate, params.batch_size, params.seed) for params in follow_up.trials()]
    assert len(trials) == len(planned.plan.trials) > 0
    pilot = load_results(study)
    taken = set(zip(pilot["learning_rate"], pilot["batch_size"], pilot["seed"], strict=True))
    assert not taken & set(trials), "every planned trial is new: a trained point only as another seed"
    assert {size for _, size, _ in trials} <= set(candidate_batch_sizes(follow_up, pilot))
    assert planned.plan.widths_after.keys() == planned.plan.widths_now.keys() == {
        "pattern optimum", "reasoning optimum", "pattern - reasoning"
    }  # fmt: skip
    assert planned.device_hours > 0


def test_a_study_that_meets_its_target_gets_no_follow_up(tmp_path: Path) -> None:
    study = _planted_study(tmp_path)
    planned = plan_study(study, target_ci=10.0)
    assert planned.spec_path is None and not (study / "next.yaml").exists()
    assert planned.plan.message.startswith("target met")
