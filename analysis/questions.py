"""What a follow-up sweep is planned to settle, where its answer is uncertain, and what a planned follow-up would
leave of that uncertainty.

A question is a few named quantities, each with the width of its 95% CI in decades and whether it is settled:
- `RatioQuestion` (`sweeper plan`'s default, or one category): each category's optimal log10(lr/bs), settled when
  its CI is closed and at most the target wide; and each pair's difference, settled when its CI excludes 0 (they
  differ, and which is higher) or is at most √2 × the target wide (as well known as the difference of two optima
  each known to the target);
- `BatchLawQuestion` (batch_question.py): each category's optimal log10 lr at each batch size the study tried, the
  points the batch-size laws are fitted to, settled like an optimum.
An open CI's width is inf: it reaches the range measured, so it bounds nothing there.

Where the answer is uncertain is inside its CIs (`wanted`): the points a follow-up may train there, each as wanted
as the unsettled CIs it lies in. An interval's ends are its tails, and a tail shrinks only where data show the
ratios there are worse, so the whole interval is wanted, not its middle. It holds the tried ratios (fit.py's
tried-ratio rule: the ratios next to those that may have scored best), which more seeds tell apart where noise keeps
them together, and new ratios between them, which become the interval's nearer ends. What a follow-up leaves is
the analysis of fantasy studies (`check`, fantasy.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.fantasy import fantasy_table
from analysis.fit import FRONTIER, CurveFit, category_contrasts, fit_curves, tried_rows
from analysis.intervals import Interval
from analysis.series import Series, build_series
from analysis.study import Candidate, PlannedTrial, Study, same_point
from analysis.task_gp import TaskGP, joint_draw

RATIO_POINTS = 121
"""Points of the ratio grid the fantasy truths are drawn on (trials between them are interpolated)."""
MAX_SPACING = 0.2
"""New ratios (learning rates, for the batch-size laws) split the gaps between those tried into parts at most this
many decades wide, or half the target if less: the tried-ratio rule's CI spans at least a ratio's two neighbours."""
EXTENSION = (0.25, 0.5)
"""Decades of lr/bs past an open edge at which a follow-up extends the grid (no curve says what lies there)."""
MIN_GAP = 0.02
"""Decades between the last ratio that trained and the divergence frontier below which no new ratio fits (learning
rates have 3 significant digits)."""


@dataclass(frozen=True)
class Answer:
    width: float
    """Width of the 95% CI in decades; inf when it is open."""
    settled: bool


@dataclass(frozen=True)
class Wanted:
    """A point a follow-up may train, how many unsettled CIs it lies in, and why."""

    candidate: Candidate
    weight: float
    """How many unsettled CIs it lies in."""
    reason: str


def width_of(interval: Interval) -> float:
    return np.inf if interval.is_open else float(interval.high - interval.low)


def spacing(target: float) -> float:
    return min(MAX_SPACING, target / 2)


class Question:
    """What every question shares: its tasks' GPs over `coords` and the check of a plan on fantasy studies. A
    question also has `names`, `limits`, `now` (the analysis' answer), `answer`, `unfitted`, `wanted`, `extension`
    and `truth_at` (a fantasy truth on `coords` at each trial)."""

    names: list[str]
    limits: dict[str, float]
    """The width within which each quantity is settled."""
    now: dict[str, Answer]

    def __init__(
        self,
        table: pd.DataFrame,
        series: dict[str, Series],
        targets: list[str],
        target: float,
        seed: int,
        models: dict[str, TaskGP],
        coords: np.ndarray,
    ) -> None:
        self.table, self.series, self.targets, self.target, self.seed = table, series, targets, target, seed
        self.models, self.coords, self.tasks = models, coords, list(models)
        self.signs = {task: float(series[task].units.loc[task, "sign"]) for task in self.tasks}
        self.noise = trial_noise(series, models)
        self._truths: dict[int, dict[str, np.ndarray]] = {}
        """`fantasy_truths` by how many were drawn."""

    def check(self, trials: Sequence[PlannedTrial], n_fantasies: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The analysis of `n_fantasies` fantasy studies: the study and `trials` scored on `fantasy_truths` with
        the tasks' noise (the same truths and noise for every plan checked). Per quantity: widths and settled flags."""
        truths = self.fantasy_truths(n_fantasies)
        rng = np.random.default_rng(self.seed + 1)
        answers = []
        for index in range(n_fantasies):
            quality = {task: self.truth_at(truths[task][index], trials) for task in self.tasks}
            answers.append(self.answer(fantasy_table(self.table, trials, quality, self.signs, self.noise, rng)))
        return {
            name: (np.array([one[name].width for one in answers]), np.array([one[name].settled for one in answers]))
            for name in self.names
        }

    def fantasy_truths(self, n_fantasies: int) -> dict[str, np.ndarray]:
        """Per task, `n_fantasies` curves on `coords` drawn jointly from the posterior under each task's most likely
        setting (fantasy.py says why that one alone), drawn once per question."""
        if n_fantasies not in self._truths:
            models = [model.at_top_setting() for model in self.models.values()]
            draws = joint_draw(models, self.coords, n_fantasies, np.random.default_rng(self.seed))
            self._truths[n_fantasies] = {task: one[:n_fantasies] for task, one in draws.items()}
        return self._truths[n_fantasies]

    def unsettled(self) -> list[str]:
        return [name for name in self.names if not self.now[name].settled]

    def answer(self, table: pd.DataFrame) -> dict[str, Answer]:
        raise NotImplementedError

    def truth_at(self, curve: np.ndarray, trials: Sequence[PlannedTrial]) -> np.ndarray:
        raise NotImplementedError


class RatioQuestion(Question):
    """Each target category's optimal lr/bs and, with `contrasts`, the difference of each pair."""

    def __init__(self, table: pd.DataFrame, targets: list[str], contrasts: bool, target: float, seed: int) -> None:
        series = {one.name: one for one in build_series(table)}
        fits = fit_curves(list(series.values()), np.random.default_rng(seed))
        models = {fit.name: fit.model for fit in fits if fit.model is not None}
        ranges = np.array([series[task].x_range for task in models]).reshape(-1, 2)
        grid = np.linspace(ranges[:, 0].min(), ranges[:, 1].max(), RATIO_POINTS) if models else np.zeros(1)
        super().__init__(table, series, targets, target, seed, models, grid[:, None])
        self.grid, self.contrasts, self.fits = grid, contrasts, {fit.name: fit for fit in fits}
        pairs = [f"{a} - {b}" for a, b in itertools.combinations(targets, 2)] if contrasts else []
        self.names = [*(f"{name} optimum" for name in targets), *pairs]
        self.limits = {name: target for name in self.names} | {pair: np.sqrt(2) * target for pair in pairs}
        self.now = self._answers(fits)

    def unfitted(self) -> list[str]:
        """Targets without a curve (fewer than three ratios scored): nothing to plan on."""
        return [name for name in self.targets if self.fits[name].kind != "gp"]

    def answer(self, table: pd.DataFrame) -> dict[str, Answer]:
        return self._answers(fit_curves(build_series(table), np.random.default_rng(self.seed)))

    def _answers(self, fits: list[CurveFit]) -> dict[str, Answer]:
        by_name = {fit.name: fit for fit in fits}
        answers = {}
        for name in self.targets:
            width = width_of(by_name[name].optimum)
            answers[f"{name} optimum"] = Answer(width, width <= self.limits[f"{name} optimum"])
        contrasts = category_contrasts(fits) if self.contrasts else pd.DataFrame()
        for first, second in itertools.combinations(self.targets, 2) if self.contrasts else []:
            pair = contrasts[
                contrasts["category_a"].isin([first, second]) & contrasts["category_b"].isin([first, second])
            ]
            width = float((pair["ci_high"] - pair["ci_low"]).iloc[0]) if len(pair) else np.inf
            name = f"{first} - {second}"
            answers[name] = Answer(
                width, bool(len(pair)) and (bool(pair["separable"].iloc[0]) or width <= self.limits[name])
            )
        return answers

    def truth_at(self, curve: np.ndarray, trials: Sequence[PlannedTrial]) -> np.ndarray:
        ratios = [np.log10(trial.learning_rate / trial.batch_size) for trial in trials]
        return np.interp(ratios, self.grid, curve)

    def wanted(self, study: Study) -> list[Wanted]:
        """Every new ratio between the ratios tried at most `spacing` decades apart (`between`; at its cheapest
        batch size), then every point the study trained (another seed), that lies inside an unsettled optimum's CI,
        wanted as many times as it lies in one. An unsettled difference counts as its two optima. New ratios come
        first: the allocation breaks ties in this order."""
        trained_points = study.trained()
        trained = np.log10([point.learning_rate / point.batch_size for point in trained_points])
        step = spacing(self.target)
        new_points: list[Candidate] = []
        for x in between([*trained, self.grid[0], self.grid[-1]], step):
            candidate = study.cheapest(x, study.learning_rates)
            if candidate is not None and not any(same_point(candidate, other) for other in trained_points + new_points):
                new_points.append(candidate)
        points = new_points + trained_points
        ratios = np.log10([point.learning_rate / point.batch_size for point in points])
        inside = {name: self._inside(name, ratios) for name in self._unsettled_categories()}
        wanted = []
        for index, point in enumerate(points):
            within = [name for name, flags in inside.items() if flags[index]]
            if within:
                why = "inside its CI" if index < len(new_points) else "another seed inside its CI: noise limits it"
                wanted.append(Wanted(point, float(len(within)), f"{', '.join(within)} optimum: {why}"))
        return wanted

    def _unsettled_categories(self) -> list[str]:
        """The targets whose optimum, or a difference they are in, is unsettled."""
        names = {name for name in self.targets if not self.now[f"{name} optimum"].settled}
        for first, second in itertools.combinations(self.targets, 2) if self.contrasts else []:
            if not self.now[f"{first} - {second}"].settled:
                names |= {first, second}
        return sorted(names)

    def _inside(self, name: str, ratios: np.ndarray) -> np.ndarray:
        """Which ratios lie strictly inside the category's optimum's CI: the tried ones, to be told apart from
        those that scored best or be the best, and new ones, to become the CI's nearer ends."""
        optimum = self.fits[name].optimum
        return (ratios > optimum.low + 1e-9) & (ratios < optimum.high - 1e-9)

    def extension(self, study: Study) -> list[tuple[Candidate, str, str]]:
        """(trial, quantity, where) for each open end of a target's CI that no curve of this study can close:
        - EXTENSION decades past a range end that the CI and its posterior's argmax both reach, at the low end or
          at the grid's high edge: the optimum may lie past it;
        - a third and two thirds of the way from the last ratio that trained to the divergence frontier, where the
          CI is open there: the last ratio may have scored best, and only a ratio above it can show the curve turn
          over before runs diverge (each such trial trains or moves the frontier down, halving the gap)."""
        trials = []
        reach = 10 ** max(EXTENSION)
        for name in self.targets:
            fit = self.fits[name]
            curve = Interval.from_samples(fit.argmax_samples(), fit.x_range)
            sides = [("low", -1.0, fit.x_range[0])] if fit.optimum.low_open and curve.low_open else []
            at_frontier = fit.high_edge == FRONTIER
            if fit.optimum.high_open and curve.high_open and not at_frontier:
                sides.append(("high", 1.0, fit.x_range[1]))
            probes = []
            for side, direction, edge in sides:
                low, high = study.learning_rates
                rates = (low / reach, high) if side == "low" else (low, high * reach)
                probes += [(edge + direction * step, rates, f"past the grid's {side} edge") for step in EXTENSION]
            if fit.optimum.high_open and at_frontier and (gap := study.frontier - fit.x_range[1]) > MIN_GAP:
                where = "between its last trained ratio and divergence"
                probes += [(fit.x_range[1] + share * gap, study.learning_rates, where) for share in (1 / 3, 2 / 3)]
            for x, rates, where in probes:
                if (candidate := study.cheapest(x, rates)) is not None:
                    trials.append((candidate, f"{name} optimum", where))
        return trials


def between(tried: Sequence[float], step: float) -> list[float]:
    """New points splitting each gap between neighbouring `tried` ones (decades) wider than `step` into equal parts
    of at most `step`: each as far from those tried as the gap allows. Points on a fixed lattice every `step` miss a
    gap a little wider than `step` (both of its points there fall too near a tried one), and a CI whose end lies
    across such a gap could then narrow only by seeds."""
    edges = np.unique(tried)
    found: list[float] = []
    for low, high in itertools.pairwise(edges):
        parts = int(np.ceil((high - low) / step - 1e-9))
        found += [float(low + (high - low) * part / parts) for part in range(1, parts)]
    return found


def trial_noise(series: dict[str, Series], models: dict[str, TaskGP]) -> np.ndarray:
    """(T, T) covariance of one trial's scores over the tasks of `models`: each task's run variance (the median
    over its points of the seed mean's variance times its seeds; the GP's nugget where none is known), and between
    tasks the trial effect they share."""
    variance = np.array(
        [
            np.median(rows["variance"] * rows["n_seeds"])
            for rows in (tried_rows(series[task], models) for task in models)
        ]
    )
    correlation = next(iter(series.values())).shared_correlation if series else 0.0
    covariance = correlation * np.sqrt(np.outer(variance, variance))
    np.fill_diagonal(covariance, variance)
    return covariance
