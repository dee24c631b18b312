"""Helpers for the analysis tests: a standard grid and one call from a planted table to fitted series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimates import wls
from analysis.estimates.curves import CurveFit, fit_curves
from analysis.estimates.series import Series, build_series
from analysis.load import load_results

LEARNING_RATES = np.geomspace(1e-5, 1e-2, 7)
BATCH_SIZES = [4, 8, 16, 32, 64]
"""log10(lr/bs) spans -6.8 .. -2.6 on this grid."""


def series_of(table: pd.DataFrame) -> tuple[dict[str, Series], np.ndarray]:
    """Series keyed by name (tasks and categories), and 1000 shared bootstrap resamples (seed 0)."""
    series = build_series(load_results(table))
    counts = wls.bootstrap_counts(series[0].n_trials, 1000, np.random.default_rng(0))
    return {one.name: one for one in series}, counts


def fits_of(table: pd.DataFrame, seed: int = 0) -> dict[str, CurveFit]:
    """Every series' fit (one joint draw, `seed`), keyed by name."""
    return {fit.name: fit for fit in fit_curves(build_series(load_results(table)), np.random.default_rng(seed))}
