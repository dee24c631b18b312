"""`benchmarks/gpu_check.py --smoke`: the GPU check's own code on the CPU with the tiny demo model, so it cannot rot
while no GPU runs it: every group, the side by side with plain TRL, and host reads by our code (outside logging)
counted as 0."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GROUPS = ("padded ", "padding_free ", "shared x2 ", "shared x4 ")
FIGURES = [
    "tokens_per_s", "mfu", "padding_free_speedup", "shared4_speedup", "peak_gib_per_trial", "eval_s",
    "speedup_vs_matched_trl",
]  # fmt: skip


@pytest.mark.timeout(600)  # ~1 minute on 2 cores at load 2-7; sized for load 10 (4.6 min before the forkserver)
def test_smoke_run_measures_every_group_and_ends_with_the_figures() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--smoke"], cwd=REPO, capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    rows = [line for line in lines if line.startswith(GROUPS)]
    assert [row[:14].strip() for row in rows] == [group.strip() for group in GROUPS]
    assert not [row for row in rows if "failed" in row], rows
    reads = [line for line in lines if line.startswith("host reads per step")]
    assert len(reads) == 2 and all(", 0.0 from trials/" in line for line in reads), reads
    figures = dict(pair.split("=") for pair in lines[-1].split())
    assert list(figures) == FIGURES
    for name, value in figures.items():
        assert math.isfinite(float(value)) and float(value) > 0, f"{name}={value}"
