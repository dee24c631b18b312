"""ARCHITECTURE.md's table of the results format is the format itself: every column, in order, with its type."""

from __future__ import annotations

from pathlib import Path

from analysis.schema import COLUMN_TYPES

ARCHITECTURE = Path(__file__).resolve().parent.parent / "ARCHITECTURE.md"


def test_the_documented_results_format_is_the_schema_in_code() -> None:
    text = ARCHITECTURE.read_text().split("## The results format", 1)[1]
    rows = [line.split("|")[1:3] for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    documented = [(name.strip(), kind.strip()) for name, kind in rows[1:]]  # the header row first
    assert documented == [(name, kind.__name__) for name, kind in COLUMN_TYPES.items()]
