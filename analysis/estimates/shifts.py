"""Condition against condition: how far each category's optimal lr/bs moves (LoRA against full fine-tuning, DPO
against SFT, one model size against another), and, over three or more sizes, how it scales with parameters.

Each condition is its own sweep, fitted on its own (curves.py), so two conditions share no trial and no noise, and
their optima are independent. The shift b − a of two optima is the difference of their estimates, and its 95% CI
reads the posterior curves directly: the central 95% of the differences of every pair of the two optima's posterior
argmax draws (every pair: each condition's analysis seeds its draws alike, so the i-th draws of two conditions are not
independent). Where an optimum's range ends at a divergence frontier that may follow lr/bs, a smooth curve places the
peak before the cliff and is sure of it; the optimum's CI then reaches the tried ratio beyond the last that may have
scored best (optimum.py), and the side of the shift that this end pushes gains that widening as MOVER (Zou & Donner,
2008) adds half-widths: its squared half-width grows by the widened end's squared half-width less the posterior's.
The widening an optimum's own CI takes on a side its tasks' skew evidence calls sharp is left out where it stands
alone or where both optima's skews point one way: the difference already carries both conditions' posterior spread,
and two leans the same way cancel in it (the calibration runs that chose this: benchmarks/RESULTS.md, "The shift
between conditions"). Each optimum leans toward its peak's gentle side, so where the skews widened the two optima on
opposite sides (one peak falls sharply above its optimum, the other below) the two leans add, and the shift takes both
optima's skew widenings on the sides they push (RESULTS.md, "Two conditions skewed toward opposite sides"). An end is
open where the optimum's end that bounds it is open at the grid's edge or the frontier: the shift is then bounded by
the grids, not measured.

Across sizes, log10 of each category's optimum is a line in log10 parameters (Step Law's power law, per category),
fitted by weighted least squares with each optimum's CI as its known error (an open optimum has none and is left
out). Where the optima scatter more than their errors allow, the errors are scaled up by sqrt(chi²/dof) (the
Particle Data Group's scale factor) before the slope's CI is read. A prediction at another size carries the line's
uncertainty, which grows with the distance from the sizes measured, and says when it is an extrapolation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from analysis.estimates.curves import CurveFit
from analysis.estimates.intervals import TAILS, Interval
from analysis.estimates.optimum import posterior_optimum
from analysis.estimates.regret import REFERENCE, regret_table
from analysis.estimates.series import Series

Z = float(norm.ppf(TAILS[2]))
"""The normal quantile of the two-sided 95% interval every CI here is (1.96)."""

OPTIMA_COLUMNS = [
    "condition", "level", "name", "kind", "best_log10_ratio", "ci_low", "ci_high", "ci_low_open", "ci_high_open",
    "model_parameters",
]  # fmt: skip
SHIFT_COLUMNS = [
    "category", "condition_a", "condition_b", "shift_log10_ratio", "ci_low", "ci_high", "ci_low_open", "ci_high_open",
    "differ", "regret_b_at_a", "regret_ci_low", "regret_ci_high", "regret_metric",
]  # fmt: skip
LAW_COLUMNS = [
    "category", "n_sizes", "slope", "slope_ci_low", "slope_ci_high", "intercept", "scale_factor", "left_out",
]  # fmt: skip
PREDICTION_COLUMNS = [
    "category", "model_parameters", "best_log10_ratio", "ci_low", "ci_high", "lr_bs_ratio", "extrapolation",
]  # fmt: skip


@dataclass(frozen=True)
class ConditionFit:
    """One condition's fitted curves and series, as its own analysis made them."""

    label: str
    parameters: float
    fits: list[CurveFit]
    series: list[Series]

    def fit(self, level: str, name: str) -> CurveFit | None:
        """The condition's fit of one series (None where the condition has no such series)."""
        return next((fit for fit in self.fits if (fit.level, fit.name) == (level, name)), None)


def condition_optima(conditions: list[ConditionFit]) -> pd.DataFrame:
    """condition_optima.csv: each condition's optimum per category and over all tasks, with its 95% CI."""
    rows = [
        {
            "condition": condition.label,
            "level": fit.level,
            "name": fit.name,
            "kind": fit.kind,
            **fit.optimum.as_columns("best_log10_ratio"),
            "model_parameters": condition.parameters,
        }
        for condition in conditions
        for fit in condition.fits
        if fit.level in ("category", "all")
    ]
    return pd.DataFrame(rows, columns=OPTIMA_COLUMNS)


