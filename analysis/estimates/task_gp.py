"""A Gaussian process per task: over x = log10(lr/bs) (the ratio's optimum), or over x and log10 bs (the
optimal learning rate per batch size, and the paper's contour figure); and joint draws of several tasks' curves.

Each task gets its own GP, so its own shape: a category's curve is then the average of its tasks' z-scored
sample curves, with no assumption that its tasks share a shape. The GP works on the task's per-grid-point
aggregates, scaled and standardised; sweeps with more distinct values than a GP needs (thousands of grid points)
are first coarsened into bins (inverse-variance weighted means), which keeps every fit to a few dozen points. A bin
mixes trials, so coarsened rows carry no trial-shared noise. Samples come back in the task's quality units
(y = sign · score: higher is better).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from analysis.estimates import gp
from analysis.estimates.series import Series, mean_pair_correlation

N_SAMPLES = 2400
"""Joint posterior draws per analysis (the 2.5% tails of an estimate then rest on 60 draws each)."""
MAX_BINS = {1: 60, 2: 8}
"""Per input axis: at most this many distinct values before the points are coarsened into bins."""
WARPS = np.array([[1.0, 1.0], [1.0, 0.5], [1.0, 0.25], [0.5, 1.0]])
"""(a, b) of the ratio axis' warp: none, the high end stretched (twice, four times), the low end stretched."""
HYPER_GRIDS = {
    1: gp.hyper_grid(
        [np.geomspace(0.08, 4.0, 10)],
        WARPS,
        np.array([1.5, 2.5]),
        np.geomspace(0.05, 5.0, 5),
        np.array([0.0, 0.01, 0.05, 0.2, 0.8]),
    ),
    2: gp.hyper_grid(
        [np.geomspace(0.1, 4.0, 6), np.array([0.5, 1.5, 5.0, 20.0])],
        WARPS[:2],
        np.array([2.5]),
        np.array([0.1, 0.5, 2.5]),
        np.array([0.0, 0.05, 0.3]),
    ),
}
"""Lengthscales in scaled units (the task's range is [-1, 1]; a long log10-bs lengthscale is ratio invariance),
warps, Matérn smoothness, signal variance and nugget in units of the task's variance."""


def _log_odds(share: np.ndarray) -> np.ndarray:
    return np.log(share / (1 - share))


def _stretched(grid: np.ndarray) -> np.ndarray:
    """(settings, 2) bool: which settings of `grid` stretch the low and the high end of the ratio axis."""
    return grid[:, [gp.WARP_LOW, gp.WARP_HIGH]] < 1.0


SKEW_PRIOR_LOG_ODDS = _log_odds(_stretched(HYPER_GRIDS[1]).mean(axis=0))
"""(low, high): the flat prior's log odds, over the ratio fit's grid, on settings that stretch that end of the ratio
axis (1:3 and 1:1)."""
MIN_SHARED_POINTS = 5
"""Grid points two tasks must share before their residuals' correlation is read as their trials' shared luck."""
PEAK_POINTS = 201
"""Points of the scaled ratio axis where the posterior mean is evaluated: the peak the skew evidence bends at, and
the curve its symmetric null tables mirror."""
KINK_LIMIT = 0.95
"""The bend of the skew evidence's warp stays this far inside the scaled range's ends (-1, 1), so both sides keep a
slope; a peak at an end then leaves one side holding every point."""
NULL_TABLES = 32
"""Tables of a symmetric peak drawn per task to learn how far its grid, noise and peak's place alone lean the skew
evidence."""
SETTINGS_DRAWN = 24
"""Hyperparameter settings drawn from their posterior weights per draw; each gives an equal share of the samples."""


