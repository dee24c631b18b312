"""An optimizer step's examples dealt into micro-batches by length: the same steps, on fewer padded positions."""

from __future__ import annotations

from pathlib import Path

import torch

from contract.spec import TrialParams, spec_from_dict
from tests.conftest import micro_spec_dict
from tests.trials.conftest import TINY
from trials import sft_loss
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


def _trained(tokenizer, dataset, tmp_path: Path) -> tuple[list[int], dict[str, torch.Tensor], list[float]]:
    """Three steps of batch 16 as micro-batches of 8 (accumulation 2): the positions each forward pass ran on, the
    trained weights and the logged losses."""
    torch.manual_seed(0)
    model = build_tiny_llama(TINY, len(tokenizer))
    raw = micro_spec_dict(tmp_path, training={"max_steps": 3, "max_length": 64, "logging_steps": 1, "warmup_ratio": 0})
    params = TrialParams(1e-2, 16, 0, 8, 2)
    trainer, *_ = build_trainer(spec_from_dict(raw), params, model, tokenizer, dataset, tmp_path)
    positions = []
    model.register_forward_pre_hook(lambda module, args, kwargs: positions.append(kwargs["input_ids"].numel()),
                                    with_kwargs=True)  # fmt: skip
    trainer.train()
    weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    return positions, weights, [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_a_padded_trial_takes_the_same_steps_on_fewer_padded_positions(
    tokenizer, dataset, tmp_path: Path, monkeypatch
) -> None:
    """Against the trainer's own split of the same steps (its random order within each step), the trial's
    micro-batches run on fewer positions, and the weights and losses after three AdamW steps are the same."""
    positions, weights, losses = _trained(tokenizer, dataset, tmp_path / "sorted")
    monkeypatch.setattr(sft_loss, "LengthSortedSteps", lambda order, lengths, step_examples: order)
    random_positions, random_weights, random_losses = _trained(tokenizer, dataset, tmp_path / "random")

    assert len(positions) == len(random_positions) == 6
    assert sum(positions) < 0.95 * sum(random_positions), f"{positions} vs the random split's {random_positions}"
    torch.testing.assert_close(losses, random_losses, rtol=1e-5, atol=0)
    moved = max((weights[name] - p).abs().max() for name, p in random_weights.items())
    assert moved > 0
    for name, weight in weights.items():
        torch.testing.assert_close(weight, random_weights[name], rtol=1e-4, atol=1e-6, msg=f"{name} differs")


def test_a_step_of_one_micro_batch_keeps_its_rows_in_the_trainers_order(tokenizer, dataset, tmp_path: Path) -> None:
    """Nothing to deal: the rows keep their order, and so a one-micro-batch step keeps its float rounding."""
    model = build_tiny_llama(TINY, len(tokenizer))
    raw = micro_spec_dict(tmp_path, training={"max_steps": 1, "max_length": 64})
    trainer, *_ = build_trainer(spec_from_dict(raw), TrialParams(1e-3, 8, 0, 8, 1), model, tokenizer, dataset, tmp_path)
    assert not isinstance(trainer.get_train_dataloader().get_sampler(), LengthSortedSteps)
