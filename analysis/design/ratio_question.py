"""The ratio question (`sweeper plan`'s default, or one category): each category's optimal log10(lr/bs), settled
when its CI is closed and at most the target width wide; and each pair's difference, settled when its CI excludes
0 (they differ, and which is higher) or is at most √2 × the target width wide (as well known as the difference of
two optima each known to the target width).

Where the answer is uncertain is inside its CIs (`wanted`): the points a follow-up may train there, each as wanted as
the unsettled CIs it lies in. An interval's ends are its tails, and a tail shrinks only where data show the ratios
there are worse, so the whole interval is wanted, not its middle. It holds the tried ratios (the optimum's rule in
estimates/optimum.py spans the ratios next to those that may have scored best), which more seeds tell apart where
noise keeps them together, and new ratios between them, which become the interval's nearer ends.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.design.question import EXTENSION, Answer, Question, SampledOptima, Wanted, between, spacing
from analysis.design.study import Candidate, PlannedTrial, Study
from analysis.estimates.contrasts import category_contrasts
from analysis.estimates.curves import CurveFit, fit_curves
from analysis.estimates.frontier import FRONTIER
from analysis.estimates.optimum import posterior_optimum
from analysis.estimates.series import build_series

RATIO_POINTS = 121
"""Points of the ratio grid the fantasy truths are drawn on (trials between them are interpolated)."""


class RatioQuestion(Question):
    """Each category's optimal lr/bs and, with `contrasts`, the difference of each pair."""

    estimate = staticmethod(fit_curves)

    def __init__(
        self, table: pd.DataFrame, categories: list[str], *, contrasts: bool, target_width: float, seed: int
    ) -> None:
        series = {one.name: one for one in build_series(table)}
        fits = fit_curves(list(series.values()), np.random.default_rng(seed))
        models = {fit.name: fit.model for fit in fits if fit.model is not None}
        ranges = np.array([series[task].x_range for task in models]).reshape(-1, 2)
        grid = np.linspace(ranges[:, 0].min(), ranges[:, 1].max(), RATIO_POINTS) if models else np.zeros(1)
        super().__init__(
            table, series, models, grid[:, None], categories=categories, target_width=target_width, seed=seed
        )
        self.grid, self.contrasts, self.fits = grid, contrasts, {fit.name: fit for fit in fits}
        pairs = [f"{a} - {b}" for a, b in itertools.combinations(categories, 2)] if contrasts else []
        self.names = [*(f"{name} optimum" for name in categories), *pairs]
        self.limits = {name: target_width for name in self.names}
        self.limits |= {pair: np.sqrt(2) * target_width for pair in pairs}
        self.now = self._answers(fits)

    def unfitted(self) -> list[str]:
        """Categories without a curve (fewer than three ratios scored): nothing to plan on."""
        return [name for name in self.categories if self.fits[name].kind != "gp"]

    def _answers(self, fits: list[CurveFit]) -> dict[str, Answer]:
        by_name = {fit.name: fit for fit in fits}
        answers = {}
        for name in self.categories:
            answers[f"{name} optimum"] = Answer.of(by_name[name].optimum, self.limits[f"{name} optimum"])
        contrasts = category_contrasts(fits) if self.contrasts else pd.DataFrame()
        for first, second in itertools.combinations(self.categories, 2) if self.contrasts else []:
            pair = contrasts[
                contrasts["category_a"].isin([first, second]) & contrasts["category_b"].isin([first, second])
            ]
            width = float((pair["ci_high"] - pair["ci_low"]).iloc[0]) if len(pair) else np.inf
            name = f"{first} - {second}"
            answers[name] = Answer(
                width, False, bool(len(pair)) and (bool(pair["separable"].iloc[0]) or width <= self.limits[name])
            )
        return answers

    def truth_at(self, curve: np.ndarray, trials: Sequence[PlannedTrial]) -> np.ndarray:
        return np.interp([trial.log10_ratio for trial in trials], self.grid, curve)

    def wanted(self, study: Study) -> list[Wanted]:
        """Every new ratio between the ratios tried at most `spacing` decades apart (`between`; at its cheapest
        batch size), then every point the study trained (another seed), that lies inside an unsettled optimum's CI,
        wanted as many times as it lies in one. An unsettled difference counts as its two optima. New ratios come
        first: the allocation breaks ties in this order."""
        trained_points = study.trained()
        trained = [point.log10_ratio for point in trained_points]
        step = spacing(self.target_width)
        new_points: list[Candidate] = []
        for log10_ratio in between([*trained, self.grid[0], self.grid[-1]], step):
            candidate = study.cheapest(log10_ratio, study.learning_rates)
            if candidate is not None and not any(candidate.same_point(other) for other in trained_points + new_points):
                new_points.append(candidate)
        points = new_points + trained_points
        ratios = np.array([point.log10_ratio for point in points])
        inside = {name: self._inside(name, ratios) for name in self._unsettled_categories()}
        wanted = []
        for index, point in enumerate(points):
            within = [name for name, flags in inside.items() if flags[index]]
            if within:
                why = "inside its CI" if index < len(new_points) else "another seed inside its CI: noise limits it"
                wanted.append(Wanted(point, float(len(within)), f"{', '.join(within)} optimum: {why}"))
        return wanted

    def sampled_optima(self) -> list[SampledOptima]:
        """Each unsettled category's optimum (one a difference it is in leaves unsettled) in each posterior draw of
        its curve (`sampled_ratios`)."""
        return sampled_ratios([self.fits[name] for name in self._unsettled_categories()])

    def _unsettled_categories(self) -> list[str]:
        """The categories whose optimum, or a difference they are in, is unsettled."""
        names = {name for name in self.categories if not self.now[f"{name} optimum"].settled}
        for first, second in itertools.combinations(self.categories, 2) if self.contrasts else []:
            if not self.now[f"{first} - {second}"].settled:
                names |= {first, second}
        return sorted(names)

    def _inside(self, name: str, ratios: np.ndarray) -> np.ndarray:
        """Which ratios lie strictly inside the category's optimum's CI: the tried ones, to be told apart from
        those that scored best or be the best, and new ones, to become the CI's nearer ends."""
        optimum = self.fits[name].optimum
        return (ratios > optimum.low + 1e-9) & (ratios < optimum.high - 1e-9)

    def extension(self, study: Study) -> list[tuple[Candidate, str, str]]:
        """(trial, quantity, where) for each open end of a category's CI that no curve of this study can close:
        - EXTENSION decades past a range end that the CI and its posterior's argmax both reach, at the low end or
          at the grid's high edge: the optimum may lie past it;
        - a third and two thirds of the way from the last ratio that trained to the divergence frontier, where the
          CI is open there and the gap is wider than `spacing`: the last ratio may have scored best, and only a
          ratio above it can show the curve turn over before runs diverge (each such trial trains or moves the
          frontier down, cutting the gap to a third). A gap no wider than `spacing` holds no ratio `wanted` would
          add between two tried ones: a trial there cannot move the CI's end by more than the resolution the
          target asks for, so the CI is narrowed from inside, as any other (planner.py)."""
        trials = []
        reach, resolution = 10 ** max(EXTENSION), spacing(self.target_width)
        for name in self.categories:
            fit = self.fits[name]
            curve = posterior_optimum(fit.argmax_samples(), fit.curve["x"].to_numpy())
            sides = [("low", -1.0, fit.x_range[0])] if fit.optimum.low_open and curve.low_open else []
            at_frontier = fit.high_edge == FRONTIER
            if fit.optimum.high_open and curve.high_open and not at_frontier:
                sides.append(("high", 1.0, fit.x_range[1]))
            probes = []
            for side, direction, edge in sides:
                low, high = study.learning_rates
                rates = (low / reach, high) if side == "low" else (low, high * reach)
                probes += [(edge + direction * step, rates, f"past the grid's {side} edge") for step in EXTENSION]
            frontier = study.divergence.lowest_log10_ratio(above=fit.x_range[1])
            if fit.optimum.high_open and at_frontier and (gap := frontier - fit.x_range[1]) > resolution:
                where = "between its last trained ratio and divergence"
                probes += [(fit.x_range[1] + share * gap, study.learning_rates, where) for share in (1 / 3, 2 / 3)]
            for x, rates, where in probes:
                if (candidate := study.cheapest(x, rates)) is not None:
                    trials.append((candidate, f"{name} optimum", where))
        return trials


def sampled_ratios(fits: Sequence[CurveFit]) -> list[SampledOptima]:
    """Each fit's optimal ratio in each posterior draw of its curve, placed at the batch sizes in turn; none for a fit
    without a curve."""
    return [
        SampledOptima(f"{fit.name} optimum", fit.argmax_samples(), _placed_ratio) for fit in fits if fit.kind == "gp"
    ]


def _placed_ratio(log10_ratio: float, study: Study, turn: int) -> Candidate | None:
    """Ratio 10**log10_ratio at the batch sizes in turn from the `turn`-th on, the first that may train it inside the
    study's learning rates: a ratio's trials spread over batch sizes, which tells its effect from the learning
    rate's."""
    sizes = study.batch_sizes
    in_turn = (sizes[(turn + step) % len(sizes)] for step in range(len(sizes)))
    options = (study.candidate(10**log10_ratio * size, size, study.learning_rates) for size in in_turn)
    return next((one for one in options if one is not None), None)
