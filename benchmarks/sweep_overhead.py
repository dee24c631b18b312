"""How much of a sweep's wall time is the sweep itself (Ray, worker processes, model loads, scheduling gaps)
rather than training and scoring?

By default the shipped demo sweep (3 lr × 3 bs, trials of 1-2 minutes, 1 CPU per trial, so two trials at a time
on 2 cores); `--quick` runs the tests' micro sweep instead (tests/conftest.micro_spec_dict: trials of seconds,
where Ray's fixed start-up cost dominates). Both go through `run_sweep` as the CLI runs them, analysis off
(benchmarks/analysis_scale.py times that). Definitions:

  work         Σ over trials of train_seconds + eval_seconds, plus the baseline's eval_seconds
  concurrency  how many run at once: CPUs // resources.cpus (2 here); the baseline takes a slot like a trial
  ideal wall   work / concurrency: a free scheduler packing the work perfectly onto the slots
  overhead     sweep wall / ideal wall (1.00: nothing but training and scoring)

On 2 cores shared two ways, Σ of trial seconds exceeds the wall time; dividing by the concurrency is what makes
the ratio mean "time not spent training or scoring". The base model and the tokenized data are prepared first and
timed apart (`prepare`): once per sweep, cached by content hash, not paid again on resume. Per trial, `setup` is
finished_at - started_at - train - eval: loading the model and data and building the trainer, in the trial.

Load: the ratio compares the sweep with its own trials, measured in the same run (both sides of it feel the same
neighbours), so it needs no interleaving with another variant; the 1-minute load average during the sweep is
printed with it (`benchmarks/rounds.LoadMonitor`), so a figure taken on a busy machine says so.

    python benchmarks/sweep_overhead.py            # the demo sweep, ~10 minutes on 2 cores
    python benchmarks/sweep_overhead.py --quick    # the micro sweep, ~1.5 minutes
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.rounds import LoadMonitor  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the tests' micro sweep (trials of seconds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sweep-overhead-") as root:
        os.environ.setdefault("RATIO_SWEEPER_CACHE", str(Path(root) / "cache"))  # yours: no pretraining again
        from contract.spec import load_spec, spec_from_dict
        from sweeper.driver import run_sweep
        from tests.conftest import micro_spec_dict
        from trials.prepare import prepare_sweep

        if args.quick:
            spec = spec_from_dict(micro_spec_dict(Path(root) / "run"))
        else:
            spec = load_spec("demo", {"output_dir": str(Path(root) / "run"), "wandb.mode": "disabled"})
        started = time.perf_counter()
        prepare_sweep(spec)
        prepare_seconds = time.perf_counter() - started
        started, began = time.perf_counter(), time.time()
        with LoadMonitor() as load:
            table = run_sweep(spec, analyze=False)
        wall = time.perf_counter() - started
    report(spec, table, prepare_seconds, began, wall, load)


def report(spec, table, prepare_seconds: float, began: float, wall: float, load: LoadMonitor) -> None:
    trials = table.drop_duplicates("trial_id").set_index("trial_id")
    first_start, last_end = trials.started_at.min(), trials.finished_at.max()
    print(f"{'trial':<18}{'status':>9}{'train s':>9}{'eval s':>8}{'setup s':>9}{'start +s':>10}{'end +s':>8}")
    for trial_id, row in trials.sort_values("started_at").iterrows():
        setup = row.finished_at - row.started_at - row.train_seconds - row.eval_seconds
        print(f"{trial_id:<18}{row.status:>9}{row.train_seconds:>9.1f}{row.eval_seconds:>8.1f}{setup:>9.1f}"
              f"{row.started_at - first_start:>10.1f}{row.finished_at - first_start:>8.1f}")  # fmt: skip
    work = float((trials.train_seconds + trials.eval_seconds).sum())
    concurrency = max(1, int((os.cpu_count() or 1) // spec.resources.cpus))
    ideal = work / concurrency
    in_trial_setup = float((trials.finished_at - trials.started_at - trials.train_seconds - trials.eval_seconds).sum())
    print(f"prepare (base model + tokenized data, once per sweep, cached): {prepare_seconds:.1f} s")
    print(f"sweep wall (run_sweep, prepare cached): {wall:.1f} s for {len(trials) - 1} trials + baseline")
    print(f"work (train + eval): {work:.1f} s; in-trial setup: {in_trial_setup:.1f} s; concurrency {concurrency}; "
          f"ideal wall {ideal:.1f} s")  # fmt: skip
    print(f"outside the trials: {first_start - began:.1f} s before the first started (Ray, Tune, the workers' "
          f"start-up), {began + wall - last_end:.1f} s after the last ended")  # fmt: skip
    print(f"load average (1 min) during the sweep: {load.summary()} on {os.cpu_count()} cores")
    print(f"overhead_with_prepare={(wall + prepare_seconds) / ideal:.2f}")
    print(f"overhead={wall / ideal:.2f}")


if __name__ == "__main__":
    main()
