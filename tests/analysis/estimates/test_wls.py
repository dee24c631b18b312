"""Batched weighted least squares: the solve, its leave-one-out residuals and a batch of resamples' solves agree with
numpy's lstsq, and a resample that cannot identify the model is flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimates import wls


def test_batched_solve_matches_numpy_lstsq_and_loo_matches_refitting() -> None:
    rng = np.random.default_rng(1)
    design = np.column_stack([np.ones(30), rng.normal(size=30), rng.normal(size=30) ** 2])
    y = design @ [1.0, -2.0, 0.5] + rng.normal(0, 0.1, 30)
    weights = rng.uniform(0.5, 2.0, 30)
    fit = wls.fit(design, y, weights)
    root = np.sqrt(weights)
    expected = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)[0]
    np.testing.assert_allclose(fit.coef, expected, rtol=1e-9)
    left_out = 7
    keep = np.arange(30) != left_out
    refit = np.linalg.lstsq(design[keep] * root[keep, None], y[keep] * root[keep], rcond=None)[0]
    assert fit.loo_residuals[left_out] == pytest.approx(y[left_out] - design[left_out] @ refit)

    counts = wls.bootstrap_counts(30, 50, np.random.default_rng(2))
    assert counts.shape == (50, 30) and (counts.sum(axis=1) == 30).all()
    coef, _, valid = wls.solve(counts @ wls.moments(design, y, weights), design.shape[1])
    drawn = counts[3]
    expected = np.linalg.lstsq(design * np.sqrt(weights * drawn)[:, None], y * np.sqrt(weights * drawn), rcond=None)[0]
    assert valid.all()
    np.testing.assert_allclose(coef[3], expected, rtol=1e-8)


def test_resamples_that_cannot_identify_a_quadratic_are_flagged() -> None:
    x = np.repeat([-1.0, 0.0, 1.0], 2)
    design = np.column_stack([np.ones(6), x, x**2])
    counts = np.array([[2.0, 2, 2, 0, 0, 0], [1.0, 1, 1, 1, 1, 1]])
    _, _, valid = wls.solve(counts @ wls.moments(design, x**2, np.ones(6)), design.shape[1])
    assert list(valid) == [False, True], "two distinct x values cannot identify a quadratic"
    assert pd.Series(valid).dtype == bool
