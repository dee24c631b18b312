"""write_plots: a PNG and a PDF of every figure the analysis has, written atomically into the plots folder; the
surfaces, batch laws and invariants only when there are some."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.image import imread

from analysis.figures import write
from tests.analysis.figures.planted import Analysed

ALWAYS = ("score_vs_ratio", "category_curves", "heatmaps")
WHEN_FITTED = ("surfaces", "batch_laws", "invariants")


def _names(figures: tuple[str, ...]) -> list[str]:
    return [f"{figure}.{suffix}" for figure in figures for suffix in ("png", "pdf")]


def test_every_figure_is_written_as_png_and_pdf(analysed: Analysed, tmp_path) -> None:
    """One surface and one series' invariants: fewer panels to render, the same files."""
    tables = {**analysed.tables, "invariants": analysed.tables["invariants"].head(3)}
    written = write.write_plots(analysed.frame, analysed.fits, analysed.surfaces[:1], tables, tmp_path / "plots")
    assert [path.name for path in written] == _names(ALWAYS + WHEN_FITTED)
    assert sorted(path.name for path in (tmp_path / "plots").iterdir()) == sorted(_names(ALWAYS + WHEN_FITTED))
    for path in written:
        if path.suffix == ".png":
            assert imread(path).ndim == 3
        else:
            assert path.read_bytes().startswith(b"%PDF")


def test_without_surfaces_or_invariants_only_the_curves_and_maps_are_drawn(
    analysed: Analysed, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which figures are drawn, not how they are saved (the test above): saving is the slow part, so it is left out."""
    drawn = []
    monkeypatch.setattr(write, "_save", lambda figure, directory, name: drawn.append(name) or [directory / name])
    tables = {**analysed.tables, "invariants": pd.DataFrame()}
    write.write_plots(analysed.frame, analysed.fits, [], tables, tmp_path)
    assert drawn == list(ALWAYS)
    write.write_plots(analysed.frame, analysed.fits, analysed.surfaces, tables, tmp_path)
    assert drawn[len(ALWAYS) :] == [*ALWAYS, "surfaces", "batch_laws"]
