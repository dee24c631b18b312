"""`sweeper slurm` writes a valid sbatch script that starts Ray on every node and runs or resumes the sweep."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_SPEC


def test_sbatch_script_is_valid_bash_with_the_requested_allocation(tmp_path: Path) -> None:
    script = tmp_path / "demo.sbatch"
    done = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "slurm", str(DEMO_SPEC), "--nodes", "3", "--gpus-per-node", "4",
         "--partition", "gpu", "--output-dir", str(tmp_path / "out"), "--script", str(script)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = script.read_text()
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    for line in ("#SBATCH --nodes=3", "#SBATCH --gpus-per-task=4", "#SBATCH --partition=gpu", "#SBATCH --requeue"):
        assert line in text
    assert "ray start --head" in text and 'ray start --address "$RAY_ADDRESS"' in text
    assert f'sweeper resume "{tmp_path / "out"}"' in text, "a requeued job resumes instead of starting over"
    assert f'sweeper run "{DEMO_SPEC}" --output-dir "{tmp_path / "out"}"' in text
