"""The trial's own decisions, without Ray: divergence criteria, CUDA OOM recorded as `failed` with a hint."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from contract.spec import TrialParams, spec_from_dict
from contract.store import TrialStatus
from tests.conftest import micro_spec_dict
from trials import trial as trial_module
from trials.prepare import prepare_sweep
from trials.train import DivergenceGuard


def _feed(guard: DivergenceGuard, logs: list[dict]) -> SimpleNamespace:
    control = SimpleNamespace(should_training_stop=False)
    for step, entry in enumerate(logs, start=1):
        guard.on_log(None, SimpleNamespace(global_step=step), control, logs=entry)
        if control.should_training_stop:
            break
    return control


@pytest.mark.parametrize(
    ("logs", "reason"),
    [
        ([{"loss": 2.0, "grad_norm": 1.0}, {"loss": math.nan, "grad_norm": 1.0}], "non-finite loss"),
        ([{"loss": 2.0, "grad_norm": 1.0}, {"loss": 1.5, "grad_norm": math.inf}], "non-finite"),
        ([{"loss": 2.0, "grad_norm": 1.0}, {"loss": 25.0, "grad_norm": 3.0}], "> 10 x first loss"),
        ([{"loss": 2.0, "grad_norm": 1.0}, {"loss": 6.2, "grad_norm": 0.0}], "collapsed"),
    ],
)
def test_divergence_guard_stops_on_each_criterion(logs: list[dict], reason: str) -> None:
    guard = DivergenceGuard(factor=10.0)
    control = _feed(guard, logs)
    assert control.should_training_stop and reason in guard.reason


def test_divergence_guard_lets_a_noisy_but_stable_run_go_on() -> None:
    guard = DivergenceGuard(factor=10.0)
    logs = [{"loss": loss, "grad_norm": 1.0} for loss in (3.0, 3.4, 2.5, 5.0, 1.2)]
    assert not _feed(guard, logs).should_training_stop and guard.reason == ""
    assert guard.losses == [3.0, 3.4, 2.5, 5.0, 1.2]


@pytest.mark.parametrize("where", ["trials.train.train", "trials.evaluate.evaluate_trained"])
def test_cuda_out_of_memory_is_failed_with_a_hint_not_retried(tmp_path: Path, monkeypatch, where: str) -> None:
    spec = spec_from_dict(micro_spec_dict(tmp_path / "run"))
    prepared = prepare_sweep(spec)

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(where, out_of_memory)
    params = TrialParams.make(1e-3, 8, 0, spec.training.max_per_device_batch)
    result = trial_module.run_trial(spec, prepared, params, tmp_path / "trial")
    assert result.status is TrialStatus.FAILED
    assert "oom" in result.error and "max_per_device_batch" in result.error
    assert all(math.isnan(score.score) for score in result.scores)
    assert {score.task for score in result.scores} == {task.task for task in spec.evaluation.tasks}
    if where.endswith("evaluate_trained"):
        assert result.train_steps == 4 and result.train_tokens > 0, "what training did is kept"


def test_a_trial_whose_optimizer_would_see_another_batch_fails_before_its_first_step(
    tmp_path: Path, monkeypatch
) -> None:
    """A process that sees two GPUs makes transformers wrap the model in DataParallel, doubling the batch: the real
    Trainer's arguments say so, and the trial is recorded failed, untrained, with both numbers."""
    from transformers import TrainingArguments

    spec = spec_from_dict(micro_spec_dict(tmp_path / "run"))
    monkeypatch.setattr(TrainingArguments, "n_gpu", property(lambda self: 2))
    params = spec.trial_params(1e-3, 8, 0)
    result = trial_module.run_trial(spec, prepare_sweep(spec), params, tmp_path / "trial")
    assert result.status is TrialStatus.FAILED and result.train_steps == 0
    assert "the optimizer would see batches of 16 sequences" in result.error
    assert "not the grid's batch size 8" in result.error


def test_a_lora_trial_records_its_condition_saves_its_adapter_and_scores_the_merged_model(tmp_path: Path) -> None:
    from torch.nn import Linear

    from trials.adapter import whole_model
    from trials.cache import cache_root
    from trials.evaluate import evaluate_model
    from trials.model import load_model, load_tokenizer
    from trials.prepare import saved_model_dir

    lora = {"rank": 8, "alpha": 16.0, "save_merged": True}
    spec = spec_from_dict(micro_spec_dict(tmp_path / "run", **{"training.lora": lora, "training.save_model": True}))
    prepared = prepare_sweep(spec)
    base = load_model(prepared.model_path, spec.model)
    params = spec.trial_params(1e-2, 8, 0)
    result = trial_module.run_trial(spec, prepared, params, tmp_path / "trial")
    assert result.status is TrialStatus.OK and all(math.isfinite(score.score) for score in result.scores)

    condition = result.condition
    assert (condition.adapter, condition.lora_rank) == ("lora", 8)
    assert condition.model_parameters == base.num_parameters() > 0, "the base model's count, before the adapter"
    # all-linear: r x (in + out) for every linear layer but the output head
    adapter = sum(8 * (m.in_features + m.out_features) for n, m in base.named_modules() if isinstance(m, Linear))
    head = base.get_output_embeddings()
    assert condition.trainable_parameters == adapter - 8 * (head.in_features + head.out_features)

    saved = saved_model_dir(spec.resolved_output_dir(), params.trial_id)
    assert (saved / "adapter_model.safetensors").is_file() and not (saved / "model.safetensors").exists()
    merged = load_model(str(saved / "merged"), spec.model)
    changed = [n for n, p in merged.named_parameters() if not torch.equal(p, base.get_parameter(n))]
    assert changed and all("proj" in name for name in changed), "the adapter merged into the linear layers alone"
    assert whole_model(saved, spec.model, cache_root()) == saved / "merged", "model.from_sweep takes the merged copy"
    rescored = evaluate_model(merged, load_tokenizer(prepared.tokenizer_path, spec), spec.evaluation)
    assert [s.score for s in rescored] == [s.score for s in result.scores], "the trial scored the merged model"

    # Without the merged copy, a later sweep merges the adapter into its base model itself, to the same weights.
    (saved / "merged").rename(tmp_path / "merged")
    rebuilt = load_model(str(whole_model(saved, spec.model, cache_root())), spec.model)
    for name, parameter in merged.named_parameters():
        torch.testing.assert_close(rebuilt.get_parameter(name), parameter, msg=name)


def test_lora_target_modules_the_model_lacks_stop_the_sweep_before_any_trial(tmp_path: Path) -> None:
    from contract.errors import SweeperError

    lora = {"target_modules": ["q_proj", "vproj"]}
    spec = spec_from_dict(micro_spec_dict(tmp_path / "run", **{"training.lora": lora}))
    with pytest.raises(SweeperError, match=r"training.lora.target_modules: \['vproj'\] match no module") as caught:
        prepare_sweep(spec)
    assert "'v_proj'" in str(caught.value) and "all-linear" in str(caught.value), "the names it does have, the fix"
