"""The command line starts fast: `sweeper --help` imports the CLI and typer, nothing of the spec, rich or the
training stack (each costs tenths of a second that every command, and every tab of a user's shell, would pay)."""

from __future__ import annotations

import subprocess
import sys

SLOW_AT_START = ("pydantic", "rich", "yaml", "pandas", "ray", "torch", "transformers", "trl", "lm_eval", "analysis")


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import sys, runpy; sys.argv = ['sweeper', '--help']\n"
        "try:\n    runpy.run_module('sweeper.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {SLOW_AT_START!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "Commands:" in done.stdout and "validate" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_plan_widths_read_as_words_where_a_number_would_mislead() -> None:
    from sweeper.cli import _width

    assert _width(0.734) == "0.73"
    assert _width(float("inf")) == "open"
    assert _width(float("nan")) == "unknown (no trial has been there yet)"


def test_plan_takes_one_focus_and_names_the_flags_otherwise(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sweeper.cli", "plan", str(tmp_path), "--category", "pattern", "--optima-only"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--category, --batch-law and --optima-only" in " ".join(done.stderr.split())
