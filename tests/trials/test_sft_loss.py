"""The SFT trial's loss: TRL's loss and gradient, with the LM head run on the labelled positions only."""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import pytest
import torch
import trl.trainer.utils as trl_utils
from trl import SFTTrainer

from contract.spec import TrialParams, spec_from_dict
from tests.conftest import micro_spec_dict
from tests.trials.conftest import DEVICE_READS, TINY
from trials import sft_loss
from trials.data import IGNORE_INDEX
from trials.model import build_tiny_llama
from trials.train import build_trainer


def _trainer_and_batch(tokenizer, dataset, tmp_path: Path, **training):
    torch.manual_seed(0)
    model = build_tiny_llama(TINY, len(tokenizer))
    raw = micro_spec_dict(tmp_path, training={"max_steps": 1, "max_length": 64, **training})
    trainer, *_ = build_trainer(spec_from_dict(raw), TrialParams(1e-3, 8, 0, 8, 1), model, tokenizer, dataset, tmp_path)
    trainer.model.train()
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    return trainer, batch


def _loss_and_gradient(compute_loss, trainer, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    trainer.model.zero_grad()
    labelled = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
    loss = compute_loss(trainer, trainer.model, dict(batch), num_items_in_batch=labelled)
    loss.backward()
    gradients = {name: p.grad.clone() for name, p in trainer.model.named_parameters() if p.grad is not None}
    return loss.detach(), gradients


LORA = {"rank": 4, "alpha": 8.0}


@pytest.mark.parametrize(
    ("training", "trl_selects"),
    [({}, False), ({"padding_free": True}, False), ({"lora": LORA}, False), ({}, True)],
    ids=["padded", "padding_free", "lora", "where_trl_selects"],
)
def test_the_trial_takes_trls_loss_and_gradient_scoring_only_the_labelled_positions(
    tokenizer, dataset, tmp_path: Path, monkeypatch, training: dict, trl_selects: bool
) -> None:
    """The trial's loss and gradient equal TRL's `SFTTrainer.compute_loss` on the same micro-batch, while the LM head
    projects only the positions whose next token has a label (TRL on a CPU projects them all). Where TRL selects
    them itself (a GPU; here the CPU made to count as one), the trial leaves the positions to TRL."""
    if trl_selects:
        monkeypatch.setattr(sft_loss, "TRL_SELECTS_ON", ("cpu",))
    trainer, batch = _trainer_and_batch(tokenizer, dataset, tmp_path, **training)
    projected = []
    kernel = trl_utils._ChunkedLogProbFunction

    class Counted(kernel):
        @staticmethod
        def forward(ctx, hidden, *args):
            projected.append(hidden.shape[0])
            return kernel.forward(ctx, hidden, *args)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Counted)
    ours, our_gradient = _loss_and_gradient(type(trainer).compute_loss, trainer, batch)
    trls, trls_gradient = _loss_and_gradient(SFTTrainer.compute_loss, trainer, batch)

    labelled = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    positions = batch["labels"][:, 1:].numel()
    assert projected == [positions if trl_selects else labelled, positions], "TRL's head projects every position here"
    assert labelled < positions / 2, f"the prompts and padding are most positions ({labelled} of {positions} labelled)"
    torch.testing.assert_close(ours, trls, rtol=1e-5, atol=1e-6)
    assert our_gradient.keys() == trls_gradient.keys() and our_gradient
    for name, gradient in our_gradient.items():
        torch.testing.assert_close(gradient, trls_gradient[name], rtol=1e-4, atol=1e-6, msg=f"{name} differs")


def test_a_micro_batch_without_labels_gives_a_zero_loss_that_backpropagates(tokenizer, dataset, tmp_path) -> None:
    trainer, batch = _trainer_and_batch(tokenizer, dataset, tmp_path)
    batch["labels"] = torch.full_like(batch["labels"], IGNORE_INDEX)
    loss, gradient = _loss_and_gradient(type(trainer).compute_loss, trainer, batch)
    assert loss.item() == 0.0
    assert all(torch.count_nonzero(g) == 0 for g in gradient.values())


@pytest.mark.parametrize(("loss", "reads"), [("trial", False), ("trl", True)])
def test_the_trials_loss_reads_nothing_to_the_host(tokenizer, dataset, tmp_path, monkeypatch, loss, reads) -> None:
    """Tensor -> Python reads asked for by the loss's own code (TRL's or this project's; the model's are
    transformers') over 3 micro-batches: none in the trial's; TRL's metrics and token count show the count would see
    one."""
    trainer, batch = _trainer_and_batch(tokenizer, dataset, tmp_path, padding_free=True)
    compute_loss = type(trainer).compute_loss if loss == "trial" else SFTTrainer.compute_loss
    readers = []
    torch_files = str(Path(torch.__file__).parent)
    for name in DEVICE_READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            caller = next(f for f in reversed(traceback.extract_stack()[:-1]) if not f.filename.startswith(torch_files))
            readers.append(caller.filename)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    for _ in range(3):
        compute_loss(trainer, trainer.model, dict(batch), num_items_in_batch=torch.tensor(10))
    monkeypatch.undo()
    ours = [name for name in readers if f"{os.sep}trl{os.sep}" in name or f"{os.sep}trials{os.sep}" in name]
    assert bool(ours) is reads, f"reads by the loss's code over 3 micro-batches: {ours}"
