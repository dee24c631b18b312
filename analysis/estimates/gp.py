"""Gaussian-process regression of scores, averaged over its hyperparameters: the model behind every optimum.

Why a GP: a fixed curve (a quadratic) answers with the optimum its shape implies, and on a skewed or flat peak
its interval is narrow around the wrong place. A GP's posterior includes every shape the data allow, so the
optimum's distribution (the argmax of posterior sample curves) is as wide as the data leave it.

One component per task, on inputs scaled to about [-1, 1] (1-D: x = log10(lr/bs); 2-D: x and log10 bs):

    y_i = o_c + f_c(s_i) + e_i                c = the row's component (task)
    f_c ~ GP(0, signal · Matérn-ν(warped s / lengthscales)),  o_c ~ N(0, OFFSET_VARIANCE) (the task's level)
    e ~ N(0, noise + nuggets)                 noise known: lm-eval's stderr, the seeds' spread, and between tasks
                                              the trial effect they share; the nugget is lack of fit, or all of
                                              the noise when none is known (a one-seed run's own luck), and as
                                              that luck is the trial's, shared between tasks at one trial too

Each component's hyperparameters (lengthscales, warp, smoothness ν, signal, nugget) are not fitted to one value
but averaged over a grid, weighted by marginal likelihood (flat prior on the grid): on a small sweep the data
cannot pin a lengthscale down, and the optimum's interval must carry that. The warp matters at a cliff: a
stationary curve that rises gently must also turn over gently, so before a sharp drop (divergence nearing) it
puts the peak too early and is sure of it. The first input axis is warped by a Kumaraswamy CDF (Snoek et al.,
2014), w(u) = 1 - (1 - u^a)^b on u in [0, 1]: b < 1 stretches the high end (room for a sharp fall there), a < 1
the low end, a = b = 1 is no warp; the evidence chooses. Which side of a peak falls sharply is read from the same
settings with the axis bent at the peak instead (`kinked`, `GPData.kink`). Components are drawn jointly by pathwise
conditioning (Matheron's rule: a prior draw corrected by the data's residual), so the shared trial noise pairs
the tasks' curves at the cost of one solve over all rows; everything is batched over settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.linalg import solve_triangular

OFFSET_VARIANCE = 10.0
"""Prior variance of a task's level, in standardised units: wide enough to leave the level to the data."""
JITTER = 1e-6
"""Added to diagonals (relative to the prior variance) so near-singular covariances factor."""
MEAN_WEIGHT = 0.999
"""A posterior mean averages the most likely settings holding this share of the weight (the rest cannot show)."""
SETTINGS_PER_CHUNK = 48
"""Settings solved at once: bounds the memory of the (settings, n, n) covariance stack."""


@dataclass(frozen=True)
class GPData:
    """What the GP sees, each component standardised (its y has mean 0 and variance 1)."""

    coords: np.ndarray
    """(n, d) inputs, scaled."""
    y: np.ndarray
    """(n,) scores; (n, k) for k tables of the same rows at once (`log_evidence` only)."""
    noise: np.ndarray
    """(n, n) known noise covariance (zeros where nothing is known)."""
    components: np.ndarray
    """(n,) which component (task) each row belongs to."""
    shared: np.ndarray | None = None
    """(n, n) the correlation of two components' nuggets on rows of one trial (a trial's luck lifts all its tasks;
    zero elsewhere and on the diagonal); None: no nugget is shared."""
    kink: float | None = None
    """Where on the scaled first axis its warp bends (`kinked`); None: the Kumaraswamy warp over the whole range."""


WARP_LOW, WARP_HIGH, SMOOTHNESS, SIGNAL, NUGGET = -5, -4, -3, -2, -1
"""Columns of a setting row, after one lengthscale per input dimension."""


def hyper_grid(
    lengthscales: list[np.ndarray],
    warps: np.ndarray,
    smoothness: np.ndarray,
    signals: np.ndarray,
    nuggets: np.ndarray,
) -> np.ndarray:
    """Every combination as rows: lengthscale per dimension..., warp a, warp b, smoothness ν, signal, nugget."""
    axes = np.meshgrid(*lengthscales, np.arange(len(warps)), smoothness, signals, nuggets, indexing="ij")
    flat = [axis.ravel() for axis in axes]
    warp = np.asarray(warps)[flat[len(lengthscales)].astype(int)]
    return np.column_stack([*flat[: len(lengthscales)], warp, *flat[len(lengthscales) + 1 :]])


MATERN = {
    0.5: lambda distance: np.exp(-distance),
    1.5: lambda distance: (1 + np.sqrt(3.0) * distance) * np.exp(-np.sqrt(3.0) * distance),
    2.5: lambda distance: (1 + np.sqrt(5.0) * distance + 5.0 * distance**2 / 3) * np.exp(-np.sqrt(5.0) * distance),
}
"""Matérn correlation by smoothness ν, as a function of the lengthscale-scaled distance."""