@dataclass(frozen=True)
class TaskGP:
    """The GP of one task over `columns`, with its hyperparameters' posterior weights."""

    series: Series
    columns: tuple[str, ...]
    data: gp.GPData
    points: pd.DataFrame
    """The rows the GP saw (coarsened when needed), in the series' columns and units."""
    center: np.ndarray
    half: np.ndarray
    y_mean: float
    y_scale: float
    weights: np.ndarray

    @property
    def grid(self) -> np.ndarray:
        return HYPER_GRIDS[len(self.columns)]

    def scaled(self, coords: np.ndarray) -> np.ndarray:
        """Original coordinates (q, d) on the GP's scale."""
        return (np.asarray(coords, dtype=float) - self.center) / self.half

    def mean(self, coords: np.ndarray) -> np.ndarray:
        """Posterior mean (weight-averaged over settings) of the task's curve at original coords (q, d)."""
        return self.y_mean + self.y_scale * gp.posterior_mean(self.data, self.grid, self.weights, self.scaled(coords))

    def loo_residuals(self) -> np.ndarray:
        """Leave-one-out residuals of the rows under the most likely setting, in the task's units."""
        return self.y_scale * gp.loo_residuals(self.data, self.grid[np.argmax(self.weights)])

    def nugget_variance(self) -> float:
        """The nugget averaged over the settings' weights, in the task's units: the noise when none is known."""
        return float(self.weights @ self.grid[:, gp.NUGGET]) * self.y_scale**2

    @cached_property
    def skew_evidence(self) -> np.ndarray:
        """(low, high): the log Bayes factor of this task's data (a ratio fit) for the settings that stretch that
        side of its peak (room for a sharper fall there than a stationary curve allows) against those that do not,
        less what a symmetric peak would show in its place.

        The settings are weighed again with the ratio axis warped by `gp.kinked`, bent at the posterior mean's peak:
        the fit's own warp stretches an end of the range, and a peak far from an end leans the evidence to that end
        whatever the peak's shape. A peak near an end still leans it: its far flank holds most of the points, and the
        curve's turn over the short side is seen at few. So the same evidence is read off NULL_TABLES tables of a
        symmetric peak at the same place (`_symmetric_tables`; a fixed seed keeps the analysis deterministic), and
        where their median would already tip that side past its prior odds, the task's evidence is lowered by as
        much: a symmetric peak then reads as sharp on that side about as often as not, not nearly always."""
        query = np.linspace(-1.0, 1.0, PEAK_POINTS)
        mean = gp.posterior_mean(self.data, self.grid, self.weights, query[:, None])
        kink = float(np.clip(query[np.argmax(mean)], -KINK_LIMIT, KINK_LIMIT))
        tables = np.column_stack([self.data.y, self._symmetric_tables(query, mean, kink)])
        weights = gp.evidence_weights(gp.log_evidence(replace(self.data, y=tables, kink=kink), self.grid))
        share = np.clip(_stretched(self.grid).T @ weights, 1e-12, 1 - 1e-12)
        evidence = _log_odds(share) - SKEW_PRIOR_LOG_ODDS[:, None]
        return evidence[:, 0] - np.maximum(0.0, np.median(evidence[:, 1:], axis=1) + SKEW_PRIOR_LOG_ODDS)

    def _symmetric_tables(self, query: np.ndarray, mean: np.ndarray, bend: float) -> np.ndarray:
        """(rows, NULL_TABLES) scores of a peak symmetric about `bend` at the rows' places: the posterior `mean`
        (known at `query`) on the side of the bend that reaches farther, mirrored onto the other side, plus the
        rows' stated noise and the fit's nugget, in the GP's standardised units. The longer side holds a value for
        every distance from the bend, so the peak has no seam where a mirror would leave the range."""
        at = self.data.coords[:, 0]
        on_longer_side = (at <= bend) if bend > 0 else (at >= bend)
        symmetric = np.interp(np.where(on_longer_side, at, 2 * bend - at), query, mean)
        noise_sd = np.sqrt(np.diagonal(self.data.noise) + self.nugget_variance() / self.y_scale**2)
        draws = np.random.default_rng(0).standard_normal((len(at), NULL_TABLES))
        return symmetric[:, None] + noise_sd[:, None] * draws

    def at_setting(self, index: int) -> TaskGP:
        """This GP with all the weight on setting `index` of its grid."""
        weights = np.zeros_like(self.weights)
        weights[index] = 1.0
        return replace(self, weights=weights)

    def at_top_setting(self) -> TaskGP:
        """This GP with all the weight on its most likely setting."""
        return self.at_setting(int(np.argmax(self.weights)))

    def top_setting(self) -> dict[str, object]:
        """The most likely setting in the task's units (lengthscales in decades) and its weight."""
        setting = self.grid[np.argmax(self.weights)]
        names = {"x": "lengthscale_decades", "log10_bs": "bs_lengthscale_decades"}
        return {
            **{names[column]: float(setting[index] * self.half[index]) for index, column in enumerate(self.columns)},
            "warp": [float(setting[gp.WARP_LOW]), float(setting[gp.WARP_HIGH])],
            "smoothness": float(setting[gp.SMOOTHNESS]),
            "signal_sd": float(np.sqrt(setting[gp.SIGNAL]) * self.y_scale),
            "nugget_sd": float(np.sqrt(setting[gp.NUGGET]) * self.y_scale),
            "top_weight": float(self.weights.max()),
        }


