"""`sweeper analyze` as a user runs it: a results file in, the report out, the reference ratio's regret in it; a
malformed reference ratio is a user error (exit 2, one line, no traceback)."""

from __future__ import annotations

import subprocess
import sys

from analysis.synthetic import PlantedTask, planted_table


def _analyze(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sweeper.cli", "analyze", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_reference_ratio_reaches_the_report(tmp_path) -> None:
    tasks = {"arc": PlantedTask("reasoning", best_z=-4.0), "hellaswag": PlantedTask("pattern", best_z=-4.6)}
    planted_table(tasks, [3e-4, 1e-3, 3e-3], [4, 16, 64]).to_csv(tmp_path / "results.csv", index=False)
    done = _analyze(
        str(tmp_path / "results.csv"), "--output-dir", str(tmp_path / "out"), "--reference-ratio", "1e-3/64"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "The reference ratio (lr/bs 1.6e-5) costs" in report.split("## Answer")[1].split("## ")[0]
    bad = _analyze(str(tmp_path / "results.csv"), "--output-dir", str(tmp_path / "bad"), "--reference-ratio", "x/y")
    assert bad.returncode == 2 and "reference_ratio" in bad.stderr and "Traceback" not in bad.stderr
