"""Do the demo's scores move when a trial trains with the sweep's own loss (`trials.sft_loss`) or padding-free?

One grid point of the shipped demo sweep, trained and scored by `trials.trial.run_trial` (no Ray) under each of:

  trls_loss              the spec's defaults with TRL's own `SFTTrainer.compute_loss` (the trial before
                         `trials.sft_loss`: every position projected, TRL's metrics)
  defaults               the spec's defaults (fused AdamW; padded, as the demo's attention is sdpa; the loss scored on
                         the labelled positions only)
  padding_free           `padding_free: true`

They take the same step up to float rounding (tests/trials/test_sft_loss.py, tests/trials/test_train.py); over
hundreds of steps that rounding can still flip a few greedy generations. Printed: each run's train loss, seconds and
every task's score, and the largest score difference from the first run.

    python benchmarks/demo_scores.py                          # lr 1e-3, batch 16
    python benchmarks/demo_scores.py --learning-rate 3e-3 --batch-size 64
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RUNS = {"trls_loss": {}, "defaults": {}, "padding_free": {"training.padding_free": True}}
"""Each run's spec overrides."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    from trl import SFTTrainer

    from contract.spec import load_spec
    from trials.prepare import prepare_sweep
    from trials.sft_loss import SweepSFTTrainer
    from trials.trial import run_trial

    results = {}
    with tempfile.TemporaryDirectory(prefix="demo-scores-") as root:
        os.environ.setdefault("RATIO_SWEEPER_CACHE", str(Path(root) / "cache"))
        for name, overrides in RUNS.items():
            spec = load_spec("demo", {"output_dir": str(Path(root) / name), "wandb.mode": "disabled", **overrides})
            params = spec.trial_params(args.learning_rate, args.batch_size, 0)
            loss = (
                mock.patch.object(SweepSFTTrainer, "compute_loss", SFTTrainer.compute_loss)
                if name == "trls_loss"
                else contextlib.nullcontext()
            )
            with loss:
                results[name] = run_trial(spec, prepare_sweep(spec), params, Path(root) / name / "trial")
    first = next(iter(results.values()))
    tasks = [score.task for score in first.scores]
    print(f"demo trial at lr {args.learning_rate:g}, batch {args.batch_size}, seed 0")
    print(f"{'run':<22}{'loss':>8}{'train s':>9}" + "".join(f"{task:>22}" for task in tasks))
    for name, result in results.items():
        scores = "".join(f"{score.score:>22.4f}" for score in result.scores)
        print(f"{name:<22}{result.train_loss:>8.4f}{result.train_seconds:>9.1f}{scores}")
    for name, result in list(results.items())[1:]:
        differences = [abs(a.score - b.score) for a, b in zip(result.scores, first.scores)]
        print(f"max |score difference| {name} vs {next(iter(results))}: {max(differences):.4f}")


if __name__ == "__main__":
    main()
