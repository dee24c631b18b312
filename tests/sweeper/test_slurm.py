"""`sweeper slurm` writes an sbatch script that starts Ray on every node and runs or resumes the sweep; the script is
run here with stand-ins for SLURM's and Ray's commands, so its paths and commands are checked, not only its syntax."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import DEMO_SPEC

STUBS = {
    "scontrol": 'echo "node1 node2"',
    "srun": 'while [[ "$1" == -* ]]; do shift; [[ "$1" != -* && "$1" != ray && "$1" != hostname ]] && shift; done\n'
    'if [ "$1" = hostname ]; then echo 10.0.0.1; else echo "$@" >> "$LOG"; fi',
    "sweeper": 'echo "sweeper $*" >> "$LOG"',
    "sleep": "true",
}


def _write_script(tmp_path: Path, output_dir: Path) -> Path:
    script = tmp_path / "demo.sbatch"
    done = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "slurm", str(DEMO_SPEC), "--nodes", "2", "--gpus-per-node", "4",
         "--partition", "gpu", "--output-dir", str(output_dir), "--script", str(script)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return script


def _run_script(tmp_path: Path, script: Path) -> list[str]:
    """Run the script as SLURM would start it, with stand-ins on PATH; the commands it ran, one per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in STUBS.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "commands.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log), "SLURM_JOB_NODELIST": "node[1-2]",
           "SLURM_JOB_NUM_NODES": "2", "SLURM_CPUS_PER_TASK": "16"}  # fmt: skip
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10  # the `ray start`s run in the background (`&`), as on a real allocation
    while len(log.read_text().splitlines()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(log.read_text().splitlines())  # ray start --address, ray start --head, sweeper ...


def test_the_script_logs_into_a_folder_that_exists_before_the_job_starts(tmp_path: Path) -> None:
    output_dir = tmp_path / "fresh" / "out"
    text = _write_script(tmp_path, output_dir).read_text()
    log_path = Path(re.search(r"^#SBATCH --output=(.+)$", text, re.MULTILINE).group(1))
    assert log_path.parent == output_dir
    assert log_path.parent.is_dir(), "SLURM opens the log before the script's own mkdir runs"
    for line in ("#SBATCH --nodes=2", "#SBATCH --gpus-per-task=4", "#SBATCH --partition=gpu", "#SBATCH --requeue"):
        assert line in text


def test_the_script_starts_ray_on_every_node_then_runs_the_spec_or_resumes_it(tmp_path: Path) -> None:
    output_dir = tmp_path / "out"
    script = _write_script(tmp_path, output_dir)
    commands = _run_script(tmp_path, script)
    assert commands[0].startswith("ray start --address 10.0.0.1:6379 --num-cpus 16 --num-gpus 4")
    assert commands[1].startswith("ray start --head --node-ip-address=10.0.0.1 --port=6379 --num-cpus 16")
    assert commands[2] == f"sweeper run {DEMO_SPEC} --output-dir {output_dir} --address 10.0.0.1:6379 --quiet"
    (output_dir / "spec.yaml").write_text("name: demo\n")  # the first attempt got as far as writing its spec
    assert _run_script(tmp_path, script)[2] == f"sweeper resume {output_dir} --address 10.0.0.1:6379 --quiet", (
        "a requeued job resumes instead of starting over"
    )
