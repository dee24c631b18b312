"""Training at a grid point: accumulation equals a bigger batch, loss masking, divergence is caught; the same for a
LoRA adapter, and DPO with LoRA against the base model as its reference."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from datasets import load_from_disk
from transformers import TrainerControl, TrainerState

from contract.spec import DataSpec, SweepSpec, TrialParams, spec_from_dict
from tests.conftest import micro_spec_dict
from tests.trials.conftest import DEVICE_READS, TINY
from trials import train as train_module
from trials.data import IGNORE_INDEX, PAIR_COLUMNS, prepare_data, row_lengths
from trials.model import build_tiny_llama
from trials.train import CLOCK_FILE, DivergenceGuard, TrainingClock, build_trainer, train

LORA = {"rank": 4, "alpha": 8.0}


def _spec(tmp_path: Path, method: str = "sft", **training) -> SweepSpec:
    """The micro spec with this `training` section: the trainer reads the spec's `method` and `training` only."""
    return spec_from_dict(micro_spec_dict(tmp_path, method=method, training=training))


def _train(tokenizer, dataset, tmp_path: Path, params: TrialParams, steps: int, **training):
    torch.manual_seed(0)
    model = build_tiny_llama(TINY, len(tokenizer))
    spec = _spec(tmp_path, **{"max_steps": steps, "max_length": 64, "logging_steps": 1, **training})
    trainer = build_trainer(spec, params, model, tokenizer, dataset, tmp_path)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}  # with LoRA, the adapter's too
    return model, before, train(*trainer)


def test_prepared_data_masks_the_prompt(tokenizer, dataset) -> None:
    example = dataset[0]
    labels = example["labels"]
    assert labels[0] == IGNORE_INDEX, "the prompt (`Q: ...`) carries no loss"
    trained = tokenizer.decode([t for t in labels if t != IGNORE_INDEX])
    full = tokenizer.decode(example["input_ids"])
    assert full.endswith(trained.strip() + "</s>\n") or trained.strip().endswith("</s>")
    assert "Q:" not in trained


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_prepared_data_counts_every_token_of_its_rows(tokenizer, tmp_path: Path, method: str) -> None:
    """The prepared token count (and the trial's row lengths) are read from Arrow's list lengths, also through a
    selected view of the rows: the same as decoding each row."""
    prepared = prepare_data(DataSpec(source="demo", num_examples=48), method, tokenizer, 64, tmp_path)
    dataset = load_from_disk(str(prepared.path))
    columns = PAIR_COLUMNS if method == "dpo" else ("input_ids",)
    assert prepared.num_tokens == sum(len(row[column]) for row in dataset for column in columns) > 0
    kept = dataset.select(range(1, len(dataset), 3))
    assert 0 < len(kept) < len(dataset) and kept._indices is not None, "a view through an indices mapping"
    assert row_lengths(kept, columns[0]) == [len(row[columns[0]]) for row in kept]


@pytest.mark.parametrize(
    ("micro_batch", "accumulation", "training"),
    [(2, 4, {}), (8, 1, {"padding_free": True}), (2, 4, {"padding_free": True}), (2, 4, {"lora": LORA})],
    ids=["accumulation", "padding_free", "padding_free_accumulated", "lora_accumulated"],
)
def test_same_update_as_one_padded_batch(tokenizer, dataset, tmp_path, micro_batch, accumulation, training) -> None:
    """A batch of 8 examples must take the same step however it is laid out: 8 padded rows at once, 2 x 4 with
    accumulation (transformers#37766: loss normalised per micro-batch instead of per token of the whole batch), or
    concatenated padding-free rows with position_ids (attention must not cross from one example into the next).

    Plain SGD, so the step is the gradient itself: Adam's first step is ~lr x sign(gradient), which would turn
    float noise in near-zero gradients into full-size differences and hide (or fake) a real mismatch. A LoRA
    adapter is compared with the same adapter trained on the 8 padded rows."""
    adapter = {"lora": training["lora"]} if "lora" in training else {}
    whole_batch = TrialParams(1.0, 8, 0, 8, 1)
    padded = {"padding_free": False, **adapter}
    one, start, _ = _train(tokenizer, dataset, tmp_path / "a", whole_batch, steps=1, optim="sgd", **padded)
    params = TrialParams(1.0, 8, 0, micro_batch, accumulation)
    four, _, _ = _train(tokenizer, dataset, tmp_path / "b", params, steps=1, optim="sgd", **training)
    moved = max((p - start[n]).abs().max().item() for n, p in one.named_parameters())
    assert moved > 1e-4, "the step must actually change the weights"
    for (name, p_one), (_, p_four) in zip(one.named_parameters(), four.named_parameters()):
        torch.testing.assert_close(p_one, p_four, atol=2e-5, rtol=1e-4, msg=f"{name} differs")


