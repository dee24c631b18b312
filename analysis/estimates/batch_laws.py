"""How the optimal learning rate moves with batch size: three laws fitted to the optimal learning rate per batch
size (surfaces.py), compared as the invariants are.

In log10 units (l = log10 lr*, b = log10 B):

    linear  l = c + b                                   lr/bs constant (SmolTulu's ratio)
    sqrt    l = c + b / 2                               Adam square-root scaling (Malladi et al., 2022)
    surge   l = log10(2 lr_max) - log10(sqrt(B_noise / B) + sqrt(B / B_noise))     (Li et al., 2024)

The surge rises as sqrt(B) below B_noise and falls as 1/sqrt(B) above it: with B_noise far above the grid it is
the sqrt law, and neither ratio can show its fall. The laws are fitted to the batch sizes whose optimal learning rate
is located (its CI closed at both ends): an open one says only that the optimum lies past the learning rates tried
there, and its posterior samples pile at that edge, which bends a fitted slope toward flat (lr/bs data read as sqrt).
Each law is fitted by weighted least squares (weights: 1 / variance of each batch size's optimal log10 lr) to every
posterior sample of those optimal learning rates, so its parameters' CIs carry the optimum's uncertainty. B_NOISE is
profiled over a range SPAN decades beyond the grid's batch sizes on each side; a CI that reaches that range's end is
open (the peak lies where the grid shows nothing). Laws are compared by leave-one-out CV over the located batch
sizes (of the median optimal learning rates) as the invariants are (`invariants.chosen_models`): the surge, with two
parameters, must earn its place by the one-standard-error rule, and linear and sqrt, equally simple, are both chosen
until one beats the other by more than `invariants.TIE_Z` standard errors. The surge is a candidate only where its
B_noise CI is closed above: one open there holds B_noise beyond the grid, the sqrt law, so its fall is not in the
data. The comparison needs MIN_COMPARED located batch sizes; with fewer no law is chosen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimates.intervals import Interval
from analysis.estimates.invariants import chosen_models
from analysis.estimates.surfaces import SurfaceFit

SLOPES = {"linear": 1.0, "sqrt": 0.5}
SURGE = "surge"
SPAN = 3.0
B_NOISE_POINTS = 241
MIN_VARIANCE = 0.05**2
"""Floor of a batch size's optimal log10 lr variance: its samples may pile at one learning rate."""
MIN_COMPARED = 3
"""Located batch sizes the comparison needs: with two, each left-out one is predicted from the other alone, the two
residuals mirror each other, and their spread (the comparison's standard error) is zero whatever the data."""
COLUMNS = [
    "level", "name", "law", "n_batch_sizes", "coefficient", "coefficient_ci_low", "coefficient_ci_high",
    "b_noise", "b_noise_ci_low", "b_noise_ci_high", "b_noise_ci_low_open", "b_noise_ci_high_open", "cv_rmse",
    "chosen", "n_open_optima",
]  # fmt: skip
"""`coefficient`: lr/bs (linear), lr/sqrt(bs) (sqrt) or lr_max (surge), fitted where two batch sizes (three for the
surge) are located; cv_rmse in decades of learning rate, where MIN_COMPARED are; n_open_optima: batch sizes whose
optimal learning rate is an open interval, left out of the fits and the comparison."""


def batch_law_table(surfaces: list[SurfaceFit]) -> pd.DataFrame:
    """batch_laws.csv: one row per series and law, for every series with two or more batch sizes."""
    rows = [row for surface in surfaces if len(surface.log10_bs) >= 2 for row in _fit_laws(surface)]
    return pd.DataFrame(rows, columns=COLUMNS)


def law_curve(row: pd.Series, log10_bs: np.ndarray) -> np.ndarray:
    """A fitted law's optimal log10 lr at `log10_bs`, from its batch_laws.csv row."""
    if row["law"] == SURGE:
        return np.log10(2 * row["coefficient"]) + _surge_shape(np.log10(row["b_noise"]), log10_bs)
    return np.log10(row["coefficient"]) + SLOPES[row["law"]] * log10_bs


def _surge_shape(log10_b_noise: np.ndarray | float, log10_bs: np.ndarray) -> np.ndarray:
    """-log10(sqrt(B_noise / B) + sqrt(B / B_noise)), broadcast over B_noise (rows) and batch sizes (columns)."""
    gap = np.asarray(log10_b_noise)[..., None] - log10_bs
    return -np.log10(10 ** (gap / 2) + 10 ** (-gap / 2))


