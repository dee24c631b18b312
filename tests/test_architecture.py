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


def test_the_map_names_every_module_under_its_folder() -> None:
    """The map of ARCHITECTURE.md matches the tree: each module of the four packages is named in its folder's part
    of the map (a folder's part runs from its name at a line's start to the next folder's)."""
    repo = ARCHITECTURE.parent
    text = ARCHITECTURE.read_text().split("## Where each seam is crossed", 1)[0]
    folders = ["contract/", "sweeper/", "trials/", "analysis/", "estimates/", "design/", "figures/", "report/"]
    starts = {folder: text.index(f"\n{folder}" if f"\n{folder}" in text else f"  {folder}") for folder in folders}
    missing = []
    for package in ("contract", "sweeper", "trials", "analysis"):
        for path in sorted((repo / package).rglob("*.py")):
            relative = path.relative_to(repo)
            if path.name == "__init__.py" or "demo" in relative.parts:
                continue
            folder = f"{relative.parts[-2]}/"
            start = starts[folder]
            end = min((index for index in starts.values() if index > start), default=len(text))
            if path.name not in text[start:end]:
                missing.append(str(relative))
    assert missing == []
