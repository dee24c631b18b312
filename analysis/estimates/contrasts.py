"""Category against category: the difference of their optimal log10(lr/bs), paired draw by draw."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from analysis.estimates.curves import CurveFit
from analysis.estimates.intervals import TAILS

CONTRAST_COLUMNS = [
    "category_a", "category_b", "diff_log10_ratio", "ci_low", "ci_high", "p_value", "separable", "bounded_by_range",
    "n_samples",
]  # fmt: skip


def category_contrasts(fits: list[CurveFit]) -> pd.DataFrame:
    """Difference of optimal log10(lr/bs) for each pair of fitted categories, higher optimum first.

    All curves come from one joint draw of the tasks (trials they share correlate them), so each sample's
    difference of the two argmaxes is paired. The p-value is two-sided: twice the smaller share of samples on
    either side of 0. `separable` is False when the CI includes 0: the data cannot tell the two optima apart.
    `bounded_by_range`: an optimum's CI is open, so the difference is bounded by the range, not measured.
    """
    categories = [fit for fit in fits if fit.level == "category" and fit.kind == "gp"]
    rows = []
    for first, second in itertools.combinations(categories, 2):
        difference = first.argmax_samples() - second.argmax_samples()
        if np.median(difference) < 0:
            first, second, difference = second, first, -difference
        low, estimate, high = np.quantile(difference, TAILS)
        tail = min(np.sum(difference <= 0), np.sum(difference >= 0))
        rows.append(
            {
                "category_a": first.name,
                "category_b": second.name,
                "diff_log10_ratio": float(estimate),
                "ci_low": float(low),
                "ci_high": float(high),
                "p_value": min(1.0, 2 * (tail + 1) / (difference.size + 1)),
                "separable": bool(low > 0 or high < 0),
                "bounded_by_range": first.optimum.is_open or second.optimum.is_open,
                "n_samples": difference.size,
            }
        )
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
