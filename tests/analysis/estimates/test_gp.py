"""The GP engine: its marginal likelihood and its pathwise joint draws agree with the closed-form Gaussian
posterior, and noise shared by two tasks at one grid point correlates their draws."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.estimates import gp

SETTING = np.array([[0.6, 1.0, 0.5, 2.5, 1.3, 0.05]])
"""lengthscale, warp a, warp b, smoothness, signal, nugget."""


def _problem(n: int = 12) -> gp.GPData:
    rng = np.random.default_rng(0)
    coords = np.linspace(-1, 1, n)[:, None]
    return gp.GPData(coords, np.sin(3 * coords[:, 0]) + rng.normal(0, 0.1, n), np.eye(n) * 0.01, np.zeros(n, int))


def test_log_evidence_is_the_gaussian_log_likelihood() -> None:
    data = _problem()
    covariance = gp.kernel(data.coords, data.coords, SETTING)[0] + data.noise + 0.05 * np.eye(len(data.y))
    covariance += gp.JITTER * SETTING[0, gp.SIGNAL] * np.eye(len(data.y))
    sign, log_det = np.linalg.slogdet(covariance)
    expected = -0.5 * data.y @ np.linalg.solve(covariance, data.y) - 0.5 * log_det
    assert sign > 0 and gp.log_evidence(data, SETTING)[0] == pytest.approx(expected, rel=1e-9)


def test_log_evidence_of_several_tables_is_each_ones_own() -> None:
    """Tables of the same rows share each setting's factorisation; the evidence and weights of each column are
    those of that table alone."""
    data = _problem()
    grid = np.repeat(SETTING, 3, axis=0)
    grid[:, 0] = [0.3, 0.6, 1.2]
    tables = data.y[:, None] + np.random.default_rng(2).normal(0, 0.2, (len(data.y), 4))
    together = gp.log_evidence(gp.GPData(data.coords, tables, data.noise, data.components), grid)
    alone = [gp.log_evidence(gp.GPData(data.coords, y, data.noise, data.components), grid) for y in tables.T]
    np.testing.assert_allclose(together, np.column_stack(alone), rtol=1e-10)
    weights = gp.evidence_weights(together)
    np.testing.assert_allclose(weights, np.column_stack([gp.evidence_weights(one) for one in alone]), rtol=1e-10)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0)


def test_pathwise_draws_match_the_closed_form_posterior() -> None:
    data = _problem()
    query = np.linspace(-1, 1, 7)[:, None]
    (samples,) = gp.draw(data, [np.repeat(SETTING, 4, axis=0)], 5000, [query], np.random.default_rng(1))
    train = gp.kernel(data.coords, data.coords, SETTING)[0] + data.noise + 0.05 * np.eye(len(data.y))
    cross = gp.kernel(query, data.coords, SETTING)[0]
    mean = cross @ np.linalg.solve(train, data.y)
    covariance = gp.kernel(query, query, SETTING)[0] - cross @ np.linalg.solve(train, cross.T)
    np.testing.assert_allclose(samples.mean(axis=0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(samples.T), covariance, atol=0.01)


def test_noise_shared_between_components_correlates_their_draws() -> None:
    coords = np.array([[-0.5], [0.5], [-0.5], [0.5]])
    components = np.array([0, 0, 1, 1])
    shared = np.diag([0.5] * 4)
    shared[0, 2] = shared[2, 0] = shared[1, 3] = shared[3, 1] = 0.45
    correlations = []
    for noise in (np.diag([0.5] * 4), shared):
        data = gp.GPData(coords, np.zeros(4), noise, components)
        draws = gp.draw(data, [SETTING.repeat(4, 0)] * 2, 3000, [coords[:1], coords[:1]], np.random.default_rng(2))
        correlations.append(np.corrcoef(draws[0][:, 0], draws[1][:, 0])[0, 1])
    assert abs(correlations[0]) < 0.05 and correlations[1] > 0.3, "a lucky trial lifts both: their curves move together"


@pytest.mark.parametrize("kink", [-0.6, 0.0, 0.8])
def test_the_kinked_warp_bends_at_its_kink_with_the_settings_slope_ratio(kink: float) -> None:
    """Ends stay at -1 and 1, the axis stays continuous and increasing, and above the kink it is a / b times as
    steep as below it: (1, 0.5) stretches the side above the peak twice, (0.5, 1) the side below, (1, 1) is no warp."""
    settings = np.array([[0.6, a, b, 2.5, 1.0, 0.0] for a, b in [(1.0, 1.0), (1.0, 0.5), (1.0, 0.25), (0.5, 1.0)]])
    values = np.array([-1.0, kink - 0.1, kink, kink + 0.1, 1.0])
    warped = gp.kinked(values, settings, kink)
    np.testing.assert_allclose(warped[:, [0, -1]], [[-1.0, 1.0]] * 4)
    np.testing.assert_allclose(warped[0], values)
    assert (np.diff(warped, axis=1) > 0).all()
    below, above = warped[:, 2] - warped[:, 1], warped[:, 3] - warped[:, 2]
    np.testing.assert_allclose(above / below, settings[:, 1] / settings[:, 2])


def test_a_kink_changes_only_the_warp() -> None:
    """With the warp (1, 1) a kink changes nothing: the kernel is the unwarped one wherever it bends."""
    data, flat = _problem(), SETTING.copy()
    flat[0, 1:3] = 1.0
    kinked = gp.GPData(data.coords, data.y, data.noise, data.components, kink=0.3)
    np.testing.assert_allclose(gp.log_evidence(kinked, flat), gp.log_evidence(data, flat))
    assert not np.allclose(gp.log_evidence(kinked, SETTING), gp.log_evidence(data, SETTING))
