"""An optimizer step's examples dealt into micro-batches by length: the same steps, on fewer padded positions."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from contract.spec import TrialParams, spec_from_dict
from tests.conftest import micro_spec_dict
from tests.trials.conftest import TINY
from trials import micro_batches
from trials.micro_batches import LengthSortedSteps
from trials.model import build_tiny_llama
from trials.train import build_trainer


class EpochCounted(list):
    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def test_each_step_keeps_its_examples_in_order_of_length() -> None:
    lengths = [5, 1, 4, 2, 3, 9, 7, 8, 6, 0]
    order = EpochCounted([9, 3, 0, 7, 1, 8, 2, 6, 5, 4])
    sampler = LengthSortedSteps(order, lengths, step_examples=4)

    dealt = list(sampler)

    assert len(sampler) == len(dealt) == len(order)
    for start in (0, 4, 8):  # two whole steps and the last, shorter one
        step = dealt[start : start + 4]
        assert sorted(step) == sorted(order[start : start + 4]), "a step keeps the examples the trainer drew for it"
        assert [lengths[i] for i in step] == sorted(lengths[i] for i in step)
    sampler.set_epoch(3)
    assert order.epoch == 3, "the trainer's reshuffle each epoch reaches the sampler it wraps"


def _trained(tokenizer, data, tmp_path: Path, method: str) -> tuple[list[int], dict[str, torch.Tensor], list[float]]:
    """Three steps of two micro-batches (SFT: 8 x 2, DPO: 4 x 2 pairs): the positions each forward pass of the policy
    ran on, how far each weight moved and the logged losses."""
    torch.manual_seed(0)
    model = build_tiny_llama(TINY, len(tokenizer))
    training = {"max_steps": 3, "max_length": 64, "logging_steps": 1, "warmup_ratio": 0, "optim": "sgd"}
    raw = micro_spec_dict(tmp_path, method=method, training=training | ({"beta": 0.1} if method == "dpo" else {}))
    params = TrialParams(0.5, 16, 0, 8, 2) if method == "sft" else TrialParams(0.5, 8, 0, 4, 2)
    trainer, *_ = build_trainer(spec_from_dict(raw), params, model, tokenizer, data, tmp_path)
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    positions = []
    model.register_forward_pre_hook(lambda module, args, kwargs: positions.append(kwargs["input_ids"].numel()),
                                    with_kwargs=True)  # fmt: skip
    trainer.train()
    steps = {name: p.detach() - start[name] for name, p in model.named_parameters()}
    return positions, steps, [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_a_padded_trial_takes_the_same_steps_on_fewer_padded_positions(
    tokenizer, dataset, pairs, tmp_path: Path, monkeypatch, method: str
) -> None:
    """Against the trainer's own split of the same steps (its random order within each step), the trial's
    micro-batches run on fewer positions, and the weights and losses after three steps are the same. The steps are
    SGD's, which moves each weight by its gradient: AdamW's normalisation turns float rounding in a gradient near zero
    into a whole step of either sign."""
    data = dataset if method == "sft" else pairs
    positions, steps, losses = _trained(tokenizer, data, tmp_path / "sorted", method)
    monkeypatch.setattr(micro_batches, "LengthSortedSteps", lambda order, lengths, step_examples: order)
    random_positions, random_steps, random_losses = _trained(tokenizer, data, tmp_path / "random", method)

    assert len(positions) == len(random_positions) == 6
    assert sum(positions) < 0.95 * sum(random_positions), f"{positions} vs the random split's {random_positions}"
    torch.testing.assert_close(losses, random_losses, rtol=1e-5, atol=0)
    moved = max(step.abs().max() for step in random_steps.values())
    assert moved > 1e-3, "the steps must change the weights"
    for name, step in steps.items():
        torch.testing.assert_close(step, random_steps[name], rtol=1e-4, atol=1e-5 * moved, msg=f"{name} differs")


def test_a_step_of_one_micro_batch_keeps_its_rows_in_the_trainers_order(tokenizer, dataset, tmp_path: Path) -> None:
    """Nothing to deal: the rows keep their order, and so a one-micro-batch step keeps its float rounding."""
    model = build_tiny_llama(TINY, len(tokenizer))
    raw = micro_spec_dict(tmp_path, training={"max_steps": 1, "max_length": 64})
    trainer, *_ = build_trainer(spec_from_dict(raw), TrialParams(1e-3, 8, 0, 8, 1), model, tokenizer, dataset, tmp_path)
    assert not isinstance(trainer.get_train_dataloader().get_sampler(), LengthSortedSteps)