def kernel(a: np.ndarray, b: np.ndarray, settings: np.ndarray, kink: float | None = None) -> np.ndarray:
    """Prior covariance of one component's curve, level included: (settings, len(a), len(b)); the first axis warped
    by `kinked` at `kink`, or by the Kumaraswamy CDF when it is None."""
    dims = settings.shape[1] + WARP_LOW
    warp = _warped if kink is None else partial(kinked, kink=kink)
    first = [warp(points[:, 0], settings) for points in (a, b)]
    squared = (first[0][:, :, None] - first[1][:, None, :]) ** 2 / settings[:, None, None, 0] ** 2
    for dim in range(1, dims):
        squared = squared + (a[None, :, None, dim] - b[None, None, :, dim]) ** 2 / settings[:, None, None, dim] ** 2
    scaled = np.sqrt(squared)
    correlation = np.empty_like(scaled)
    for smoothness, shape in MATERN.items():
        chosen = settings[:, SMOOTHNESS] == smoothness
        correlation[chosen] = shape(scaled[chosen])
    return settings[:, SIGNAL, None, None] * correlation + OFFSET_VARIANCE


def _warped(values: np.ndarray, settings: np.ndarray) -> np.ndarray:
    """The first input axis through each setting's Kumaraswamy CDF, back on [-1, 1]: (settings, len(values))."""
    unit = np.clip((values + 1) / 2, 0.0, 1.0)[None, :]
    low, high = settings[:, WARP_LOW, None], settings[:, WARP_HIGH, None]
    return 2 * (1 - (1 - unit**low) ** high) - 1


def kinked(values: np.ndarray, settings: np.ndarray, kink: float) -> np.ndarray:
    """The first input axis stretched linearly on each side of `kink` (in (-1, 1)), ends kept at -1 and 1:
    (settings, len(values)). A setting's warp (a, b) reads as the high side's slope over the low side's, a / b, so
    (1, 0.5) makes the curve change twice as fast above the kink as below it, as the Kumaraswamy warp (1, 0.5)
    does at the range's high end. Bent at a curve's peak, each setting asks whether the fall is sharper on one side
    of it than on the other; the Kumaraswamy warp stretches an end of the range, which a peak far from that end also
    asks for (a long flank a stationary curve cannot follow)."""
    unit = np.clip(values, -1.0, 1.0)[None, :]
    # The kink maps to `bend`, chosen so that (1 - bend) / (1 - kink) = a / b · (1 + bend) / (1 + kink).
    relative = settings[:, WARP_LOW, None] / settings[:, WARP_HIGH, None] * (1 - kink) / (1 + kink)
    bend = (1 - relative) / (1 + relative)
    below = -1 + (unit + 1) * (bend + 1) / (kink + 1)
    above = bend + (unit - kink) * (1 - bend) / (1 - kink)
    return np.where(unit < kink, below, above)