@pytest.mark.parametrize("adapter", [{}, {"lora": LORA}], ids=["full", "lora"])
def test_a_crashed_run_resumes_from_its_checkpoint_and_ends_where_an_unbroken_run_does(
    tokenizer, dataset, tmp_path: Path, monkeypatch, adapter: dict
) -> None:
    params = TrialParams(1e-3, 4, 0, 2, 2)
    training = {"checkpoint_steps": 4, **adapter}
    unbroken, _, whole = _train(tokenizer, dataset, tmp_path / "unbroken", params, steps=8, **training)

    class Crash(RuntimeError):
        pass

    class CrashAtStep6(DivergenceGuard):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 6:
                raise Crash

    folder = tmp_path / "broken"
    monkeypatch.setattr(train_module, "DivergenceGuard", CrashAtStep6)
    with pytest.raises(Crash):
        _train(tokenizer, dataset, folder, params, steps=8, **training)
    assert [path.name for path in folder.glob("checkpoint-*")] == ["checkpoint-4"]
    saved = {path.name for path in (folder / "checkpoint-4").iterdir()}
    assert ("adapter_model.safetensors" in saved) == bool(adapter), "a LoRA checkpoint holds its adapter"
    monkeypatch.undo()
    clock = json.loads((folder / "checkpoint-4" / "trial_clock.json").read_text())["train_seconds"]
    resumed, _, outcome = _train(tokenizer, dataset, folder, params, steps=8, **training)
    assert outcome.steps == 8
    assert outcome.seconds > clock > 0, "a resumed trial's training time counts the checkpoint's steps too"
    assert outcome.tokens == whole.tokens > 0, "so do its tokens"
    assert outcome.loss_history == pytest.approx(whole.loss_history, rel=1e-4), "steps 1-4 restored, 5-8 retrained"
    for (name, p_whole), (_, p_resumed) in zip(unbroken.named_parameters(), resumed.named_parameters()):
        torch.testing.assert_close(p_whole, p_resumed, atol=1e-5, rtol=1e-4, msg=f"{name} differs")


def test_only_rank_0_writes_the_checkpoints_clock_and_it_appears_whole(tmp_path: Path, monkeypatch) -> None:
    """Every data-parallel worker saves into the same checkpoint folder: two ranks writing the clock in place could
    interleave and leave it unreadable for the resume. Rank 0 writes it, aside, then renames it into place."""
    clock = TrainingClock(lambda: 1234)
    args = SimpleNamespace(output_dir=str(tmp_path))
    checkpoint = tmp_path / "checkpoint-4"
    checkpoint.mkdir()
    clock.on_save(args, TrainerState(global_step=4, is_world_process_zero=False), TrainerControl())
    assert list(checkpoint.iterdir()) == [], "another rank writes nothing"

    renamed = []
    rename = os.replace

    def watched_rename(source, target) -> None:
        assert not Path(target).exists(), "the clock is not written in place"
        renamed.append((Path(target), json.loads(Path(source).read_text())["train_tokens"]))
        rename(source, target)

    monkeypatch.setattr(os, "replace", watched_rename)
    clock.on_save(args, TrainerState(global_step=4, is_world_process_zero=True), TrainerControl())
    assert renamed == [(checkpoint / CLOCK_FILE, 1234)], "a whole clock, renamed into place"
    assert [path.name for path in checkpoint.iterdir()] == [CLOCK_FILE]


def test_every_token_is_counted_whatever_the_logging_interval(tokenizer, dataset, tmp_path: Path) -> None:
    params = TrialParams(1e-3, 4, 0, 2, 2)
    _, _, every_step = _train(tokenizer, dataset, tmp_path / "a", params, steps=5)
    _, _, sparse = _train(tokenizer, dataset, tmp_path / "b", params, steps=5, logging_steps=4)
    assert sparse.tokens == every_step.tokens > 0, "step 5 is not a logging step, its tokens count all the same"


@pytest.mark.parametrize(
    ("attention", "setting", "expected"),
    [(None, None, False), ("sdpa", None, False), ("flash_attention_2", None, True), ("sdpa", True, True),
     ("flash_attention_2", False, False)],
)  # fmt: skip
def test_padding_free_by_default_where_the_attention_has_varlen_kernels(
    tmp_path: Path, attention: str | None, setting: bool | None, expected: bool
) -> None:
    raw = micro_spec_dict(tmp_path, **{"model.attn_implementation": attention, "training.padding_free": setting})
    assert train_module.padding_free(spec_from_dict(raw)) is expected


