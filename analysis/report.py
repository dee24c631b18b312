"""`analyze`: the whole analysis of one sweep, from any results source to CSV tables, figures and report.md.

This is the analysis' one public entry point; the CLI's `sweeper analyze SOURCE --output-dir OUT` only calls it.
Every file is written atomically, so a reader (or a crash) never sees half a table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import wls
from analysis.errors import AnalysisInputError
from analysis.files import write_atomically, write_text_atomically
from analysis.findings import collect_warnings, render_report
from analysis.fit import (
    LOWESS_FRACTION,
    LOWESS_MIN_POINTS,
    CurveFit,
    category_contrasts,
    divergence_frontier,
    fit_series,
)
from analysis.invariants import COLUMNS as INVARIANT_COLUMNS
from analysis.invariants import compare_invariants
from analysis.load import Source, load_results
from analysis.plots import write_plots
from analysis.series import build_series

MIN_BOOTSTRAP = 1000


@dataclass(frozen=True)
class AnalysisResult:
    """The frames `analyze` computed (each also written to OUT as CSV), its warnings, files and stage timings."""

    results: pd.DataFrame
    fits: pd.DataFrame
    optima: pd.DataFrame
    invariants: pd.DataFrame
    category_contrast: pd.DataFrame
    divergence_frontier: pd.DataFrame
    warnings: list[str]
    output_dir: Path
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent per stage (load, fit, invariants, plots, report)."""


def analyze(source: Source, output_dir: str | Path, n_bootstrap: int = 1000, seed: int = 0) -> AnalysisResult:
    """Analyse how scores depend on lr/bs, per task and per category, and write tables, figures and report.md.

    `source`: a sweep output dir, a results .parquet/.csv, a Ray Tune experiment folder, `wandb://entity/project/group`
    or a DataFrame. `n_bootstrap` resamples of whole trials give every CI; `seed` makes them reproducible.
    """
    if n_bootstrap < MIN_BOOTSTRAP:
        raise AnalysisInputError(
            f"n_bootstrap must be >= {MIN_BOOTSTRAP} (the 2.5% and 97.5% percentiles of fewer resamples are noise), "
            f"got {n_bootstrap}."
        )
    output = Path(output_dir)
    timings: dict[str, float] = {}
    with _timed(timings, "load"):
        frame = load_results(source)
    with _timed(timings, "fit"):
        series = build_series(frame)
        n_units = series[0].n_units if series else 0
        counts = wls.bootstrap_counts(max(n_units, 1), n_bootstrap, np.random.default_rng(seed))
        fits = [fit_series(one, counts) for one in series]
        contrast = category_contrasts(fits)
        frontier = divergence_frontier(frame)
    with _timed(timings, "invariants"):
        invariant_rows = [compare_invariants(one, counts) for one in series]
        invariants = pd.concat(
            [rows for rows in invariant_rows if not rows.empty] or [pd.DataFrame(columns=INVARIANT_COLUMNS)]
        )
    tables = {
        "fits": fits_table(fits),
        "optima": optima_table(fits),
        "invariants": invariants.reset_index(drop=True),
        "category_contrast": contrast,
        "divergence_frontier": frontier,
    }
    files = [
        write_atomically(output / f"{name}.csv", lambda path, table=table: table.to_csv(path, index=False))
        for name, table in tables.items()
    ]
    with _timed(timings, "plots"):
        files += write_plots(frame, fits, tables["invariants"], output / "plots")
    with _timed(timings, "report"):
        warnings = collect_warnings(frame, series, fits, tables)
        text = render_report(frame, fits, tables, warnings, [path.relative_to(output) for path in files], n_bootstrap)
        files.append(write_text_atomically(output / "report.md", text))
    return AnalysisResult(results=frame, **tables, warnings=warnings, output_dir=output, files=files, timings=timings)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = time.perf_counter() - start


def fits_table(fits: list[CurveFit]) -> pd.DataFrame:
    """The quadratic and the LOWESS shape check of every fitted series."""
    rows = []
    for fit in fits:
        if fit.kind != "quadratic":
            continue
        common = {"level": fit.level, "name": fit.name, "n_points": fit.n_points}
        rows.append(
            {
                **common,
                "model": "quadratic",
                "coefficients": json.dumps(fit.coefficients),
                "r2": fit.r2,
                "cv_rmse": fit.cv_rmse,
            }
        )
        rows.append(
            {
                **common,
                "model": "lowess",
                "coefficients": json.dumps({"frac": LOWESS_FRACTION, "min_points": LOWESS_MIN_POINTS}),
                "r2": fit.lowess_r2,
                "cv_rmse": np.nan,
            }
        )
    columns = ["level", "name", "model", "coefficients", "r2", "cv_rmse", "n_points"]
    return pd.DataFrame(rows, columns=columns)


def optima_table(fits: list[CurveFit]) -> pd.DataFrame:
    """Best log10(lr/bs) per series with its 95% CI (ci_low/ci_high, log10 units)."""
    rows = [
        {
            "level": fit.level,
            "name": fit.name,
            "best_log10_ratio": fit.best_x,
            "best_lr_bs_ratio": 10**fit.best_x,
            "ci_low": fit.ci_low,
            "ci_high": fit.ci_high,
            "at_grid_edge": fit.at_grid_edge,
            "n_points": fit.n_points,
            "kind": fit.kind,
            "lowess_best_log10_ratio": fit.lowess_best_x,
            "worse_log10_ratio": fit.worse_x,
            "score_gain": fit.score_gain,
        }
        for fit in fits
    ]
    return pd.DataFrame(rows)
