"""Which invariant explains the scores: lr/bs, lr/sqrt(bs), or lr and bs separately; and the free exponent α.

With z = log10(lr) - α·log10(bs), score is modelled as a quadratic in z (plus task offsets for a category): α = 1 is
lr/bs (SmolTulu), α = 0.5 is lr/sqrt(bs) (Adam square-root scaling). A quadratic describes a peak, not the chance
floor a run sinks to far from it nor a tail that stops falling, and fitted to those too it misplaces α (lr/bs data
with a floor read as lr/sqrt(bs)): every model therefore sees each task's best PEAK_SHARE of grid points
(`peak_of`). `separate` is the full quadratic surface in log10(lr), log10(bs) with interaction, which contains both.
Models are compared by leave-one-out CV RMSE over grid points and by AIC. `chosen` marks the invariant with the
lower CV RMSE, and the other one too unless it loses by more than TIE_Z = 1.96 standard errors of the paired LOO
differences: two equally simple models the data cannot tell apart are both chosen, so a near tie reads as undecided,
not as a verdict. `separate` is chosen alone where it beats the best invariant by more than one standard error (the
one-standard-error rule: prefer the simpler model the data cannot reject) and by at least 5% of its CV RMSE (a
difference worth acting on).

α is also estimated freely: the weighted RSS is profiled over a grid of α, refined by a parabola through the
best three, with a percentile CI over the sweep's shared bootstrap resamples (`TrialResamples`), each of which picks
its own peak points. Every α's normal equations are polynomials in α of the sums of w·u^a·v^b (u, v = scaled log10
lr, log10 bs), so each resample needs those few sums only, one matrix product for all resamples, whatever the number
of α values.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from math import comb

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.estimates import wls
from analysis.estimates.intervals import Interval
from analysis.estimates.series import Series

INVARIANTS = {"lr/bs": 1.0, "lr/sqrt(bs)": 0.5}
PEAK_SHARE = 0.6
"""Each task's share of its grid points, the best by score, that the models are fitted to."""
SEPARATE = "separate"
ALPHA_GRID = np.linspace(-1.0, 3.0, 81)
"""Where the free exponent is searched: a CI that reaches either end is open (the data put α beyond it)."""
MIN_RELATIVE_GAIN = 0.05
"""`separate` must also cut the CV RMSE by this fraction: on a huge grid a negligible gain is still > 1 SE."""
RESAMPLE_CHUNK_CELLS = 2_000_000
"""Resamples × rows handled at once by α's bootstrap (`TrialResamples.chunks`): about 16 MB per array."""
TIE_Z = 1.96
"""Standard errors of the paired LOO differences by which the best of equally simple models must beat another for
that one to be dropped (a two-sided 95% test): a smaller lead is a tie, and both stay chosen."""
COLUMNS = [
    "level", "name", "invariant", "cv_rmse", "aic", "chosen", "alpha_hat", "alpha_ci_low", "alpha_ci_high",
    "alpha_ci_low_open", "alpha_ci_high_open",
]  # fmt: skip
POOLED_POWERS = [(a, b) for a in range(5) for b in range(5 - a)]
"""(a, b) of the pooled sums w·u^a·v^b: up to degree 4, for the z² × z² and surface × surface entries."""
LOW_POWERS = [(a, b) for a in range(3) for b in range(3 - a)]
"""(a, b) up to degree 2: the sums with y, and each task's sums (its offset × the curve's terms)."""
SURFACE_TERMS = [(1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
"""The `separate` surface's columns after the offsets: u, v, u², u·v, v²."""


def peak_of(series: Series) -> Series:
    """`series` on each task's best PEAK_SHARE of grid points (y is higher-is-better) and those points' trials."""
    points = series.points
    in_peak = _in_peak(points["y"].to_numpy()[None, :], points["task_code"].to_numpy(), len(series.tasks))[0]
    kept = points[in_peak].reset_index(drop=True)
    keys = ["task_code", "log10_lr", "log10_bs"]
    return replace(series, points=kept, rows=series.rows.merge(kept[keys], on=keys))


def can_compare(series: Series) -> bool:
    """The surface needs, near each task's peak (`peak_of`), two batch sizes, three learning rates and a grid point to
    spare per parameter, and a score that changes (not a flat series: every model fits a constant exactly)."""
    return _enough_points(peak_of(series))


def _enough_points(peak: Series) -> bool:
    points = peak.points
    n_params = len(peak.tasks) + len(SURFACE_TERMS)
    enough = points["batch_size"].nunique() >= 2 and points["learning_rate"].nunique() >= 3
    return enough and len(points) > n_params and not peak.is_flat


def compare_invariants(series: Series, resamples: TrialResamples) -> pd.DataFrame:
    """One row per model (lr/bs, lr/sqrt(bs), separate) for this series, fitted near its peak (`peak_of`); empty when
    `can_compare` is False."""
    peak = peak_of(series)
    if not _enough_points(peak):
        return pd.DataFrame(columns=COLUMNS)
    points = peak.points
    y, weights = points["y"].to_numpy(), points["weight"].to_numpy()
    fits = {name: wls.fit(_z_design(peak, points, alpha), y, weights) for name, alpha in INVARIANTS.items()}
    fits[SEPARATE] = wls.fit(_surface_design(peak, points), y, weights)
    alpha = _free_alpha(series, peak, resamples).as_columns("alpha_hat", "alpha_")
    chosen = chosen_models({name: fit.loo_residuals for name, fit in fits.items()}, SEPARATE)
    n_points = len(points)
    rows = [
        {
            "level": series.level,
            "name": series.name,
            "invariant": name,
            "cv_rmse": fit.cv_rmse,
            "aic": n_points * np.log(fit.wrss / n_points) + 2 * len(fit.coef),
            "chosen": name in chosen,
            **alpha,
        }
        for name, fit in fits.items()
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def chosen_models(loo_residuals: dict[str, np.ndarray], complex_name: str) -> list[str]:
    """The models the data ask for. `complex_name` alone where it beats the simple model (every other key) with the
    lowest CV RMSE by more than one standard error of the paired leave-one-out differences and by at least
    MIN_RELATIVE_GAIN of its CV RMSE (the one-standard-error rule: prefer what the data cannot reject). Otherwise
    that simple model and every other simple one it does not beat by more than TIE_Z standard errors: equally simple
    models are kept together until the data separate them (one that cannot predict a left-out point never is)."""
    rmse = {name: float(np.sqrt(np.mean(residuals**2))) for name, residuals in loo_residuals.items()}
    simple = sorted((name for name in rmse if name != complex_name), key=lambda name: rmse[name])
    best = simple[0]
    if complex_name in loo_residuals:
        worth_it = rmse[complex_name] <= (1 - MIN_RELATIVE_GAIN) * rmse[best]
        if worth_it and _lead(loo_residuals[complex_name], loo_residuals[best]) > 1.0:
            return [complex_name]
    tied = [
        name
        for name in simple[1:]
        if np.isfinite(rmse[name]) and _lead(loo_residuals[best], loo_residuals[name]) <= TIE_Z
    ]
    return [best, *tied]


def _lead(better: np.ndarray, worse: np.ndarray) -> float:
    """How many standard errors of the paired differences of squared LOO residuals `better` leads `worse` by (inf
    where every difference is the same positive number; 0 where the differences are too few or not finite)."""
    gain = worse**2 - better**2
    if not np.isfinite(gain).all() or gain.size < 2:
        return 0.0
    standard_error = gain.std(ddof=1) / np.sqrt(gain.size)
    if standard_error == 0:
        return np.inf if gain.mean() > 0 else 0.0
    return float(gain.mean() / standard_error)


def _coordinates(series: Series, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
    """u, v: log10 lr and log10 bs scaled to [-1, 1] over the series' grid; and hv/hu, which turns an α in
    log10 units into the α of u and v (a quadratic in z fits the same after any affine change of z)."""
    scaled, halves = [], []
    for column in ("log10_lr", "log10_bs"):
        values = series.points[column]
        center, half = (values.max() + values.min()) / 2, (values.max() - values.min()) / 2
        scaled.append((table[column].to_numpy() - center) / half)
        halves.append(half)
    return scaled[0], scaled[1], halves[1] / halves[0]


def _z_design(series: Series, table: pd.DataFrame, alpha: float) -> np.ndarray:
    u, v, alpha_scale = _coordinates(series, table)
    z = u - alpha * alpha_scale * v
    return wls.with_offsets(table["task_code"].to_numpy(), len(series.tasks), z, z**2)


def _surface_design(series: Series, table: pd.DataFrame) -> np.ndarray:
    u, v, _ = _coordinates(series, table)
    terms = [u**a * v**b for a, b in SURFACE_TERMS]
    return wls.with_offsets(table["task_code"].to_numpy(), len(series.tasks), *terms)


def _free_alpha(series: Series, peak: Series, resamples: TrialResamples) -> Interval:
    """α minimising the weighted RSS on the peak's grid points (`peak_of`), with its bootstrap percentile CI (open at
    ALPHA_GRID's ends). Each resample repeats the whole estimate, the choice of peak points included: its own trials'
    means pick each task's best PEAK_SHARE of grid points. Which points make the peak moves with the noise, most
    where the peak is skewed, and a CI over a fixed choice leaves that out."""
    n_tasks = len(series.tasks)
    alphas = ALPHA_GRID * _coordinates(peak, peak.points)[2]
    point_sums = _power_moments(peak, peak.points).sum(axis=0)
    _, profile = wls.solve_normal(*_z_normal_equations(point_sums, n_tasks, alphas))
    boot_sums = _resampled_peak_sums(series, resamples, _power_moments(peak, series.rows))
    _, boot_profile = wls.solve_normal(*_z_normal_equations(boot_sums, n_tasks, alphas))
    valid = wls.identifiable(_surface_gram(boot_sums, n_tasks))
    boot_alpha = _refined_argmin(boot_profile[valid])
    ci = Interval.from_samples(boot_alpha, (ALPHA_GRID[0], ALPHA_GRID[-1]))
    return Interval(float(_refined_argmin(profile[None, :])[0]), ci.low, ci.high, ci.low_open, ci.high_open)


class TrialResamples:
    """The bootstrap's resamples of one sweep's trials, shared by all its series, with each task's peak in each
    resample. A task's peak depends only on its own trials (a series' other tasks, and the z-scoring a category gives
    it, leave its ranking alone), so it is found once per task and reused by every series that holds the task: kept
    as one boolean per resample and grid point (7 MB for 1000 resamples of a task scored at 7,000 grid points)."""

    def __init__(self, counts: np.ndarray):
        self.counts = counts
        """(resamples, trials): how often each resample draws each of the sweep's ok trials."""
        self._peaks: dict[str, np.ndarray] = {}

    @classmethod
    def draw(cls, n_trials: int, n_bootstrap: int, rng: np.random.Generator) -> TrialResamples:
        """`n_bootstrap` resamples with replacement of a sweep's `n_trials` ok trials."""
        return cls(wls.bootstrap_counts(n_trials, n_bootstrap, rng))

    def task_peaks(self, task: str, rows: pd.DataFrame) -> np.ndarray:
        """(resamples, the task's grid points in (log10_lr, log10_bs) order): whether each point is in the task's
        best PEAK_SHARE by the means of `quality` over the trials that resample drew (a point none of whose trials
        it drew is in none). `rows` are the task's rows (the same in every series of the sweep)."""
        if task not in self._peaks:
            point = rows.groupby(["log10_lr", "log10_bs"], sort=True).ngroup().to_numpy()
            shape = (len(point), point.max() + 1)
            indicator = sparse.csr_array((np.ones(len(point)), (np.arange(len(point)), point)), shape=shape)
            trial, quality = rows["trial"].to_numpy(), rows["quality"].to_numpy()
            peaks = []
            for chunk in self.chunks(len(rows)):
                drawn = self.counts[chunk][:, trial]
                with np.errstate(divide="ignore", invalid="ignore"):
                    means = (drawn * quality) @ indicator / (drawn @ indicator)
                peaks.append(_in_peak(means, np.zeros(means.shape[1], dtype=int), 1))
            self._peaks[task] = np.concatenate(peaks)
        return self._peaks[task]

    def chunks(self, n_rows: int) -> list[slice]:
        """The resamples in slices of RESAMPLE_CHUNK_CELLS // n_rows: a huge sweep needs no (resamples × rows) array."""
        step = max(1, RESAMPLE_CHUNK_CELLS // n_rows)
        return [slice(start, start + step) for start in range(0, len(self.counts), step)]


def _resampled_peak_sums(series: Series, resamples: TrialResamples, moments: np.ndarray) -> np.ndarray:
    """(resamples, K): each resample's sums of the series' rows' `moments` over the grid points in its peak
    (`TrialResamples.task_peaks`, each task's own)."""
    rows = series.rows
    point = rows.groupby(["task_code", "log10_lr", "log10_bs"], sort=True).ngroup().to_numpy()
    by_task = rows.groupby("task_code")
    peaks = [resamples.task_peaks(task, by_task.get_group(code)) for code, task in enumerate(series.tasks)]
    trial = rows["trial"].to_numpy()
    sums = []
    for chunk in resamples.chunks(len(rows)):
        in_peak = np.concatenate([task_peaks[chunk] for task_peaks in peaks], axis=1)
        sums.append((resamples.counts[chunk][:, trial] * in_peak[:, point]) @ moments)
    return np.concatenate(sums)


def _in_peak(scores: np.ndarray, task_of_point: np.ndarray, n_tasks: int) -> np.ndarray:
    """(draws, points): whether a grid point is among its task's best PEAK_SHARE by `scores` (draws, points), the
    cut interpolated linearly between ranks; a NaN score (a point a resample did not draw) is in no peak."""
    in_peak = np.zeros(scores.shape, dtype=bool)
    for task in range(n_tasks):
        own = task_of_point == task
        with warnings.catch_warnings():  # a resample may draw none of a task's trials: no cut, no peak
            warnings.simplefilter("ignore", RuntimeWarning)
            cut = np.nanquantile(scores[:, own], 1 - PEAK_SHARE, axis=1)
        in_peak[:, own] = scores[:, own] >= cut[:, None]
    return in_peak


def _power_moments(series: Series, table: pd.DataFrame) -> np.ndarray:
    """Per row: w·u^a·v^b (POOLED_POWERS), w·y·u^a·v^b (LOW_POWERS), w·y², then per task w·u^a·v^b (LOW_POWERS)
    and w·y, each a block of n_tasks columns."""
    u, v, _ = _coordinates(series, table)
    weights, y = table["weight"].to_numpy(), table["y"].to_numpy()
    in_task = np.eye(len(series.tasks))[table["task_code"].to_numpy()]
    pooled = [weights * u**a * v**b for a, b in POOLED_POWERS]
    response = [weights * y * u**a * v**b for a, b in LOW_POWERS]
    per_task = [in_task * (weights * u**a * v**b)[:, None] for a, b in LOW_POWERS]
    return np.column_stack([*pooled, *response, weights * y**2, *per_task, in_task * (weights * y)[:, None]])


def _unpack(sums: np.ndarray, n_tasks: int) -> tuple[dict, dict, np.ndarray, dict, np.ndarray]:
    """Split summed power moments (..., K) into pooled {(a, b): (..., 1)}, response {(a, b): (..., 1)}, yy (...),
    per-task {(a, b): (..., n_tasks)} and per-task Σ w·y (..., n_tasks)."""
    pooled = {power: sums[..., index, None] for index, power in enumerate(POOLED_POWERS)}
    start = len(POOLED_POWERS)
    response = {power: sums[..., start + index, None] for index, power in enumerate(LOW_POWERS)}
    start += len(LOW_POWERS)
    yy = sums[..., start]
    start += 1
    per_task = {
        power: sums[..., start + index * n_tasks : start + (index + 1) * n_tasks]
        for index, power in enumerate(LOW_POWERS)
    }
    task_y = sums[..., start + len(LOW_POWERS) * n_tasks :]
    return pooled, response, yy, per_task, task_y


def _z_power(sums: dict, k: int, alphas: np.ndarray) -> np.ndarray:
    """Σ w·(u - α·v)^k for every α, from the sums of w·u^a·v^b: (..., len(alphas), columns)."""
    return sum(comb(k, j) * (-alphas[:, None]) ** j * sums[(k - j, j)][..., None, :] for j in range(k + 1))


def _z_normal_equations(
    sums: np.ndarray, n_tasks: int, alphas: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal equations of [task offsets, z, z²] for every α: gram (..., A, T+2, T+2), rhs (..., A, T+2), yy."""
    pooled, response, yy, per_task, task_y = _unpack(sums, n_tasks)
    size = n_tasks + 2
    gram = np.zeros((*sums.shape[:-1], len(alphas), size, size))
    tasks = np.arange(n_tasks)
    gram[..., tasks, tasks] = _z_power(per_task, 0, alphas)
    for k in (1, 2):
        gram[..., :n_tasks, n_tasks + k - 1] = gram[..., n_tasks + k - 1, :n_tasks] = _z_power(per_task, k, alphas)
    for row, column in ((0, 0), (0, 1), (1, 1)):
        gram[..., n_tasks + row, n_tasks + column] = _z_power(pooled, row + column + 2, alphas)[..., 0]
        gram[..., n_tasks + column, n_tasks + row] = gram[..., n_tasks + row, n_tasks + column]
    curve = [_z_power(response, k, alphas) for k in (1, 2)]
    offsets = np.broadcast_to(task_y[..., None, :], (*task_y.shape[:-1], len(alphas), n_tasks))
    return gram, np.concatenate([offsets, *curve], axis=-1), np.broadcast_to(yy[..., None], gram.shape[:-2])


def _surface_gram(sums: np.ndarray, n_tasks: int) -> np.ndarray:
    """Normal matrix of the `separate` surface design (..., T+5, T+5): singular when a resample drew too few
    distinct grid points to fit any of the models."""
    pooled, _, _, per_task, _ = _unpack(sums, n_tasks)
    size = n_tasks + len(SURFACE_TERMS)
    gram = np.zeros((*sums.shape[:-1], size, size))
    tasks = np.arange(n_tasks)
    gram[..., tasks, tasks] = per_task[(0, 0)]
    for row, (a, b) in enumerate(SURFACE_TERMS, start=n_tasks):
        gram[..., :n_tasks, row] = gram[..., row, :n_tasks] = per_task[(a, b)]
        for column, (c, d) in enumerate(SURFACE_TERMS, start=n_tasks):
            gram[..., row, column] = pooled[(a + c, b + d)][..., 0]
    return gram


def _refined_argmin(profile: np.ndarray) -> np.ndarray:
    """Per row, the grid α of the smallest value, moved to the vertex of the parabola through it and its two
    neighbours (kept on the grid at its ends)."""
    best = np.argmin(profile, axis=1)
    inner = np.clip(best, 1, profile.shape[1] - 2)
    rows = np.arange(len(profile))
    left, middle, right = (profile[rows, inner + shift] for shift in (-1, 0, 1))
    curvature = left - 2 * middle + right
    step = ALPHA_GRID[1] - ALPHA_GRID[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curvature > 0, 0.5 * (left - right) / curvature, 0.0)
    refined = ALPHA_GRID[inner] + step * np.clip(offset, -1, 1)
    at_end = (best == 0) | (best == profile.shape[1] - 1)
    return np.where(at_end, ALPHA_GRID[best], refined)