def test_absurd_learning_rate_is_stopped_as_diverged(tokenizer, dataset, tmp_path: Path) -> None:
    _, _, outcome = _train(tokenizer, dataset, tmp_path, TrialParams(1e4, 4, 0, 4, 1), steps=12)
    assert outcome.divergence, "a run at lr=1e4 must be flagged"
    assert outcome.steps < 12, "a diverged run is stopped early, not trained to the end"
    assert outcome.loss_history, "its partial loss curve is kept"


class PoisonAtStep3(DivergenceGuard):
    """A real Trainer whose weights turn NaN after step 3: its next losses are NaN."""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step == 3:
            with torch.no_grad():
                next(model.parameters()).fill_(math.nan)


def test_a_nan_loss_is_caught_even_without_a_grad_norm(tokenizer, dataset, tmp_path: Path, monkeypatch) -> None:
    """The trainer's logging_nan_inf_filter would log the running mean in place of a NaN loss, and a run without
    gradient clipping logs no grad norm: the guard must still see the NaN, and not call the run collapsed."""
    monkeypatch.setattr(train_module, "DivergenceGuard", PoisonAtStep3)
    _, _, outcome = _train(tokenizer, dataset, tmp_path, TrialParams(1e-3, 4, 0, 4, 1), steps=10, max_grad_norm=0)
    assert "non-finite loss nan" in outcome.divergence
    assert outcome.steps == 4, "stopped at the first NaN"


@pytest.mark.parametrize(("logging_steps", "stopped_at"), [(1, 4), (3, 6), (5, 5)])
def test_a_nan_is_caught_at_the_first_logging_step_that_sees_it(
    tokenizer, dataset, tmp_path: Path, monkeypatch, logging_steps: int, stopped_at: int
) -> None:
    """The bound the guard keeps while reading nothing from the device itself: the weights turn NaN after step 3, so
    step 4's loss is the first NaN, and the run stops at the first logging step from 4 on (steps 1, L, 2L, ...)."""
    monkeypatch.setattr(train_module, "DivergenceGuard", PoisonAtStep3)
    params = TrialParams(1e-3, 4, 0, 4, 1)
    _, _, outcome = _train(tokenizer, dataset, tmp_path, params, steps=12, logging_steps=logging_steps)
    assert "non-finite" in outcome.divergence
    assert outcome.steps == stopped_at


class ReadsTheWeightsEveryStep(DivergenceGuard):
    """A guard that reads a device value every step (a norm, as a float): what the check below must catch."""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.last_norm = float(torch.linalg.vector_norm(next(model.parameters())))


@pytest.mark.parametrize(
    ("guard", "per_step"), [(None, False), (ReadsTheWeightsEveryStep, True)], ids=["trial", "planted_reader"]
)
def test_no_callback_of_a_trial_reads_a_device_value_every_step(
    tokenizer, dataset, tmp_path: Path, monkeypatch, guard, per_step: bool
) -> None:
    """Every tensor -> Python read made while one of the trial's own callbacks (guard, clock) runs is counted, over 8
    real steps logged every 4: the trial's callbacks work from what the trainer logs, so they read nothing; a planted
    callback that reads a value each step shows the count would catch one."""
    if guard is not None:
        monkeypatch.setattr(train_module, "DivergenceGuard", guard)
    inside, reads = [False], []
    for name in DEVICE_READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if inside[0]:
                reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    torch.manual_seed(0)
    model = build_tiny_llama(TINY, len(tokenizer))
    spec = _spec(tmp_path, max_steps=8, max_length=64, logging_steps=4)
    trainer, *callbacks = build_trainer(spec, TrialParams(1e-3, 4, 0, 2, 2), model, tokenizer, dataset, tmp_path)
    for callback in callbacks:
        for event in [name for name in dir(callback) if name.startswith("on_")]:
            setattr(callback, event, _flagged(getattr(callback, event), inside))
    outcome = train(trainer, *callbacks)
    assert outcome.steps == 8 and outcome.divergence == ""
    assert (len(reads) >= 8) is per_step, f"device reads from the trial's callbacks over 8 steps: {reads}"


def _flagged(method, inside: list[bool]):
    """`method`, with inside[0] true while it runs."""

    def flagged(*args, **kwargs):
        inside[0] = True
        try:
            return method(*args, **kwargs)
        finally:
            inside[0] = False

    return flagged


