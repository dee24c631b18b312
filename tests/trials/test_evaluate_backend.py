"""The vLLM evaluation backend without a GPU: lm-eval's `vllm` model is replaced by a stand-in that receives the
same `model_args` and loads `pretrained` with transformers (HFLM), so the saved folder, the arguments vLLM would get
and the scores that come back are real; only the engine is not."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lm_eval
import pytest
import torch
from lm_eval.models.huggingface import HFLM

from contract.errors import SpecError
from contract.spec import SweepSpec, spec_from_dict
from contract.store import TaskScore
from sweeper.checks import check_spec
from tests.conftest import micro_spec_dict
from trials.demo.data import pretraining_corpus
from trials.demo.tokenizer import train_demo_tokenizer
from trials.evaluate import VLLM_MODEL_DIR, evaluate_base, evaluate_trained
from trials.model import build_tiny_llama, load_tokenizer

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 2, "max_position_embeddings": 256, "tie_word_embeddings": True}  # fmt: skip
# Two num_fewshot groups (0 and the task's own): two simple_evaluate calls, which must share one vLLM engine.
TASKS = [
    {"task": "demo_addition", "category": "reasoning", "metric": "exact_match", "filter": "strict-match",
     "num_fewshot": 0},
    {"task": "demo_continuation_mc", "category": "pattern", "metric": "acc"},
]  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer():
    return train_demo_tokenizer(pretraining_corpus(300, seed=0), vocab_size=300)


@pytest.fixture
def model(tokenizer):
    torch.manual_seed(0)
    return build_tiny_llama(TINY, len(tokenizer))


def _spec(tmp_path: Path, **changes: Any) -> SweepSpec:
    changes = {"evaluation.tasks": TASKS, "evaluation.limit": 8, **changes}
    return spec_from_dict(micro_spec_dict(tmp_path / "run", **changes))


@pytest.fixture
def vllm_builds(monkeypatch) -> list[dict[str, Any]]:
    """Every lm-eval `vllm` model built, with its arguments, what it loaded, and each simple_evaluate it served."""
    builds: list[dict[str, Any]] = []

    class StandInVLLM(HFLM):
        def __init__(self, *, gpu_memory_utilization: float, max_model_len: int | None, **model_args: Any) -> None:
            revision = model_args.pop("revision")
            super().__init__(**model_args, revision=revision or "main", device="cpu")
            folder = Path(model_args["pretrained"])
            builds.append(
                {
                    **model_args,
                    "revision": revision,
                    "gpu_memory_utilization": gpu_memory_utilization,
                    "max_model_len": max_model_len,
                    "files": sorted(path.name for path in folder.iterdir()),
                    "loaded": self.model,
                    "chat_template": self.tokenizer.chat_template,
                    "served": [],
                }
            )

    def get_model(name: str):
        assert name == "vllm"
        return StandInVLLM

    real_simple_evaluate = lm_eval.simple_evaluate

    def simple_evaluate(**arguments: Any):
        if isinstance(arguments["model"], StandInVLLM):
            builds[-1]["served"].append(arguments["model"])
        return real_simple_evaluate(**arguments)

    monkeypatch.setattr("lm_eval.api.registry.get_model", get_model)
    monkeypatch.setattr("lm_eval.simple_evaluate", simple_evaluate)
    return builds


def _assert_same_scores(scores: tuple[TaskScore, ...], expected: tuple[TaskScore, ...]) -> None:
    assert [(s.task, s.category, s.metric) for s in scores] == [(t["task"], t["category"], t["metric"]) for t in TASKS]
    assert [(s.task, s.category, s.metric) for s in scores] == [(e.task, e.category, e.metric) for e in expected]
    assert all(0.0 <= s.score <= 1.0 for s in scores), scores
    assert [s.score for s in scores] == pytest.approx([e.score for e in expected])
    assert [math.isnan(s.stderr) for s in scores] == [math.isnan(e.stderr) for e in expected]


def test_vllm_backend_serves_the_saved_trained_model_and_scores_like_hf(model, tokenizer, tmp_path, vllm_builds):
    hf_scores = evaluate_trained(model, tokenizer, _spec(tmp_path), tmp_path / "hf_trial")
    assert vllm_builds == [], "backend hf never builds a vLLM model"

    spec = _spec(tmp_path, **{"evaluation.backend": "vllm", "resources.gpus": 0.25})
    scores = evaluate_trained(model, tokenizer, spec, tmp_path / "trial")

    [build] = vllm_builds
    folder = tmp_path / "trial" / VLLM_MODEL_DIR
    assert build["pretrained"] == build["tokenizer"] == str(folder), "model and tokenizer saved once, together"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(build["files"])
    loaded = build["loaded"].state_dict()
    for name, trained in model.state_dict().items():
        assert torch.equal(trained, loaded[name]), f"{name}: the folder must hold the trained weights"
    assert build["gpu_memory_utilization"] == pytest.approx(0.9 * 0.25), "0.9 × the trial's quarter of the GPU"
    assert build["dtype"] == "auto" and build["batch_size"] == spec.evaluation.batch_size
    assert len(build["served"]) == 2 and build["served"][0] is build["served"][1], "one engine for both groups"
    assert not folder.exists(), "the per-trial copy is removed once scored"
    assert next(model.parameters()).device.type == "cpu"
    _assert_same_scores(scores, hf_scores)


def test_vllm_serves_the_model_saved_for_keeps_without_a_second_copy(model, tokenizer, tmp_path, vllm_builds):
    """With training.save_model the trial has already saved the model: vLLM serves that folder, which stays."""
    kept = tmp_path / "models" / "lr1e-03_bs4_s0"
    model.save_pretrained(kept)
    tokenizer.save_pretrained(kept)
    spec = _spec(tmp_path, **{"evaluation.backend": "vllm", "resources.gpus": 0.5})
    evaluate_trained(model, tokenizer, spec, tmp_path / "trial", saved=kept)
    [build] = vllm_builds
    assert build["pretrained"] == build["tokenizer"] == str(kept)
    assert not (tmp_path / "trial" / VLLM_MODEL_DIR).exists(), "no second copy of the model"
    assert (kept / "model.safetensors").is_file(), "the kept model is not deleted after scoring"


def test_vllm_baseline_serves_the_base_folder_as_it_is(model, tokenizer, tmp_path, vllm_builds):
    base = tmp_path / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    changes = {"data.chat_template": template, "model.revision": "v1"}
    spec = _spec(tmp_path, **changes, **{"evaluation.backend": "vllm", "resources.gpus": 1})
    tokenizer = load_tokenizer(str(base), spec)  # as the baseline gets it: with the data spec's chat template

    scores = evaluate_base(str(base), tokenizer, spec)

    [build] = vllm_builds
    assert build["pretrained"] == str(base) and build["tokenizer"] != str(base), "no copy of the base model"
    assert build["chat_template"] == template, "vLLM sees the tokenizer the trials use"
    assert build["revision"] is None, "a tiny model is a local folder, not a hub revision"
    assert build["gpu_memory_utilization"] == pytest.approx(0.9)
    _assert_same_scores(scores, evaluate_base(str(base), tokenizer, _spec(tmp_path, **changes)))


@pytest.mark.parametrize(
    ("configured", "gpus", "share"),
    [(None, 0.25, 0.225), (None, 0.5, 0.45), (None, 2, 0.9), (0.3, 0.25, 0.3)],
)
def test_vllm_memory_share_follows_the_trial_gpu_fraction(tmp_path, configured, gpus, share) -> None:
    spec = _spec(tmp_path, **{"evaluation.vllm_gpu_memory_utilization": configured})
    assert spec.evaluation.gpu_memory_utilization(gpus) == pytest.approx(share)


def test_vllm_memory_share_above_one_gpu_is_a_spec_error(tmp_path) -> None:
    with pytest.raises(SpecError) as error:
        _spec(tmp_path, **{"evaluation.vllm_gpu_memory_utilization": 1.5})
    assert any(p.startswith("evaluation.vllm_gpu_memory_utilization:") for p in error.value.problems)


GPU_OPTIONS = [("evaluation.backend", "vllm", "vllm"), ("training.liger_kernel", True, "liger_kernel")]


@pytest.mark.parametrize("installed", [False, True])
@pytest.mark.parametrize(("field", "value", "package"), GPU_OPTIONS)
def test_gpu_options_are_checked_against_this_machine(tmp_path, monkeypatch, installed, field, value, package) -> None:
    """Not installed (as on this machine): fatal for a run here, only unchecked for `sweeper validate`."""
    monkeypatch.setattr("sweeper.checks.find_spec", lambda name: object() if installed else None)
    spec = _spec(tmp_path, **{field: value, "resources.gpus": 0.25})
    report = check_spec(spec, for_this_machine=False)
    deferred = [line for line in report.unchecked if line.startswith(f"{field}:")]
    if not installed:
        assert deferred and "ratio-sweeper[gpu]" in deferred[0] and "fine if you run elsewhere" in deferred[0]
        with pytest.raises(SpecError) as error:
            check_spec(spec)
        assert any(p.startswith(f"{field}: {package} is not installed") for p in error.value.problems)
    else:
        assert deferred == []


@pytest.mark.parametrize(("field", "value", "package"), GPU_OPTIONS)
def test_gpu_options_without_a_gpu_fail_on_every_machine(tmp_path, monkeypatch, field, value, package) -> None:
    monkeypatch.setattr("sweeper.checks.find_spec", lambda name: object())
    spec = _spec(tmp_path, **{field: value, "resources.gpus": 0})
    with pytest.raises(SpecError) as error:
        check_spec(spec, for_this_machine=False)
    assert error.value.problems == [f"{field}: needs a GPU; set resources.gpus > 0, or turn it off"]
    check_spec(_spec(tmp_path, **{"resources.gpus": 0}))  # both off on a CPU machine is fine


@pytest.mark.parametrize("save_merged", [False, True], ids=["adapter_only", "merged_kept"])
def test_vllm_serves_a_lora_trials_merged_model_never_its_adapter(tmp_path, vllm_builds, save_merged: bool) -> None:
    """vLLM takes no peft model: a LoRA trial's scoring serves the merged model, the one kept under merged/ or a copy
    saved for the run, while the trial's own folder holds the adapter."""
    from contract.store import TrialStatus
    from trials.prepare import prepare_sweep, saved_model_dir
    from trials.trial import run_trial

    lora = {"rank": 4, "save_merged": save_merged}
    changes = {"evaluation.backend": "vllm", "resources.gpus": 0.25, "training.lora": lora, "training.save_model": True}
    spec = _spec(tmp_path, **changes)
    params = spec.trial_params(1e-2, 8, 0)
    result = run_trial(spec, prepare_sweep(spec), params, tmp_path / "trial")
    assert result.status is TrialStatus.OK

    [build] = vllm_builds
    saved = saved_model_dir(spec.resolved_output_dir(), params.trial_id)
    assert build["pretrained"] == str(saved / "merged" if save_merged else tmp_path / "trial" / VLLM_MODEL_DIR)
    assert "model.safetensors" in build["files"] and "adapter_config.json" not in build["files"]
    assert (saved / "adapter_config.json").is_file() and (saved / "merged").is_dir() == save_merged