def shift(a: CurveFit, b: CurveFit) -> Interval:
    """b's optimum − a's with its 95% interval: the posterior draws' differences, each side further out by the
    widenings of the optima's ends that push it (a's high end and b's low end the low side, b's high end and a's low
    end the high side): the frontier's, and where the two optima's skews oppose (`_skews_oppose`), their skews'
    (module docstring); NaN where either optimum has no CI."""
    estimate = b.best_log10_ratio - a.best_log10_ratio
    first, second = (a.optimum, b.optimum) if _skews_oppose(a, b) else (a.frontier_optimum, b.frontier_optimum)
    if np.isnan([first.low, first.high, second.low, second.high]).any():
        return Interval(estimate, np.nan, np.nan)  # missing where a fit has no curve
    a_draws, b_draws = a.argmax_samples(), b.argmax_samples()
    (a_low, a_high), (b_low, b_high) = _widening(a, first, a_draws), _widening(b, second, b_draws)
    low, high = draws_difference(a_draws, b_draws)
    return Interval(
        estimate,
        estimate - np.sqrt(max(estimate - low, 0.0) ** 2 + a_high + b_low),
        estimate + np.sqrt(max(high - estimate, 0.0) ** 2 + b_high + a_low),
        second.low_open or first.high_open,
        second.high_open or first.low_open,
    )


