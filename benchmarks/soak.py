"""Soak: the end-to-end micro sweep, N times in a row through the real CLI; a run that outlives its limit is a hang.

Each run is `sweeper run` of the tests' micro sweep (tests/conftest.micro_spec_dict: a 2 × 2 grid plus the baseline,
trials of seconds, real Ray, TRL and lm-eval), with lm-eval's bootstrap stderr on (as in real sweeps) and a fresh
output dir, in its own process group: a run still going after `--limit` seconds is killed with its whole group and
counted as a hang. It prints one row per run and ends with `hangs=H runs=N`.

    python benchmarks/soak.py              # 20 runs, ~12 minutes on 2 cores
    python benchmarks/soak.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    from tests.conftest import micro_spec_dict

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="micro sweeps to run one after another")
    parser.add_argument("--limit", type=float, default=600, help="seconds after which a run counts as hung")
    args = parser.parse_args()
    hangs = 0
    print(f"{'run':>4} {'exit':>5} {'wall s':>7}  outcome", flush=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as root:
        env = {**os.environ, "RATIO_SWEEPER_CACHE": str(Path(root) / "cache"), "WANDB_MODE": "disabled"}
        for run in range(1, args.runs + 1):
            output = Path(root) / f"run-{run}"
            raw = micro_spec_dict(output, **{"evaluation.bootstrap_iters": 100})
            spec = Path(root) / f"micro-{run}.yaml"
            spec.write_text(yaml.safe_dump(raw))
            command = [sys.executable, "-m", "sweeper.cli", "run", str(spec), "--quiet", "--no-analyze"]
            started = time.perf_counter()
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
            )
            try:
                _, stderr = process.communicate(timeout=args.limit)
                outcome = "ok" if process.returncode == 0 else stderr.decode().strip().splitlines()[-1][:100]
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                hangs += 1
                outcome = f"HUNG: killed after {args.limit:.0f} s"
            print(f"{run:>4} {process.returncode:>5} {time.perf_counter() - started:>7.1f}  {outcome}", flush=True)
    print(f"hangs={hangs} runs={args.runs}")


if __name__ == "__main__":
    main()
