"""The spec: shipped YAMLs validate; each kind of bad input is one clear line naming the field and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from contract.errors import SpecError
from contract.spec import TrialParams, load_spec, spec_from_dict, split_batch
from tests.conftest import REPO, demo_dict


@pytest.mark.parametrize("path", sorted((REPO / "search_spaces").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_spec_validates_and_starts_with_its_command(path: Path) -> None:
    spec = load_spec(path)
    assert spec.trials(), "a shipped spec must define at least one trial"
    assert path.read_text().startswith(f"# sweeper run search_spaces/{path.name}")


def test_demo_spec_grid_and_budget() -> None:
    spec = load_spec("demo")
    trials = spec.trials()
    assert len(trials) == 9
    assert {t.batch_size for t in trials} == {4, 16, 64}
    # the budget is in examples: every cell sees the same data, so steps shrink with the batch
    assert spec.train_steps(4, None) == 4800
    assert spec.train_steps(64, None) == 300
    assert len({t.trial_id for t in trials}) == 9


def test_ratio_grid_derives_learning_rate() -> None:
    raw = demo_dict()
    raw["grid"] = {"lr_bs_ratio": [1e-5, 1e-4], "batch_size": [4, 16]}
    trials = spec_from_dict(raw).trials()
    assert sorted(round(t.learning_rate, 12) for t in trials) == sorted([4e-5, 1.6e-4, 4e-4, 1.6e-3])
    assert all(t.lr_bs_ratio in (pytest.approx(1e-5), pytest.approx(1e-4)) for t in trials)


def test_exact_points_are_trials_without_a_cross_product() -> None:
    raw = demo_dict()
    raw["grid"] = {"points": [{"learning_rate": 9e-5, "batch_size": 8}, {"learning_rate": 3.1e-6, "batch_size": 32}]}
    raw["training"]["seeds"] = [0, 1]
    trials = spec_from_dict(raw).trials()
    assert [(t.learning_rate, t.batch_size, t.seed) for t in trials] == [
        (3.1e-6, 32, 0), (3.1e-6, 32, 1), (9e-5, 8, 0), (9e-5, 8, 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        ({"points": [{"learning_rate": 1e-3, "batch_size": 4}], "batch_size": [4]}, "grid: give either `points`"),
        ({"points": []}, "grid.points: is empty"),
        ({"points": [{"learning_rate": 1e-3, "batch_size": 4}] * 2}, "grid.points[1]: duplicate of [0]"),
        ({"points": [{"learning_rate": -1e-3, "batch_size": 4}]}, "grid.points[0].learning_rate: must be > 0"),
        ({"points": [{"learning_rate": 1e-3, "batch_size": 12}]}, "grid.points[0].batch_size: 12 is not a multiple"),
        ({"points": [{"learning_rate": 1e-3}]}, "grid.points[0].batch_size: required field is missing"),
        ({"batch_size": [4]}, "grid: give exactly one of `learning_rate` or `lr_bs_ratio`"),
    ],
)
def test_bad_points_name_the_point(grid: dict, expected: str) -> None:
    message = _problems(lambda r: (r.__setitem__("grid", grid), r["training"].update(max_per_device_batch=8)))
    assert expected in message


@pytest.mark.parametrize("switch", ["padding_free", "liger_kernel"])
def test_sft_only_switches_are_refused_for_dpo(switch: str) -> None:
    message = _problems(lambda r: (r.__setitem__("method", "dpo"), r["training"].update({switch: True})))
    assert f"training.{switch}: SFT only" in message


def test_optuna_needs_ranges_not_points() -> None:
    def mutate(raw: dict) -> None:
        raw["grid"] = {"points": [{"learning_rate": 1e-3, "batch_size": 4}]}
        raw["search"] = {"algorithm": "optuna", "num_samples": 2}

    assert "search.algorithm: optuna samples within ranges" in _problems(mutate)


@pytest.mark.parametrize(
    ("batch_size", "limit", "expected"),
    [(64, 64, (64, 1)), (64, 8, (8, 8)), (4, 8, (4, 1)), (32, 16, (16, 2))],
)
def test_split_batch(batch_size: int, limit: int, expected: tuple[int, int]) -> None:
    per_device, accumulation = split_batch(batch_size, limit)
    assert (per_device, accumulation) == expected
    assert per_device * accumulation == batch_size


def test_trial_params_record_both_configured_and_derived_batch() -> None:
    params = TrialParams.make(3e-4, 32, seed=1, max_per_device_batch=8)
    assert (params.per_device_batch_size, params.gradient_accumulation_steps) == (8, 4)
    assert params.lr_bs_ratio == pytest.approx(3e-4 / 32)
    assert params.trial_id == "lr3e-04_bs32_s1"


def _problems(mutate) -> str:
    raw = demo_dict()
    mutate(raw)
    with pytest.raises(SpecError) as caught:
        spec_from_dict(raw)
    return str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["grid"].update(learnin_rate=[1e-3]),
            "grid.learnin_rate: unknown key; did you mean 'learning_rate'",
        ),
        (lambda r: r["training"].update(seeds="x"), "training.seeds: Input should be a valid list"),
        (lambda r: r["grid"]["learning_rate"].__setitem__(2, -1e-4), "grid.learning_rate[2]: must be > 0, got -0.0001"),
        (lambda r: r["grid"].update(batch_size=[]), "grid.batch_size: is empty"),
        (lambda r: r["grid"].update(batch_size=[4, 4]), "grid.batch_size[1]: duplicate"),
        (
            lambda r: r["evaluation"]["tasks"][0].update(category="reasonin"),
            "evaluation.tasks[0].category: unknown category 'reasonin'; did you mean 'reasoning'?",
        ),
        (lambda r: r["categories"].append("math"), "categories[2]: 'math' has no task"),
        (lambda r: r["resources"].update(gpus=float("nan")), "resources.gpus: Input should be a finite number"),
        (lambda r: r["training"].update(max_steps=10), "training: give exactly one budget"),
        (lambda r: r["grid"].update(lr_bs_ratio=[1e-5]), "grid: give exactly one of `learning_rate`"),
        (lambda r: r.pop("grid"), "grid: required field is missing"),
        (lambda r: r["evaluation"].update(batch_size="big"), "evaluation.batch_size: Input should be a valid integer"),
        (lambda r: r["training"].update(lora={"rank": 0}), "training.lora.rank: Input should be greater than 0"),
        (lambda r: r["training"].update(lora={"target_modules": []}), "training.lora.target_modules: List should"),
        (lambda r: r["training"].update(lora={"rnak": 8}), "training.lora.rnak: unknown key; did you mean 'rank'"),
        (
            lambda r: r.update(search={"metric": "score/reasonin"}),
            "search.metric: 'score/reasonin' is not reported by trials; did you mean 'score/reasoning'?",
        ),
    ],
)
def test_bad_input_names_field_and_fix(mutate, expected: str) -> None:
    assert expected in _problems(mutate)


def test_batch_size_the_micro_batch_limit_cannot_divide() -> None:
    message = _problems(lambda r: (r["training"].update(max_per_device_batch=8), r["grid"].update(batch_size=[4, 12])))
    assert "grid.batch_size[1]: 12 is not a multiple of training.max_per_device_batch=8" in message


def test_all_problems_are_reported_at_once() -> None:
    def mutate(raw):
        raw["grid"]["learning_rate"][0] = 0
        raw["evaluation"]["tasks"][1]["category"] = "nope"

    message = _problems(mutate)
    assert "grid.learning_rate[0]" in message and "evaluation.tasks[1].category" in message


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ngrid: [1, 2\n")
    with pytest.raises(SpecError, match="malformed YAML at line 3"):
        load_spec(path)


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    raw = demo_dict()
    raw["grid"]["learning_rate"] = [-1.0]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "run", str(path), "--output-dir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "grid.learning_rate[0]: must be > 0, got -1.0" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists(), "nothing may start before the spec is valid"


def test_unknown_packaged_spec_suggests_a_name() -> None:
    with pytest.raises(SpecError, match="did you mean 'demo'"):
        load_spec("demoo")


def test_distinct_grid_points_get_distinct_trial_ids() -> None:
    raw = demo_dict()
    raw["grid"] = {"learning_rate": [1.0001e-3, 1.0004e-3, 1e-3], "batch_size": [4]}
    ids = [params.trial_id for params in spec_from_dict(raw).trials()]
    assert ids == ["lr1e-03_bs4_s0", "lr1.0001e-03_bs4_s0", "lr1.0004e-03_bs4_s0"]


def test_sampled_learning_rates_never_share_an_id() -> None:
    rng = np.random.default_rng(0)
    rates = 10 ** rng.uniform(-6, -2, 20_000)  # what Optuna's log-uniform draws look like
    ids = {TrialParams.make(float(rate), 8, 0, 8).trial_id for rate in rates}
    assert len(ids) == len(set(rates.tolist()))


def test_a_ratio_grid_gives_the_users_numbers_and_refuses_ratios_that_would_share_an_id() -> None:
    raw = demo_dict()
    raw["grid"] = {"lr_bs_ratio": [1.1e-5], "batch_size": [8]}
    assert [params.trial_id for params in spec_from_dict(raw).trials()] == ["lr8.8e-05_bs8_s0"]
    raw["grid"] = {"lr_bs_ratio": [1.1e-5, 1.1e-5 * (1 + 1e-15)], "batch_size": [8]}
    assert "grid.lr_bs_ratio[1]: at batch size 8 it gives the learning rate 8.8e-05 of lr_bs_ratio[0]" in _problems(
        lambda raw_: raw_.update(grid=raw["grid"])
    )


def _optuna(metric: str, mode: str | None = None, **directions: bool) -> dict:
    raw = demo_dict()
    raw["grid"] = {"learning_rate": [1e-4, 1e-3], "batch_size": [4, 16]}
    raw["search"] = {"algorithm": "optuna", "num_samples": 4, "metric": metric}
    if mode is not None:
        raw["search"]["mode"] = mode
    for task in raw["evaluation"]["tasks"]:
        if task["task"] in directions:
            task["higher_is_better"] = directions[task["task"]]
    return raw


def test_optunas_mode_follows_the_metrics_direction() -> None:
    assert spec_from_dict(_optuna("score/reasoning")).search_mode() == "max"
    assert spec_from_dict(_optuna("train_loss")).search_mode() == "min"
    lower = spec_from_dict(_optuna("tasks/demo_addition/score")).with_metric_directions({"demo_addition": False})
    assert lower.search_mode() == "min"
    assert spec_from_dict(_optuna("tasks/demo_addition/score", mode="max")).search_mode() == "max"


def test_a_search_metric_mixing_directions_or_a_mode_against_it_is_refused() -> None:
    mixed = _problems(lambda raw: raw.update(_optuna("score/reasoning", demo_addition=False, demo_word_problems=True)))
    assert "search.metric: 'score/reasoning' averages tasks where higher is better with tasks where lower" in mixed
    against = _problems(lambda raw: raw.update(_optuna("tasks/demo_addition/score", mode="max", demo_addition=False)))
    assert "search.mode: 'max' but a lower 'tasks/demo_addition/score' is better; set mode: min" in against


def test_the_batch_splits_over_workers_and_a_batch_they_cannot_divide_is_refused() -> None:
    raw = demo_dict()
    raw["resources"] = {"cpus": 1, "workers": 2}
    raw["training"]["max_per_device_batch"] = 8
    raw["grid"] = {"learning_rate": [1e-3], "batch_size": [4, 64]}
    small, large = spec_from_dict(raw).trials()
    assert (small.per_device_batch_size, small.gradient_accumulation_steps, small.world_size) == (2, 1, 2)
    assert (large.per_device_batch_size, large.gradient_accumulation_steps, large.world_size) == (8, 4, 2)
    raw["grid"]["batch_size"] = [6]
    raw["resources"]["workers"] = 4
    assert "grid.batch_size[0]: 6 does not split over resources.workers=4" in _problems(lambda r: r.update(raw))


@pytest.mark.parametrize(
    ("resources", "training", "expected"),
    [
        ({"gpus": 2}, {}, "resources.gpus: Input should be less than or equal to 1"),
        ({"gpus": 0.5, "workers": 2}, {}, "resources.gpus: 0.5 per worker, but a multi-worker trial's workers"),
        ({"workers": 2}, {"fsdp": True}, "training.fsdp: shards over a trial's workers, one GPU each"),
        ({"workers": 2, "gpus": 1}, {"fsdp": True, "lora": {}}, "training.lora: not with training.fsdp"),
    ],
)
def test_resources_that_would_change_the_batch_or_cannot_shard_are_refused(resources, training, expected) -> None:
    def mutate(raw):
        raw["resources"].update(resources)
        raw["training"].update(training)

    assert expected in _problems(mutate)


def test_set_opens_an_optional_section_left_out_or_null(tmp_path: Path) -> None:
    """`--set training.lora.rank=8` turns LoRA on with its other defaults, in the packaged demo (no `lora` key) and
    in a sweep's resolved spec.yaml (`lora: null`)."""
    assert load_spec("demo").training.lora is None
    lora = load_spec("demo", {"training.lora.rank": 8}).training.lora
    assert lora is not None and lora.rank == 8 and lora.target_modules == "all-linear"
    resolved = tmp_path / "spec.yaml"
    raw = demo_dict()
    raw["training"]["lora"] = None
    resolved.write_text(yaml.safe_dump(raw))
    assert load_spec(resolved, {"training.lora.rank": 4, "training.lora.rslora": True}).training.lora.rslora
