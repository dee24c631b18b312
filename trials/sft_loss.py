"""The SFT trial's trainer: TRL's `SFTTrainer`, its loss scored only where a token has a label.

TRL 1.16 computes the SFT loss through its fused LM head (chunked log-probabilities, no full logits). Where Triton
does not run (a CPU), that head projects *every* position onto the vocabulary, the prompt's and the padding's
included, and masks them out afterwards. On every device it also computes each micro-batch's entropy and top-1
accuracy, for metrics a sweep does not keep, and reads them and its token count to the host every micro-batch (on a
GPU, each read waits for the device). A sweep's SFT data is mostly prompt, so on a CPU most of the head's work was
thrown away (benchmarks/RESULTS.md).

`SweepSFTTrainer.compute_loss`:
- where TRL's head does not select the labelled positions itself (without Triton), hands it the hidden states of
  those positions only (whose next token has a label), with the labels shifted to match; on a GPU TRL selects them
  already, and a second selection would add a device wait;
- computes TRL's loss: those tokens' negative log-probabilities summed over the batch's label count (tests/trials/
  test_sft_loss.py: the same loss and gradient as TRL's, padded and padding-free);
- reads nothing to the host: TRL's running token count (which the trial's clock reads) stays on the device until
  it is asked for, at logging steps, checkpoints and the end.

A loss TRL builds otherwise (label smoothing, a custom loss function, an MoE aux loss, DFT, sequence parallelism,
evaluation) stays TRL's own.

Where a step has several padded micro-batches, the trainer deals the step's examples into them by length
(`trials.micro_batches`): the same step on fewer padded positions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from trl import SFTTrainer

from trials.data import IGNORE_INDEX, row_lengths
from trials.micro_batches import DealtByLength

TRL_SELECTS_ON = ("cuda", "xpu")
"""Devices where TRL's fused head projects the labelled positions alone (with Triton), so the trial leaves the
selection to it: a second one would add a device wait. Elsewhere the trial selects them; that stays right where TRL
selects them too (it then finds every position labelled)."""


class SweepSFTTrainer(DealtByLength, SFTTrainer):
    """TRL's SFTTrainer whose loss projects only the labelled positions and reads nothing to the host, and whose
    padded micro-batches are dealt by length within each step (see above)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs or not self.model.training or not self._plain_token_loss(inputs):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        targets = inputs["labels"][:, 1:]  # the next token of each position
        if targets.device.type in TRL_SELECTS_ON:
            outputs = model(**inputs, use_cache=False, fused_lm_head=True)
        else:
            scored = targets != IGNORE_INDEX
            forward_inputs = {name: value for name, value in inputs.items() if name != "labels"}
            with _scored_positions_only(self._backbone(model), scored):
                outputs = model(
                    **forward_inputs, shift_labels=targets[scored].unsqueeze(0), use_cache=False, fused_lm_head=True
                )
        labelled = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = -outputs.log_probs.sum() / torch.as_tensor(labelled).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())  # DDP averages the gradients
        self._count_tokens(inputs)
        return loss

    def _split_free(self) -> bool:
        """Rows padded to their micro-batch, and the loss normalised by the step's label count (`num_items_in_batch`,
        counted where the model takes it or a custom loss asks for it)."""
        return not self.args.padding_free and (self.model_accepts_loss_kwargs or self.compute_loss_func is not None)

    def _padded_lengths(self) -> list[int]:
        return row_lengths(self.train_dataset, "input_ids")

    def _plain_token_loss(self, inputs: dict) -> bool:
        """Whether TRL's loss here is the plain mean negative log-likelihood of the labelled tokens."""
        parallelism = getattr(self.accelerator, "parallelism_config", None)
        return (
            self.compute_loss_func is None
            and self.label_smoother is None
            and not self.aux_loss_enabled
            and self.args.loss_type == "nll"
            and "shift_labels" not in inputs
            and not getattr(parallelism, "sp_enabled", False)
        )

    def _backbone(self, model) -> torch.nn.Module:
        """The module whose hidden states TRL's fused head projects, looked up on each call as TRL does (FSDP and
        PEFT wrap the model after the trainer is built)."""
        from peft import PeftModel

        unwrapped = self.accelerator.unwrap_model(model)
        if isinstance(unwrapped, PeftModel):
            unwrapped = unwrapped.get_base_model()
        return unwrapped.base_model

    @property
    def _total_train_tokens(self) -> int:
        """TRL's running count of the non-padding tokens trained on, over every data-parallel worker: a device
        tensor while training (`_count_tokens`), read to the host only here."""
        return int(self._tokens_trained)

    @_total_train_tokens.setter
    def _total_train_tokens(self, count: int) -> None:
        self._tokens_trained = count

    def _count_tokens(self, inputs: dict) -> None:
        if "attention_mask" in inputs:
            local = inputs["attention_mask"].sum()
        else:  # padding-free: one concatenated row (a fill on the device, not a copy from the host)
            local = torch.full((), inputs["position_ids"].size(1), device=inputs["position_ids"].device)
        self._tokens_trained = self._tokens_trained + self.accelerator.gather_for_metrics(local).sum() // self._tp_size

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """TRL's log, with the token count TRL would have set at every micro-batch, read once here."""
        if self.model.training:
            self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
        super().log(logs, start_time)


@contextmanager
def _scored_positions_only(backbone: torch.nn.Module, scored: torch.Tensor) -> Iterator[None]:
    """While inside, the backbone returns as its last hidden state only the positions `scored` marks ([batch,
    length - 1], the last position has no next token), as one row: all the fused head will project."""

    def keep_scored(module, args, output):
        output.last_hidden_state = output.last_hidden_state[:, :-1][scored].unsqueeze(0)
        return output

    handle = backbone.register_forward_hook(keep_scored)
    try:
        yield
    finally:
        handle.remove()
