"""Helpers for the analysis tests: a standard grid, planted categories, and one call from a planted table to fitted
series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimates.curves import CurveFit, fit_curves
from analysis.estimates.invariants import TrialResamples
from analysis.estimates.series import Series, build_series
from analysis.load import load_results
from analysis.synthetic import PlantedTask

LEARNING_RATES = np.geomspace(1e-5, 1e-2, 7)
BATCH_SIZES = [4, 8, 16, 32, 64]
"""log10(lr/bs) spans -6.8 .. -2.6 on this grid."""

PLANTED_CATEGORIES = {
    "arc": PlantedTask("reasoning", best_z=-4.1, noise=0.02),
    "gsm8k": PlantedTask("reasoning", best_z=-4.1, noise=0.02, curvature=0.05),
    "hellaswag": PlantedTask("pattern", best_z=-5.1, noise=0.02, peak=0.6),
    "ifeval": PlantedTask("pattern", best_z=-5.1, noise=0.02, curvature=0.2),
}
"""Two categories a decade apart in their optimal lr/bs (-4.1 and -5.1), two tasks of different shapes in each."""


def series_of(table: pd.DataFrame) -> tuple[dict[str, Series], TrialResamples]:
    """Series keyed by name (tasks and categories), and 1000 shared bootstrap resamples (seed 0)."""
    series = build_series(load_results(table))
    resamples = TrialResamples.draw(series[0].n_trials, 1000, np.random.default_rng(0))
    return {one.name: one for one in series}, resamples


def fits_of(table: pd.DataFrame, seed: int = 0) -> dict[str, CurveFit]:
    """Every series' fit (one joint draw, `seed`), keyed by name."""
    return {fit.name: fit for fit in fit_curves(build_series(load_results(table)), np.random.default_rng(seed))}
