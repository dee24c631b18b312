"""How an optimizer step's examples are dealt into padded micro-batches: by length, for the same step with less padding.

A padded micro-batch costs its rows times its longest row. The trainer's sampler deals the examples of an optimizer
step (micro-batch × accumulation × data-parallel workers) into micro-batches in random order, so each micro-batch
is padded to nearly the longest row of the whole step. The SFT loss of a step is the sum of its examples' token
losses over the step's label count (`num_items_in_batch`, gathered over the workers), so how the step's examples are
split into micro-batches does not change the step, up to float rounding. Dealt in order of length, short rows are
padded only to each other: on the demo's conversations, micro-batches of 8 in steps of 16 run on 15% fewer
positions (benchmarks/RESULTS.md).

Which examples make each step stays the trainer's (its seeded random order, resumes included), and so does the
micro-batch size, so no micro-batch is longer or larger than the longest the random split could have made.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler


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