def sharp_sides(evidence: list[np.ndarray]) -> tuple[bool, bool]:
    """(low, high): whether a curve of tasks sharing one shape falls sharply on that side: the tasks' data, each
    one's `skew_evidence`, leave the settings that stretch it more likely than not. Their Bayes factors multiply
    onto one prior: asking whether any task's data lean that way finds a lean on noise alone in most categories
    where the grid is too coarse to tell."""
    return tuple(bool(side) for side in SKEW_PRIOR_LOG_ODDS + np.sum(evidence, axis=0) > 0.0)


def fit_task_gp(series: Series, columns: tuple[str, ...]) -> TaskGP:
    """Fit the GP of a task series over `columns` (`("x",)` or `("x", "log10_bs")`)."""
    points = _coarsened(series.points, columns)
    values = points[list(columns)].to_numpy(dtype=float)
    low, high = values.min(axis=0), values.max(axis=0)
    center, half = (high + low) / 2, np.where(high > low, (high - low) / 2, 1.0)
    y = points["y"].to_numpy()
    y_mean, y_scale = float(y.mean()), float(y.std()) or 1.0
    data = gp.GPData(
        coords=(values - center) / half,
        y=(y - y_mean) / y_scale,
        noise=np.diag(points["noise_variance"].fillna(0.0).to_numpy()) / y_scale**2,
        components=np.zeros(len(points), dtype=int),
    )
    weights = gp.evidence_weights(gp.log_evidence(data, HYPER_GRIDS[len(columns)]))
    return TaskGP(series, columns, data, points, center, half, y_mean, y_scale, weights)


