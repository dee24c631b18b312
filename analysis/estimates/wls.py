"""Batched weighted least squares from moment sums: the engine of the invariants' fits (invariants.py).

Each invariant's model (a quadratic in log10(lr) - α·log10(bs) with per-task offsets, or the full quadratic surface)
is a linear least-squares problem whose normal equations see the data only through sums of w·d·dᵀ, w·d·y and w·y²
over rows. A bootstrap resample's sums are its rows' moments weighted by how often it drew each row's trial
(invariants.py), so a batch of resamples is one matrix product and one batched `solve`, with no Python loop over
resamples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SINGULAR_RCOND = 1e-10
"""A normal matrix (scaled to unit diagonal) whose smallest/largest eigenvalue falls below this is singular:
the resample drew too few distinct grid points to pin the curve down, and is dropped."""


def moments(design: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-row packed moments (n, F): upper triangle of w·d·dᵀ, then w·d·y, then w·y²."""
    upper, lower = np.triu_indices(design.shape[1])
    wd = design * weights[:, None]
    return np.column_stack([wd[:, upper] * design[:, lower], wd * y[:, None], weights * y**2])


def solve(packed: np.ndarray, n_params: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the normal equations held in packed moments (..., F).

    Returns coefficients (..., P), the weighted residual sum of squares (...), and `valid` (...): False where
    the normal matrix is singular (its coefficients are then a tiny-ridge solution, not to be used).
    """
    upper, lower = np.triu_indices(n_params)
    n_upper = len(upper)
    gram = np.zeros((*packed.shape[:-1], n_params, n_params))
    gram[..., upper, lower] = packed[..., :n_upper]
    gram[..., lower, upper] = packed[..., :n_upper]
    rhs, yy = packed[..., n_upper : n_upper + n_params], packed[..., n_upper + n_params]
    return (*solve_normal(gram, rhs, yy), identifiable(gram))


def solve_normal(gram: np.ndarray, rhs: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (..., P) and weighted RSS (...) from normal matrices (..., P, P), XᵀWy (..., P), yᵀWy (...).

    The matrix is scaled to unit diagonal before solving (columns of very different size stay accurate), with
    a tiny ridge so a singular batch member cannot fail the whole batch; its RSS is then still the least-squares
    minimum, its coefficients one of many.
    """
    diagonal = np.diagonal(gram, axis1=-2, axis2=-1)
    scale = np.sqrt(np.where(diagonal > 0, diagonal, 1.0))
    unit_gram = gram / (scale[..., :, None] * scale[..., None, :])
    ridge = SINGULAR_RCOND * np.eye(gram.shape[-1])
    coef = np.linalg.solve(unit_gram + ridge, (rhs / scale)[..., None])[..., 0] / scale
    return coef, np.maximum(yy - np.sum(coef * rhs, axis=-1), 0.0)


def identifiable(gram: np.ndarray) -> np.ndarray:
    """False where a normal matrix (..., P, P) is singular, judged after scaling it to unit diagonal."""
    diagonal = np.diagonal(gram, axis1=-2, axis2=-1)
    scale = np.sqrt(np.where(diagonal > 0, diagonal, 1.0))
    eigenvalues = np.linalg.eigvalsh(gram / (scale[..., :, None] * scale[..., None, :]))
    return eigenvalues[..., 0] > SINGULAR_RCOND * eigenvalues[..., -1]


def with_offsets(groups: np.ndarray, n_groups: int, *columns: np.ndarray) -> np.ndarray:
    """Design matrix: one intercept per group (a task's fixed effect), then `columns`."""
    return np.column_stack([np.eye(n_groups)[groups], *columns])


def bootstrap_counts(n_units: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """How often each unit is drawn in each of `n_bootstrap` resamples with replacement: (n_bootstrap, n_units)."""
    draws = rng.integers(0, n_units, size=(n_bootstrap, n_units)) + n_units * np.arange(n_bootstrap)[:, None]
    return np.bincount(draws.ravel(), minlength=n_bootstrap * n_units).reshape(n_bootstrap, n_units).astype(float)


@dataclass(frozen=True)
class LinearFit:
    """A weighted least-squares fit on one set of points, with its leave-one-out residuals."""

    coef: np.ndarray
    wrss: float
    r2: float
    loo_residuals: np.ndarray
    """Residual of each point when the fit leaves that point out (closed form via the hat matrix); NaN where
    the point is needed to identify the fit (leverage 1)."""

    @property
    def cv_rmse(self) -> float:
        """Root mean squared leave-one-out error; NaN when some point cannot be left out."""
        return float(np.sqrt(np.mean(self.loo_residuals**2)))


def fit(design: np.ndarray, y: np.ndarray, weights: np.ndarray) -> LinearFit:
    """Weighted least squares of y on design; R² is weighted, around the weighted mean."""
    coef, wrss, _ = solve(moments(design, y, weights).sum(axis=0), design.shape[1])
    gram = (design * weights[:, None]).T @ design
    leverage = weights * np.einsum("ij,jk,ik->i", design, np.linalg.pinv(gram), design)
    residuals = y - design @ coef
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = np.where(leverage < 1 - 1e-8, residuals / (1 - leverage), np.nan)
    mean = np.average(y, weights=weights)
    total = float(np.sum(weights * (y - mean) ** 2))
    r2 = 1 - float(wrss) / total if total > 0 else np.nan
    return LinearFit(coef=coef, wrss=float(wrss), r2=r2, loo_residuals=loo)
