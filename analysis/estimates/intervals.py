"""Intervals that say when they are open.

An estimate that cannot leave a range (an optimum searched over the grid's ratios, an exponent over its search
range) piles its samples at the range's end when the truth lies beyond it. Its percentile interval then stops at
that end, and printed as an ordinary interval it claims a bound the data never gave. Here an end that reaches the
range's bound is *open*: the CSV flags it, the report reads "≥ …", the plots draw an arrow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
TAILS = ((1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2)


@dataclass(frozen=True)
class Interval:
    """A point estimate (the samples' median) and its 95% interval, each end open or closed."""

    estimate: float
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    @classmethod
    def from_samples(cls, samples: np.ndarray, bounds: tuple[float, float]) -> Interval:
        """Median and central 95% of `samples`, which cannot leave `bounds`; an end at a bound is open."""
        finite = samples[np.isfinite(samples)]
        if not finite.size:
            return cls.missing()
        low, estimate, high = np.quantile(finite, TAILS)
        low_open, high_open = cls._reaches(np.array(low), np.array(high), bounds)
        return cls(float(estimate), float(low), float(high), bool(low_open), bool(high_open))

    @classmethod
    def densest_from_samples(cls, samples: np.ndarray, bounds: tuple[float, float]) -> Interval:
        """Median and the shortest interval holding 95% of `samples` (the highest-density one, for a single mode),
        which cannot leave `bounds`; an end at a bound is open. Where the samples trail off in a long thin tail
        (an optimum on a plateau that falls slowly on one side), the central 95% spends its width on that tail;
        this one does not. A sample at a bound stands for everything past it, so an interval that reaches a bound
        is longer than any that does not: it is the shortest among those reaching the fewest bounds, and of
        equally short ones the one centred nearest the median."""
        finite = np.sort(samples[np.isfinite(samples)])
        if not finite.size:
            return cls.missing()
        held = int(np.ceil(LEVEL * finite.size))
        starts = np.arange(finite.size - held + 1)
        lows, highs = finite[starts], finite[starts + held - 1]
        low_open, high_open = cls._reaches(lows, highs, bounds)
        reached = low_open.astype(int) + high_open.astype(int)
        fewest = reached == reached.min()
        widths = np.where(fewest, highs - lows, np.inf)
        estimate = float(np.median(finite))
        shortest = np.flatnonzero(widths <= widths.min() + 1e-12 * max(1.0, abs(bounds[1] - bounds[0])))
        start = int(shortest[np.argmin(np.abs((lows[shortest] + highs[shortest]) / 2 - estimate))])
        return cls(estimate, float(lows[start]), float(highs[start]), bool(low_open[start]), bool(high_open[start]))

    @staticmethod
    def _reaches(lows: np.ndarray, highs: np.ndarray, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Whether each low end reaches the low bound and each high end the high bound (to float tolerance)."""
        tolerance = 1e-9 * max(1.0, abs(bounds[1] - bounds[0]))
        return lows <= bounds[0] + tolerance, highs >= bounds[1] - tolerance

    @classmethod
    def missing(cls) -> Interval:
        return cls(np.nan, np.nan, np.nan)

    def mapped(self, function: Callable[[float], float]) -> Interval:
        """The same interval through an increasing function (log10 values to the values themselves)."""
        values = (function(self.estimate), function(self.low), function(self.high))
        return Interval(*values, self.low_open, self.high_open)

    @property
    def is_open(self) -> bool:
        return self.low_open or self.high_open

    def contains(self, value: float) -> bool:
        """Whether `value` lies inside, an open end reaching out to infinity."""
        return (self.low_open or self.low <= value) and (self.high_open or value <= self.high)

    def as_columns(self, estimate: str, prefix: str = "") -> dict[str, float | bool]:
        """The CSV columns: `estimate`, `<prefix>ci_low`, `<prefix>ci_high` and their `_open` flags."""
        return {
            estimate: self.estimate,
            f"{prefix}ci_low": self.low,
            f"{prefix}ci_high": self.high,
            f"{prefix}ci_low_open": self.low_open,
            f"{prefix}ci_high_open": self.high_open,
        }

    def describe(
        self, show: Callable[[float], str], low_edge: str = "the grid's edge", high_edge: str = "the grid's edge"
    ) -> str:
        """In words after a name ("best lr/bs …"), each value through `show`; an open end says which bound it
        reached: "= 2.1e-6 [95% CI 1.2e-6, 3.4e-6]", "≥ 1.2e-6 (95% CI reaches the grid's edge, 3.4e-6)"."""
        return self._worded(
            show,
            both_open="not located (95% CI spans the whole range, {low} to {high})",
            high_open=f"≥ {{low}} (95% CI reaches {high_edge}, {{high}})",
            low_open=f"≤ {{high}} (95% CI reaches {low_edge}, {{low}})",
            closed="= {estimate} [95% CI {low}, {high}]",
            unknown="= {estimate} (no 95% CI: the data give none)",
        )

    def compact(self, show: Callable[[float], str]) -> str:
        """Short form: "-5.68 [-5.92, -5.47]", "≥ -5.92", "≤ -5.47" or "anywhere in [-6.80, -2.60]"."""
        return self._worded(
            show,
            both_open="anywhere in [{low}, {high}]",
            high_open="≥ {low}",
            low_open="≤ {high}",
            closed="{estimate} [{low}, {high}]",
            unknown="{estimate}",
        )

    def _worded(self, show: Callable[[float], str], **forms: str) -> str:
        """The form (`both_open`, `high_open`, `low_open` or `closed`) that fits this interval's open ends, or
        `unknown` when it has no ends (none was estimated), with its values through `show`."""
        if np.isnan(self.low) or np.isnan(self.high):
            form = forms["unknown"]
        elif self.low_open and self.high_open:
            form = forms["both_open"]
        elif self.high_open or self.low_open:
            form = forms["high_open" if self.high_open else "low_open"]
        else:
            form = forms["closed"]
        return form.format(estimate=show(self.estimate), low=show(self.low), high=show(self.high))