def test_a_run_without_gradient_clipping_is_not_collapsed(tokenizer, dataset, tmp_path: Path) -> None:
    _, _, outcome = _train(tokenizer, dataset, tmp_path, TrialParams(1e-3, 4, 0, 4, 1), steps=6, max_grad_norm=0)
    assert outcome.divergence == "" and outcome.steps == 6


def test_stable_run_reports_loss_and_throughput(tokenizer, dataset, tmp_path: Path) -> None:
    _, _, outcome = _train(tokenizer, dataset, tmp_path, TrialParams(1e-3, 4, 0, 4, 1), steps=6)
    assert outcome.divergence == ""
    assert outcome.steps == 6
    assert outcome.tokens_per_second > 0
    assert outcome.loss_history[-1] < outcome.loss_history[0] * 1.5


def test_dpo_trains_on_pairs_tokenized_once(tokenizer, pairs, tmp_path: Path) -> None:
    assert set(pairs.column_names) == {"prompt_ids", "chosen_ids", "rejected_ids"}
    first = pairs[0]
    assert tokenizer.decode(first["prompt_ids"]).startswith("Q: ")
    assert first["chosen_ids"] != first["rejected_ids"]
    torch.manual_seed(0)
    model = build_tiny_llama(TINY, len(tokenizer))
    spec = _spec(tmp_path, "dpo", max_steps=4, max_length=64, logging_steps=1, beta=0.1)
    params = TrialParams(1e-3, 4, 0, 2, 2)
    outcome = train(*build_trainer(spec, params, model, tokenizer, pairs, tmp_path / "out"))
    assert outcome.steps == 4 and outcome.divergence == ""
    assert all(math.isfinite(loss) for loss in outcome.loss_history)
    # sigmoid DPO starts at log(2): policy == reference
    assert outcome.loss_history[0] == pytest.approx(math.log(2), abs=1e-3)


@pytest.mark.parametrize("precompute_ref_log_probs", [False, True])
def test_dpo_with_lora_takes_the_base_model_with_its_adapter_disabled_as_reference(
    tokenizer, pairs, tmp_path: Path, precompute_ref_log_probs: bool
) -> None:
    """No copy of the model: the reference is the policy's own base, run with the adapter off (scored up front with
    precompute_ref_log_probs), so the loss starts at log(2), and only the adapter trains."""
    torch.manual_seed(0)
    model = build_tiny_llama(TINY, len(tokenizer))
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    spec = _spec(tmp_path, "dpo", max_steps=4, max_length=64, logging_steps=1, beta=0.1, lora=LORA,
                 precompute_ref_log_probs=precompute_ref_log_probs)  # fmt: skip
    trainer, guard, clock = build_trainer(spec, TrialParams(1e-2, 4, 0, 2, 2), model, tokenizer, pairs, tmp_path)
    assert trainer.ref_model is None, "no reference model beside the policy"
    assert ("ref_chosen_logps" in trainer.train_dataset.column_names) == precompute_ref_log_probs
    outcome = train(trainer, guard, clock)
    assert outcome.steps == 4 and outcome.divergence == ""
    assert outcome.loss_history[0] == pytest.approx(math.log(2), abs=1e-3)
    assert outcome.loss_history[-1] < math.log(2), "the adapter learns to prefer the chosen answers"
    base = {name.replace(".base_layer", ""): p for name, p in model.named_parameters() if "lora_" not in name}
    assert base.keys() == start.keys()
    assert all(torch.equal(p, start[name]) for name, p in base.items()), "the base weights stay frozen"


def test_preference_rows_without_a_prompt_column_split_at_the_shared_prefix(tokenizer, tmp_path: Path) -> None:
    """Tulu 3's preference mixture stores two whole conversations; the prompt is what they share."""
    rows = [
        {
            "chosen": [{"role": "user", "content": "1 plus 2?"}, {"role": "assistant", "content": "3"}],
            "rejected": [{"role": "user", "content": "1 plus 2?"}, {"role": "assistant", "content": "4"}],
        }
    ] * 4
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    prepared = prepare_data(DataSpec(source=str(path)), "dpo", tokenizer, 64, tmp_path / "cache")
    pair = load_from_disk(str(prepared.path))[0]
    assert tokenizer.decode(pair["prompt_ids"]) == "Q: 1 plus 2?\nA:"
    assert tokenizer.decode(pair["chosen_ids"]).strip().startswith("3")
    assert tokenizer.decode(pair["rejected_ids"]).strip().startswith("4")
