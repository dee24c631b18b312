"""`analyze`: the whole analysis of one sweep, from any results source to CSV tables, figures and report.md.

This is the analysis' one public entry point; the CLI's `sweeper analyze SOURCE --output-dir OUT` only calls it.
Every file is written atomically, so a reader (or a crash) never sees half a table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.estimates import wls
from analysis.estimates.batch_laws import batch_law_table
from analysis.estimates.contrasts import category_contrasts
from analysis.estimates.curves import fit_curves
from analysis.estimates.frontier import DivergenceFrontier
from analysis.estimates.invariants import COLUMNS as INVARIANT_COLUMNS
from analysis.estimates.invariants import compare_invariants
from analysis.estimates.regret import parse_ratio, regret_table
from analysis.estimates.series import build_series
from analysis.estimates.surfaces import fit_surfaces, optimal_lr_table
from analysis.figures.write import write_plots
from analysis.files import write_atomically, write_text_atomically
from analysis.load import Source, load_results
from analysis.report.findings import collect_warnings
from analysis.report.tables import fits_table, optima_table
from analysis.report.text import answer_text, render_report


@dataclass(frozen=True)
class AnalysisResult:
    """The frames `analyze` computed (each also written to OUT as CSV), the Answer, warnings, files, timings."""

    results: pd.DataFrame
    fits: pd.DataFrame
    optima: pd.DataFrame
    category_contrast: pd.DataFrame
    regret: pd.DataFrame
    invariants: pd.DataFrame
    optimal_lr: pd.DataFrame
    batch_laws: pd.DataFrame
    divergence_frontier: pd.DataFrame
    answer: str
    """The report's Answer section (markdown bullets): optima, contrast, regret of a shared ratio, confidence."""
    warnings: list[str]
    output_dir: Path
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent per stage (load, fit, surfaces, invariants, plots, report)."""


MIN_BOOTSTRAP = 1000
"""Fewest resamples `analyze` accepts: the 2.5% and 97.5% percentiles of fewer are noise."""


def analyze(
    source: Source,
    output_dir: str | Path,
    n_bootstrap: int = 1000,
    seed: int = 0,
    reference_ratio: float | str | None = None,
) -> AnalysisResult:
    """Analyse how scores depend on lr/bs, per task and per category, and write tables, figures and report.md.

    `source`: a sweep output dir, a results .parquet/.csv, a Ray Tune experiment folder, `wandb://entity/project/group`
    or a DataFrame. `n_bootstrap` resamples of whole trials give the invariants' CIs, `seed` makes every draw
    reproducible. `reference_ratio` (a float, or "lr/bs" text such as "5e-6/128") is a named default whose regret
    the report gives beside the categories' own optima.
    """
    if n_bootstrap < MIN_BOOTSTRAP:
        raise AnalysisInputError(
            f"n_bootstrap must be >= {MIN_BOOTSTRAP} (the 2.5% and 97.5% percentiles of fewer resamples are noise), "
            f"got {n_bootstrap}."
        )
    try:
        reference = parse_ratio(reference_ratio)
    except ValueError:
        raise AnalysisInputError(
            f"reference_ratio: expected a positive number or 'lr/bs' such as '5e-6/128', got {reference_ratio!r}."
        ) from None
    output = Path(output_dir)
    timings: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    with _timed(timings, "load"):
        frame = load_results(source)
    with _timed(timings, "fit"):
        series = build_series(frame)
        fits = fit_curves(series, rng)
    with _timed(timings, "surfaces"):
        surfaces = fit_surfaces(series, rng)
    with _timed(timings, "invariants"):
        counts = wls.bootstrap_counts(max(series[0].n_trials if series else 0, 1), n_bootstrap, rng)
        invariant_rows = [compare_invariants(one, counts) for one in series]
        invariants = pd.concat(
            [rows for rows in invariant_rows if not rows.empty] or [pd.DataFrame(columns=INVARIANT_COLUMNS)]
        )
    tables = {
        "optima": optima_table(fits),
        "category_contrast": category_contrasts(fits),
        "regret": regret_table(fits, series, reference),
        "fits": fits_table(fits),
        "invariants": invariants.reset_index(drop=True),
        "optimal_lr": optimal_lr_table(surfaces),
        "batch_laws": batch_law_table(surfaces),
        "divergence_frontier": DivergenceFrontier.of(frame).table(),
    }
    files = [
        write_atomically(output / f"{name}.csv", lambda path, table=table: table.to_csv(path, index=False))
        for name, table in tables.items()
    ]
    with _timed(timings, "plots"):
        files += write_plots(frame, fits, surfaces, tables, output / "plots")
    with _timed(timings, "report"):
        warnings = collect_warnings(frame, series, fits, tables)
        answer = answer_text(fits, tables, frame.groupby("task")["category"].first())
        relative = [path.relative_to(output) for path in files]
        text = render_report(frame, fits, tables, answer, warnings, relative)
        files.append(write_text_atomically(output / "report.md", text))
    return AnalysisResult(
        results=frame, **tables, answer=answer, warnings=warnings, output_dir=output, files=files, timings=timings
    )


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = time.perf_counter() - start
