"""How an optimizer step's examples are dealt into padded micro-batches: by length, for the same step with less padding.

A padded micro-batch costs its rows times its longest row. The trainer's sampler deals the examples of an optimizer
step (micro-batch × accumulation × data-parallel workers) into micro-batches in random order, so each micro-batch
is padded to nearly the longest row of the whole step. Where the step's loss does not depend on how its examples are
split into micro-batches, dealing them in order of length pads short rows only to each other: the same step, up to
float rounding, on fewer positions (how many fewer, and the speed it buys: benchmarks/RESULTS.md).
- SFT: the step's token losses summed over its label count (`num_items_in_batch`, gathered over the workers).
- DPO: the mean over the micro-batches of each one's mean per-pair loss, which is the step's mean when the
  micro-batches are of one size (every step but an epoch's last, shorter one) and the loss of a pair does not
  depend on the others in its micro-batch (`PER_PAIR_LOSSES`).

Which examples make each step stays the trainer's (its seeded random order, resumes included), and so does the
micro-batch size, so no micro-batch is longer or larger than the longest the random split could have made.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler

PER_PAIR_LOSSES = frozenset(
    {"sigmoid", "sigmoid_norm", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "sppo_hard", "apo_zero",
     "apo_down", "discopop"}
)  # fmt: skip
"""TRL's DPO loss types that are a mean of each pair's own loss. Not: "sft" (a mean over the micro-batch's tokens),
"bco_pair" (a running mean of rewards), "aot" and "aot_unpaired" (they sort the micro-batch's log-ratios)."""


class LengthSortedSteps(Sampler[int]):
    """The indices of `order`, each consecutive run of `step_examples` (one optimizer step's examples over every
    data-parallel worker) sorted by `lengths`. Accelerate hands the run's micro-batches to the workers in turn, so
    each worker's micro-batches still add up to the same step."""

    def __init__(self, order: Sampler[int], lengths: Sequence[int], step_examples: int) -> None:
        self.order, self.lengths, self.step_examples = order, lengths, step_examples

    def __iter__(self) -> Iterator[int]:
        step: list[int] = []
        for index in self.order:
            step.append(index)
            if len(step) == self.step_examples:
                yield from sorted(step, key=self.lengths.__getitem__)
                step = []
        yield from sorted(step, key=self.lengths.__getitem__)

    def __len__(self) -> int:
        return len(self.order)

    def set_epoch(self, epoch: int) -> None:
        """The trainer reshuffles a sampler that has `set_epoch` each epoch: pass it on."""
        if hasattr(self.order, "set_epoch"):
            self.order.set_epoch(epoch)


class DealtByLength:
    """A trainer mixin: its training loader deals each optimizer step's examples into micro-batches by length
    (`LengthSortedSteps`) where that saves padding (a step of several micro-batches) and `_split_free` says the step
    stays the same; `_padded_lengths` gives each example's length as the collator pads it."""

    def get_train_dataloader(self):
        loader = super().get_train_dataloader()
        order = loader.get_sampler() if hasattr(loader, "get_sampler") else None
        step_examples = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
        if order is not None and step_examples > self.args.train_batch_size and self._split_free():
            loader.set_sampler(LengthSortedSteps(order, self._padded_lengths(), step_examples))
        return loader

    def _split_free(self) -> bool:
        raise NotImplementedError

    def _padded_lengths(self) -> list[int]:
        raise NotImplementedError
