"""One small planted analysis that every figure test draws from: two categories, an optimum pressed against the
divergence frontier (an open CI), diverged runs, and a task scored at two ratios only (no curve)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.estimates.batch_laws import batch_law_table
from analysis.estimates.curves import CurveFit, fit_curves
from analysis.estimates.invariants import TrialResamples, compare_invariants
from analysis.estimates.series import build_series
from analysis.estimates.surfaces import SurfaceFit, fit_surfaces
from analysis.figures.style import category_colours
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table

LEARNING_RATES = np.geomspace(1e-5, 1e-2, 7)
BATCH_SIZES = [8, 32, 128]
DIVERGE_ABOVE = 2e-4
"""log10(lr/bs) spans -7.1 .. -2.9; runs above lr/bs 2e-4 diverge (lr 1e-2 at batch sizes 8 and 32, 3.2e-3 at 8)."""
TASKS = {
    "arc": PlantedTask("reasoning", best_z=-4.0, noise=0.02),
    "gsm8k": PlantedTask("reasoning", best_z=-5.2, noise=0.02, metric="exact_match"),
    "hellaswag": PlantedTask("pattern", best_z=-2.0, noise=0.02),
}
"""hellaswag's optimum lies past the divergence frontier (its CI is open at the high end), gsm8k's inside the grid
(closed)."""
TWO_RATIOS = {"ifeval": PlantedTask("pattern", best_z=-5.0, noise=0.02)}
"""Scored at lr 1e-4 and 1e-3 at batch size 8 only: a direction, no curve."""


@dataclass(frozen=True)
class Analysed:
    """The planted sweep's frame, fits and surfaces, the tables `write_plots` reads, and what the figures take."""

    frame: pd.DataFrame
    fits: list[CurveFit]
    surfaces: list[SurfaceFit]
    tables: dict[str, pd.DataFrame]

    @property
    def task_fits(self) -> dict[str, CurveFit]:
        return {fit.name: fit for fit in self.fits if fit.level == "task"}

    @property
    def colours(self) -> dict[str, str]:
        return category_colours(self.frame["category"])

    @property
    def task_category(self) -> pd.Series:
        return self.frame[self.frame["status"] != "baseline"].groupby("task")["category"].first()


def planted_analysis() -> Analysed:
    """The planted sweep loaded and analysed as `analyze` does (seed 0), up to the tables the figures draw."""
    grid = planted_table(TASKS, LEARNING_RATES, BATCH_SIZES, diverge_above=DIVERGE_ABOVE, random_state=0)
    two_ratios = planted_table(TWO_RATIOS, [1e-4, 1e-3], [8], random_state=1)
    frame = load_results(pd.concat([grid, two_ratios], ignore_index=True))
    series = build_series(frame)
    rng = np.random.default_rng(0)
    fits = fit_curves(series, rng)
    surfaces = fit_surfaces(series, rng)
    resamples = TrialResamples.draw(series[0].n_trials, 1000, rng)
    invariants = pd.concat([compare_invariants(one, resamples) for one in series]).reset_index(drop=True)
    return Analysed(frame, fits, surfaces, {"batch_laws": batch_law_table(surfaces), "invariants": invariants})