def draws_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The 2.5% and 97.5% quantiles of b_j − a_i over every pair (i, j) of two sets of draws (the lowest difference
    whose cumulative share reaches each)."""
    a_values, a_counts = np.unique(a, return_counts=True)
    b_values, b_counts = np.unique(b, return_counts=True)
    differences = np.subtract.outer(b_values, a_values).ravel()
    order = np.argsort(differences)
    shares = np.cumsum(np.outer(b_counts, a_counts).ravel()[order]) / (a.size * b.size)
    picked = np.minimum(np.searchsorted(shares, [TAILS[0], TAILS[2]]), len(order) - 1)
    low, high = differences[order][picked]
    return float(low), float(high)


def _skew_sides(fit: CurveFit) -> tuple[bool, bool]:
    """(low, high): the ends of the optimum's CI that its skew widened beyond the frontier's widening."""
    optimum, frontier = fit.optimum, fit.frontier_optimum
    return (
        optimum.low < frontier.low or (optimum.low_open and not frontier.low_open),
        optimum.high > frontier.high or (optimum.high_open and not frontier.high_open),
    )


def _skews_oppose(a: CurveFit, b: CurveFit) -> bool:
    """Whether the skews widened a's and b's optima on opposite sides: each optimum leans toward its gentle side,
    the side its skew did not widen, so these two leans add in b − a where any other pair cancels or stands alone."""
    (a_low, a_high), (b_low, b_high) = _skew_sides(a), _skew_sides(b)
    return (a_high and b_low) or (a_low and b_high)


def _widening(fit: CurveFit, optimum: Interval, argmax: np.ndarray) -> tuple[float, float]:
    """(low, high): how far `optimum` (one of the fit's CIs) reaches beyond the one its posterior curves' `argmax`
    give (optimum.py's `posterior_optimum`), each as a gain in squared half-width."""
    posterior = posterior_optimum(argmax, fit.curve["x"].to_numpy())
    estimate = optimum.estimate
    return (
        max((estimate - optimum.low) ** 2 - (estimate - posterior.low) ** 2, 0.0),
        max((optimum.high - estimate) ** 2 - (posterior.high - estimate) ** 2, 0.0),
    )


def condition_shifts(conditions: list[ConditionFit]) -> pd.DataFrame:
    """condition_shifts.csv: for each pair of conditions (a before b in the study's order) and each category both
    fitted, the shift of its optimum b − a in decades of lr/bs with its 95% CI, whether they differ (a closed CI that
    excludes 0), and the regret of training b at a's optimum (b's score lost, in b's metric units, with its CI)."""
    rows = []
    for a, b in itertools.combinations(conditions, 2):
        for fit_b in (fit for fit in b.fits if fit.level == "category" and fit.kind == "gp"):
            fit_a = a.fit("category", fit_b.name)
            if fit_a is None or fit_a.kind != "gp":
                continue
            moved = shift(fit_a, fit_b)
            regret = regret_table(b.fits, b.series, 10**fit_a.best_log10_ratio)
            at_a = regret[(regret["level"] == "category") & (regret["name"] == fit_b.name)]
            at_a = at_a[at_a["against"] == REFERENCE].iloc[0]
            excludes_zero = (moved.low > 0 and not moved.low_open) or (moved.high < 0 and not moved.high_open)
            rows.append(
                {
                    "category": fit_b.name,
                    "condition_a": a.label,
                    "condition_b": b.label,
                    **moved.as_columns("shift_log10_ratio"),
                    "differ": bool(excludes_zero),
                    "regret_b_at_a": at_a["regret"],
                    "regret_ci_low": at_a["ci_low"],
                    "regret_ci_high": at_a["ci_high"],
                    "regret_metric": at_a["metric"],
                }
            )
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


@dataclass(frozen=True)
class SizeLaw:
    """log10 optimum = intercept + slope · log10 parameters, for one category, with the fit's covariance."""

    category: str
    log10_parameters: np.ndarray
    slope: float
    intercept: float
    covariance: np.ndarray
    scale_factor: float
    left_out: tuple[str, ...]

    def predict(self, parameters: float) -> tuple[Interval, bool]:
        """The optimum at `parameters` with its 95% CI, and whether that is an extrapolation."""
        x = np.log10(parameters)
        design = np.array([1.0, x])
        estimate = self.intercept + self.slope * x
        half = Z * float(np.sqrt(design @ self.covariance @ design))
        inside = self.log10_parameters.min() - 1e-9 <= x <= self.log10_parameters.max() + 1e-9
        return Interval(estimate, estimate - half, estimate + half), not inside

    def row(self) -> dict:
        half = Z * float(np.sqrt(self.covariance[1, 1]))
        return {
            "category": self.category,
            "n_sizes": len(self.log10_parameters),
            "slope": self.slope,
            "slope_ci_low": self.slope - half,
            "slope_ci_high": self.slope + half,
            "intercept": self.intercept,
            "scale_factor": self.scale_factor,
            "left_out": ", ".join(self.left_out),
        }


MIN_SIZES = 3
"""Sizes a line needs: two determine it exactly and say nothing of its error (their shift is reported instead)."""


def is_size_study(conditions: list[ConditionFit]) -> bool:
    """Whether the conditions are model sizes: one parameter count each, all recorded and distinct."""
    sizes = [condition.parameters for condition in conditions]
    return bool(np.isfinite(sizes).all()) and len(set(sizes)) == len(sizes)


def size_laws(conditions: list[ConditionFit]) -> list[SizeLaw]:
    """Per category, the line through its optima over MIN_SIZES or more model sizes with closed CIs; none when the
    conditions are not model sizes (`is_size_study`) or too few."""
    if len(conditions) < MIN_SIZES or not is_size_study(conditions):
        return []
    categories = dict.fromkeys(
        fit.name for condition in conditions for fit in condition.fits if fit.level == "category"
    )
    laws = []
    for category in categories:
        used, left_out = [], []
        for condition in conditions:
            fit = condition.fit("category", category)
            optimum = fit.optimum if fit is not None and fit.kind == "gp" else Interval.missing()
            closed = not optimum.is_open and np.isfinite([optimum.low, optimum.high]).all()
            (used if closed else left_out).append((condition, optimum))
        if len(used) >= MIN_SIZES:
            laws.append(_fit_line(category, used, tuple(condition.label for condition, _ in left_out)))
    return laws


def _fit_line(category: str, used: list[tuple[ConditionFit, Interval]], left_out: tuple[str, ...]) -> SizeLaw:
    x = np.log10([condition.parameters for condition, _ in used])
    y = np.array([optimum.estimate for _, optimum in used])
    sd = np.array([max(optimum.high - optimum.low, 1e-6) / (2 * Z) for _, optimum in used])
    design = np.column_stack([np.ones_like(x), x])
    weights = 1 / sd**2
    information = design.T @ (design * weights[:, None])
    covariance = np.linalg.inv(information)
    intercept, slope = covariance @ design.T @ (weights * y)
    residuals = y - (intercept + slope * x)
    dof = len(x) - 2
    scale = float(np.sqrt(max(1.0, np.sum(weights * residuals**2) / dof)))
    return SizeLaw(category, x, float(slope), float(intercept), covariance * scale**2, scale, left_out)


def size_law_tables(laws: list[SizeLaw], predict_sizes: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """size_law.csv (a line per category) and size_predictions.csv (each category's optimum at each asked size)."""
    predictions = []
    for law in laws:
        for size in predict_sizes:
            interval, extrapolated = law.predict(size)
            predictions.append(
                {
                    "category": law.category,
                    "model_parameters": size,
                    "best_log10_ratio": interval.estimate,
                    "ci_low": interval.low,
                    "ci_high": interval.high,
                    "lr_bs_ratio": 10**interval.estimate,
                    "extrapolation": extrapolated,
                }
            )
    return (
        pd.DataFrame([law.row() for law in laws], columns=LAW_COLUMNS),
        pd.DataFrame(predictions, columns=PREDICTION_COLUMNS),
    )
