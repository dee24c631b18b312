"""Checks against the machine: local paths, task names and metrics, resources; hub ids left unchecked."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.errors import SpecError
from contract.spec import spec_from_dict
from sweeper.checks import check_spec
from tests.conftest import demo_dict


def _check(mutate, **options):
    raw = demo_dict()
    mutate(raw)
    return check_spec(spec_from_dict(raw), **options)


def _problem(mutate, **options) -> str:
    with pytest.raises(SpecError) as caught:
        _check(mutate, **options)
    return str(caught.value)


def test_demo_passes_every_check() -> None:
    assert _check(lambda raw: None).problems == []


def test_unknown_local_task_suggests_the_closest_name() -> None:
    message = _problem(lambda r: r["evaluation"]["tasks"][0].update(task="demo_additon"))
    assert "evaluation.tasks[0].task: unknown task 'demo_additon'; did you mean 'demo_addition'?" in message


def test_builtin_task_names_are_known_and_typos_caught() -> None:
    def mutate(raw):
        raw["evaluation"]["tasks"][0].update(task="gsm8k", metric="exact_match", filter="strict-match")
        raw["evaluation"]["tasks"][1].update(task="gsm8", metric="exact_match")

    message = _problem(mutate)
    assert "evaluation.tasks[1].task: unknown task 'gsm8'; did you mean 'gsm8k'?" in message
    assert "tasks[0]" not in message


def test_metric_and_filter_the_task_does_not_report() -> None:
    message = _problem(lambda r: r["evaluation"]["tasks"][2].update(metric="f1"))
    assert (
        "evaluation.tasks[2].metric: task 'demo_number_mc' reports no 'f1'; it reports ['acc', 'acc_norm']" in message
    )
    message = _problem(lambda r: r["evaluation"]["tasks"][0].update(filter="strict-mach"))
    assert (
        "evaluation.tasks[0].filter: task 'demo_addition' has no filter 'strict-mach'; did you mean 'strict-match'?"
        in (message)
    )


def test_metric_and_filter_of_builtin_tasks_and_groups_are_checked_before_training() -> None:
    def mutate(raw):
        raw["evaluation"]["tasks"][0].update(task="gsm8k", metric="exact_match", filter="strict-mach")
        raw["evaluation"]["tasks"][1].update(task="hellaswag", metric="acc_nrom")
        raw["evaluation"]["tasks"][2].update(task="bbh", metric="exact_match", filter="get-answer")
        raw["evaluation"]["tasks"][3].update(task="mmlu_pro", metric="exact_match", filter="strict-match")

    message = _problem(mutate)
    assert (
        "evaluation.tasks[0].filter: task 'gsm8k' has no filter 'strict-mach'; did you mean 'strict-match'?" in message
    )
    assert "evaluation.tasks[1].metric: task 'hellaswag' reports no 'acc_nrom'; did you mean 'acc_norm'?" in message
    assert "tasks[2]" not in message, "a group is checked against its aggregate metrics"
    assert (
        "tasks[3].filter: task 'mmlu_pro' has no filter 'strict-match'; its filters are ['custom-extract']" in message
    )


def test_the_direction_of_each_metric_comes_from_lm_evals_configs() -> None:
    def mutate(raw):
        raw["evaluation"]["tasks"][0].update(task="wikitext", metric="word_perplexity", filter="none")
        raw["evaluation"]["tasks"][1].update(task="lambada_openai", metric="acc", filter="none")

    report = _check(mutate)
    assert report.higher_is_better["wikitext"] is False
    assert report.higher_is_better["lambada_openai"] is True
    assert report.higher_is_better["demo_number_mc"] is True


def test_missing_local_paths_fail_and_hub_ids_are_left_unchecked(tmp_path: Path) -> None:
    def local(raw):
        raw["model"] = {"name_or_path": str(tmp_path / "no-model")}
        raw["evaluation"]["include_path"] = [str(tmp_path / "no-tasks")]

    message = _problem(local)
    assert f"model.name_or_path: no such local path '{tmp_path / 'no-model'}'" in message
    assert f"evaluation.include_path[0]: no such folder '{tmp_path / 'no-tasks'}'" in message

    def hub(raw):
        raw["model"] = {"name_or_path": "HuggingFaceTB/SmolLM2-135M"}
        raw["data"] = {"source": "allenai/tulu-3-sft-mixture"}

    report = _check(hub)
    assert any("HuggingFaceTB/SmolLM2-135M' is a hub id" in line for line in report.unchecked)
    assert any("tulu-3-sft-mixture' is a hub id" in line for line in report.unchecked)


def test_resources_beyond_this_machine() -> None:
    message = _problem(lambda r: r["resources"].update(cpus=512))
    assert "resources.cpus: 512" in message
    message = _problem(lambda r: r["resources"].update(gpus=1))
    assert "resources.gpus: 1 per trial but this machine has 0" in message
    # `sweeper validate` checks recipes meant for another machine: reported, not fatal
    report = _check(lambda r: r["resources"].update(gpus=1), for_this_machine=False)
    assert any("resources.gpus" in line for line in report.unchecked)
    # on a cluster, the cluster decides
    assert _check(lambda r: r["resources"].update(gpus=1), address="127.0.0.1:6379").problems == []


def test_a_metric_whose_direction_no_config_or_registry_states_is_left_unresolved() -> None:
    from trials.task_configs import _direction

    assert _direction({"metric": "my_custom_score"}) is None
    assert _direction({"metric": "my_custom_score", "higher_is_better": False}) is False
    assert _direction({"metric": "word_perplexity"}) is False