def joint_draw(
    models: list[TaskGP],
    coords: np.ndarray,
    n_samples: int,
    rng: np.random.Generator,
    correlation: float | None = None,
) -> dict[str, np.ndarray]:
    """Posterior samples (n, q) of every task's curve at original `coords` (q, d), by task name, drawn jointly:
    the trials the tasks share correlate their noise (`trial_correlation`, on the stated noise and on the noise the
    fits found beyond it alike), so sample i of every task comes from one joint draw (that pairs category contrasts).
    n is n_samples rounded up to a multiple of SETTINGS_DRAWN; each task's hyperparameter settings are drawn from
    its own posterior weights. `correlation`: `trial_correlation(models)` when the caller has it already."""
    correlation = trial_correlation(models) if correlation is None else correlation
    same_trial = _same_trial(models)
    data = gp.GPData(
        coords=np.concatenate([model.data.coords for model in models]),
        y=np.concatenate([model.data.y for model in models]),
        noise=_joint_noise(models, correlation, same_trial),
        components=np.concatenate([np.full(len(model.data.y), index) for index, model in enumerate(models)]),
        shared=correlation * (same_trial & ~np.eye(len(same_trial), dtype=bool)),
    )
    settings = [model.grid[rng.choice(len(model.weights), SETTINGS_DRAWN, p=model.weights)] for model in models]
    queries = [model.scaled(coords) for model in models]
    samples = gp.draw(data, settings, -(-n_samples // SETTINGS_DRAWN), queries, rng)
    return {model.series.name: model.y_mean + model.y_scale * one for model, one in zip(models, samples, strict=True)}


def with_noise_variance(series: Series, models: dict[str, TaskGP]) -> pd.DataFrame:
    """The series' points with `variance`: the noise variance of their seed mean as the data state it (lm-eval's
    stderr, the seeds' spread) plus the GP's nugget, the noise the fit found beyond it, as one run's: over a point's
    seeds it averages down like the rest of a run's noise (in the series' units). A stderr is a floor, never the
    whole noise: a fine-tuning seed's luck is in no stderr, and with one seed per point only the fit's scatter about
    the curve shows it. Where seeds repeat, their spread is measured and the nugget is mostly the curve's lack of fit;
    counted as one run's noise it still errs wider than leaving it out, while counting it whole at every seed mean
    would keep a point that many seeds have measured as uncertain as one run."""
    points = series.points
    beyond = {task: model.nugget_variance() for task, model in models.items() if task in series.tasks}
    found = points["task"].map(beyond).fillna(0.0) / points["task"].map(series.scales["spread"]) ** 2
    return points.assign(variance=points["noise_variance"].fillna(0.0) + found / points["n_seeds"])


def trial_correlation(models: list[TaskGP]) -> float:
    """How alike one trial's luck is across its tasks, in [0, 0.95]: from the seeds' deviations where grid points
    have several (`Series.shared_correlation`); with one seed, the mean correlation over task pairs of their fits'
    leave-one-out residuals at the grid points both scored. A curve's lack of fit that a category's tasks share
    counts there too, which errs towards wider intervals, never narrower."""
    if not models:
        return 0.0
    if any((model.series.points["n_seeds"] > 1).any() for model in models):
        return models[0].series.shared_correlation
    residuals = {
        model.series.name: pd.Series(model.loo_residuals(), index=model.points["point"].to_numpy())
        for model in models
        if (model.points["point"] >= 0).all()
    }
    return mean_pair_correlation(pd.DataFrame(residuals), MIN_SHARED_POINTS)


def _same_trial(models: list[TaskGP]) -> np.ndarray:
    """(n, n) whether two rows of the joint data are one grid point's (coarsened rows mix trials: never)."""
    point = np.concatenate([model.points["point"].to_numpy() for model in models])
    return (point[:, None] == point[None, :]) & (point[:, None] >= 0)


def _joint_noise(models: list[TaskGP], correlation: float, same_trial: np.ndarray) -> np.ndarray:
    """Each task's own stated noise on the diagonal; between tasks, the trial effect shared by rows of one grid
    point (each task's noise is on its own standardised scale; the correlation is scale-free)."""
    variance = np.concatenate([np.diagonal(model.data.noise) for model in models])
    noise = correlation * np.sqrt(variance[:, None] * variance[None, :]) * same_trial
    np.fill_diagonal(noise, variance)
    return noise


def _coarsened(points: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The points, or their inverse-variance weighted means per bin when an axis has too many values."""
    axes = ("x",) if columns == ("x",) else ("log10_lr", "log10_bs")
    limit = MAX_BINS[len(columns)]
    if all(points[axis].nunique() <= limit for axis in axes):
        return points
    keys = [pd.cut(points[axis], limit, labels=False) for axis in axes]
    known = points["noise_variance"].notna().all()
    weight = 1.0 / points["noise_variance"] if known else pd.Series(1.0, index=points.index)
    weighted = points[["x", "log10_lr", "log10_bs", "y"]].mul(weight, axis=0).assign(weight=weight)
    sums = weighted.groupby(keys).sum()
    binned = sums[["x", "log10_lr", "log10_bs", "y"]].div(sums["weight"], axis=0)
    binned["noise_variance"] = 1.0 / sums["weight"] if known else np.nan
    return binned.reset_index(drop=True).assign(point=-1)
