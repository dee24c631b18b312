"""The CSVs of the ratio fits: fits.csv (each series' model) and optima.csv (each series' optimum with its CI)."""

from __future__ import annotations

import json

import pandas as pd

from analysis.estimates.curves import CurveFit


def fits_table(fits: list[CurveFit]) -> pd.DataFrame:
    """Each fitted series' model: a task's GP (its most likely hyperparameters, leave-one-out R² and RMSE), or a
    category's average of its tasks' curves."""
    rows = [
        {
            "level": fit.level,
            "name": fit.name,
            "model": "gp" if fit.model is not None else "mean of task curves",
            "coefficients": json.dumps(fit.hyperparameters or {"tasks": sorted(set(fit.points["task"]))}),
            "r2": fit.r2,
            "cv_rmse": fit.cv_rmse,
            "n_points": fit.n_points,
        }
        for fit in fits
        if fit.kind == "gp"
    ]
    columns = ["level", "name", "model", "coefficients", "r2", "cv_rmse", "n_points"]
    return pd.DataFrame(rows, columns=columns)


def optima_table(fits: list[CurveFit]) -> pd.DataFrame:
    """Best log10(lr/bs) per series with its 95% CI (log10 units) and its open ends: `ci_low_open` /
    `ci_high_open` mean the CI reaches the range scored, `high_edge` says what ends that range above, and
    `frontier_batch_sizes` (at the frontier) the batch sizes whose divergences end it."""
    rows = [
        {
            "level": fit.level,
            "name": fit.name,
            "kind": fit.kind,
            **fit.optimum.as_columns("best_log10_ratio"),
            "best_lr_bs_ratio": 10**fit.best_log10_ratio,
            "at_edge": fit.at_edge,
            "high_edge": fit.high_edge,
            "frontier_batch_sizes": " ".join(str(size) for size in fit.frontier_bounds.index),
            "n_points": fit.n_points,
            "worse_log10_ratio": fit.worse_log10_ratio,
            "score_gain": fit.score_gain,
        }
        for fit in fits
    ]
    return pd.DataFrame(rows)