def _fit_laws(surface: SurfaceFit) -> list[dict]:
    located = np.array([not interval.is_open for interval in surface.optimal_lr], dtype=bool)
    log10_bs, ridge = surface.log10_bs[located], surface.ridge_samples[:, located]
    weights = 1.0 / np.maximum(ridge.var(axis=0), MIN_VARIANCE)
    median = np.median(ridge, axis=0)
    b_noise_range = np.linspace(surface.log10_bs.min() - SPAN, surface.log10_bs.max() + SPAN, B_NOISE_POINTS)
    common = {
        "level": surface.level,
        "name": surface.name,
        "n_batch_sizes": len(surface.log10_bs),
        "n_open_optima": int((~located).sum()),
    }
    fitted = {law: _fitted(law, log10_bs, ridge, weights, b_noise_range) for law in [*SLOPES, SURGE]}
    loo = {law: _loo(log10_bs, median, weights, law, b_noise_range) for law in [*SLOPES, SURGE]}
    candidates = [*SLOPES, SURGE] if not fitted[SURGE].get("b_noise_ci_high_open", True) else [*SLOPES]
    usable = {law: loo[law] for law in candidates if loo[law].size and np.isfinite(loo[law]).all()}
    chosen = chosen_models(usable, SURGE) if usable else []
    return [
        {
            **common,
            "law": law,
            **fitted[law],
            "cv_rmse": float(np.sqrt(np.mean(residuals**2))) if residuals.size else np.nan,
            "chosen": law in chosen,
        }
        for law, residuals in loo.items()
    ]


def _fitted(
    law: str, log10_bs: np.ndarray, ridge: np.ndarray, weights: np.ndarray, b_noise_range: np.ndarray
) -> dict[str, float]:
    """A law's coefficient (and the surge's B_noise) with CIs over the ridge samples; empty with too few points."""
    if len(log10_bs) < (3 if law == SURGE else 2):
        return {}
    if law == SURGE:
        b_noise, intercept = _surge_fit(log10_bs, ridge, weights, b_noise_range)
        interval = Interval.from_samples(b_noise, (b_noise_range[0], b_noise_range[-1])).mapped(_power_of_ten)
        return {**_coefficient(10**intercept / 2), **interval.as_columns("b_noise", "b_noise_")}
    return _coefficient(10 ** _intercept(ridge - SLOPES[law] * log10_bs, weights))


def _coefficient(samples: np.ndarray) -> dict[str, float]:
    interval = Interval.from_samples(samples, (-np.inf, np.inf))
    return {"coefficient": interval.estimate, "coefficient_ci_low": interval.low, "coefficient_ci_high": interval.high}


def _power_of_ten(value: float) -> float:
    return 10.0**value


def _intercept(residual: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over batch sizes (last axis)."""
    return (residual * weights).sum(axis=-1) / weights.sum()


def _surge_fit(
    log10_bs: np.ndarray, ridge: np.ndarray, weights: np.ndarray, b_noise_range: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per ridge row: the log10 B_noise of least weighted RSS over `b_noise_range`, and its log10(2 lr_max)."""
    residual = ridge[:, None, :] - _surge_shape(b_noise_range, log10_bs)[None, :, :]
    intercept = _intercept(residual, weights)
    rss = (weights * (residual - intercept[..., None]) ** 2).sum(axis=-1)
    best = np.argmin(rss, axis=1)
    return b_noise_range[best], intercept[np.arange(len(ridge)), best]


def _loo(
    log10_bs: np.ndarray, median: np.ndarray, weights: np.ndarray, law: str, b_noise_range: np.ndarray
) -> np.ndarray:
    """Leave-one-batch-size-out residuals of a law fitted to the median optimal log10 lr (NaN: fewer than
    MIN_COMPARED points)."""
    if len(log10_bs) < MIN_COMPARED:
        return np.full(len(log10_bs), np.nan)
    residuals = []
    for left_out in range(len(log10_bs)):
        keep = np.arange(len(log10_bs)) != left_out
        bs, ridge, kept_weights = log10_bs[keep], median[None, keep], weights[keep]
        if law == SURGE:
            b_noise, intercept = _surge_fit(bs, ridge, kept_weights, b_noise_range)
            predicted = intercept[0] + _surge_shape(b_noise[0], log10_bs[[left_out]])[0]
        else:
            predicted = _intercept(ridge - SLOPES[law] * bs, kept_weights)[0] + SLOPES[law] * log10_bs[left_out]
        residuals.append(median[left_out] - predicted)
    return np.array(residuals)