def log_evidence(data: GPData, grid: np.ndarray) -> np.ndarray:
    """Log marginal likelihood of one component's rows under each setting of `grid` (up to a constant):
    (settings,), or (settings, k) when `data.y` holds k tables, each setting's covariance factored once for all."""
    columns = data.y.reshape(len(data.y), -1)
    result = []
    for chunk in np.array_split(grid, max(1, -(-len(grid) // SETTINGS_PER_CHUNK))):
        lower = np.linalg.cholesky(_train_covariance(data, [chunk]))
        whitened = solve_triangular(lower, np.broadcast_to(columns, (len(chunk), *columns.shape)), lower=True)
        log_det = 2 * np.log(np.diagonal(lower, axis1=1, axis2=2)).sum(axis=1)
        result.append(-0.5 * (whitened**2).sum(axis=1) - 0.5 * log_det[:, None])
    return np.concatenate(result).reshape(len(grid), *data.y.shape[1:])


def evidence_weights(log_evidence_values: np.ndarray) -> np.ndarray:
    """Posterior weights of the settings (the first axis; one column per table) under a flat prior on the grid."""
    shifted = np.exp(log_evidence_values - log_evidence_values.max(axis=0))
    return shifted / shifted.sum(axis=0)


def _train_covariance(data: GPData, settings: list[np.ndarray]) -> np.ndarray:
    """(m, n, n) covariance of the rows for m combinations; settings[c] (m, d+2) is component c's setting."""
    covariance = _noise_covariance(data, np.column_stack([setting[:, NUGGET] for setting in settings]))
    for component, setting in enumerate(settings):
        rows = np.flatnonzero(data.components == component)
        block = np.ix_(rows, rows)
        diagonal = (JITTER * setting[:, SIGNAL])[:, None, None] * np.eye(len(rows))
        covariance[:, block[0], block[1]] += kernel(data.coords[rows], data.coords[rows], setting, data.kink) + diagonal
    return covariance


def _noise_covariance(data: GPData, nuggets: np.ndarray) -> np.ndarray:
    """(m, n, n) noise of the rows for m combinations of the components' nuggets (m, components): the known noise,
    each row's component's nugget, and the shared part of two components' nuggets on rows of one trial."""
    by_row = nuggets[:, data.components]
    covariance = data.noise + by_row[:, :, None] * np.eye(len(data.y))
    if data.shared is not None:
        covariance = covariance + data.shared * np.sqrt(by_row[:, :, None] * by_row[:, None, :])
    return covariance


def draw(
    data: GPData, settings: list[np.ndarray], per_setting: int, queries: list[np.ndarray], rng: np.random.Generator
) -> list[np.ndarray]:
    """Joint posterior samples of every component's curve (level included) at `queries[c]` (q_c, d).

    `settings[c]` (m, d+2) holds component c's setting in each of m combinations; each combination gives
    `per_setting` samples. Returns per component (m · per_setting, q_c), rows aligned across components: sample i
    of every component comes from one joint draw.
    """
    n_settings, n_rows = len(settings[0]), len(data.y)
    lower = np.linalg.cholesky(_train_covariance(data, settings))
    prior_queries, prior_rows = [], np.zeros((n_settings, per_setting, n_rows))
    for component, (setting, query) in enumerate(zip(settings, queries, strict=True)):
        rows = np.flatnonzero(data.components == component)
        both = np.concatenate([query, data.coords[rows]])
        unique, inverse = np.unique(setting, axis=0, return_inverse=True)
        factor = _factor(kernel(both, both, unique, data.kink))[inverse.ravel()]
        prior = factor @ rng.standard_normal((n_settings, len(both), per_setting))
        prior_queries.append(np.swapaxes(prior[:, : len(query)], 1, 2))
        prior_rows[:, :, rows] = np.swapaxes(prior[:, len(query) :], 1, 2)
    nuggets, inverse = np.unique(
        np.column_stack([setting[:, NUGGET] for setting in settings]), axis=0, return_inverse=True
    )
    noise_factor = _factor(_noise_covariance(data, nuggets))[inverse.ravel()]
    noise = noise_factor @ rng.standard_normal((n_settings, n_rows, per_setting))
    residual = data.y[None, :, None] - np.swapaxes(prior_rows, 1, 2) - noise
    solved = solve_triangular(lower, solve_triangular(lower, residual, lower=True), lower=True, trans="T")
    samples = []
    for component, (setting, query) in enumerate(zip(settings, queries, strict=True)):
        rows = np.flatnonzero(data.components == component)
        update = kernel(query, data.coords[rows], setting, data.kink) @ solved[:, rows]
        samples.append((prior_queries[component] + np.swapaxes(update, 1, 2)).reshape(-1, len(query)))
    return samples


def posterior_mean(data: GPData, grid: np.ndarray, weights: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The weight-averaged posterior mean of a one-component GP's curve at `query` (for contour maps), over the
    most likely settings that hold MEAN_WEIGHT of the weight."""
    order = np.argsort(weights)[::-1]
    kept = order[: np.searchsorted(np.cumsum(weights[order]), MEAN_WEIGHT) + 1]
    total = np.zeros(len(query))
    for chunk in np.array_split(kept, max(1, -(-len(kept) // 8))):
        covariance = _train_covariance(data, [grid[chunk]])
        solved = np.linalg.solve(covariance, np.broadcast_to(data.y, (len(chunk), len(data.y)))[..., None])[..., 0]
        total += weights[chunk] @ np.einsum("mqn,mn->mq", kernel(query, data.coords, grid[chunk], data.kink), solved)
    return total / weights[kept].sum()


def loo_residuals(data: GPData, setting: np.ndarray) -> np.ndarray:
    """Leave-one-out residuals of a one-component GP's rows under one setting: [K⁻¹y]_i / [K⁻¹]_ii."""
    inverse = np.linalg.inv(_train_covariance(data, [setting[None, :]])[0])
    return (inverse @ data.y) / np.diagonal(inverse)


def _factor(covariance: np.ndarray) -> np.ndarray:
    """A factor R with R Rᵀ ≈ covariance for each matrix: Cholesky with jitter, else a clipped eigen-root."""
    scale = np.maximum(np.diagonal(covariance, axis1=-2, axis2=-1).max(axis=-1), 1e-12)
    try:
        return np.linalg.cholesky(covariance + JITTER * scale[..., None, None] * np.eye(covariance.shape[-1]))
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(covariance)
        return vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]
