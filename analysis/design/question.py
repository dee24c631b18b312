"""What a follow-up sweep is planned to settle, and what every question shares.

A question is a few named quantities, each with the width of its 95% CI in decades and whether it is settled: each
category's optimal lr/bs and each pair's difference (ratio_question.py), or each category's optimal learning rate at
each batch size the study tried (batch_law_question.py). An open CI's width is inf: it reaches the range measured, so
it bounds nothing there. A question knows where its answer is uncertain (`wanted`: the points a follow-up may train
inside the unsettled CIs), what a planned follow-up would leave of it (`check`: the analysis of fantasy studies,
fantasy.py), and where posterior draws of its unsettled optima peak (`sampled`: the probe where fantasies foresee
nothing).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.design.fantasy import fantasy_table
from analysis.design.study import Candidate, PlannedTrial, Study
from analysis.estimates.intervals import Interval
from analysis.estimates.series import Series, build_series
from analysis.estimates.task_gp import TaskGP, joint_draw, trial_correlation, with_noise_variance

MAX_SPACING = 0.2
"""New ratios (learning rates, for the batch-size laws) split the gaps between those tried into parts at most this
many decades wide, or half the target width if less: the optimum's CI spans at least a tried point's two
neighbours (estimates/optimum.py)."""
EXTENSION = (0.25, 0.5)
"""Decades of lr/bs past an open edge at which a follow-up extends the grid (no curve says what lies there)."""
PLACEMENT_TRIES = 20
"""Posterior draws tried per sampled trial before giving up on it (a draw's optimum no point may train)."""


@dataclass(frozen=True)
class Answer:
    span: float
    """Decades the 95% CI covers, an open end counted to the range measured (inf when there is no CI): how uncertain
    the answer is even where no trial can open the range further (an end at the divergence frontier)."""
    is_open: bool
    settled: bool

    @classmethod
    def of(cls, interval: Interval | None, limit: float) -> Answer:
        """An optimum's answer: settled when its CI is closed and at most `limit` decades wide."""
        span = float(interval.high - interval.low) if interval is not None else np.nan
        span = span if np.isfinite(span) else np.inf
        is_open = interval is not None and interval.is_open
        return cls(span, is_open, not is_open and span <= limit)

    @property
    def width(self) -> float:
        """Width of the 95% CI in decades; inf when it is open."""
        return np.inf if self.is_open else self.span


@dataclass(frozen=True)
class Wanted:
    """A point a follow-up may train, how many unsettled CIs it lies in, and why."""

    candidate: Candidate
    weight: float
    """How many unsettled CIs it lies in."""
    reason: str


def spacing(target_width: float) -> float:
    return min(MAX_SPACING, target_width / 2)


class SampledOptima(NamedTuple):
    """An unsettled curve's optimum in each posterior draw, and where the study may train one (`place`: the optimum,
    the study, the trial's number; None where no point may)."""

    name: str
    optima: np.ndarray
    place: Callable[[float, Study, int], Candidate | None]


class Outcome(NamedTuple):
    """One quantity over the fantasy studies of a plan: its CI widths and whether each settled it."""

    widths: np.ndarray
    settled: np.ndarray


class Question:
    """What every question shares: its tasks' GPs over `coords`, the check of a plan on fantasy studies, and
    posterior sampling. A question also has `names`, `limits`, `now` (the analysis' answer), `answer`, `unfitted`,
    `wanted`, `extension`, `truth_at` (a fantasy truth on `coords` at each trial) and `sampled_optima`. `categories`
    are the categories it asks about, `target_width` the width in decades within which an optimum is settled."""

    estimate: Callable[[list[Series], np.random.Generator], list]
    """What the analysis fits to answer the question: `fit_curves` or `fit_surfaces`."""
    names: list[str]
    limits: dict[str, float]
    """The width within which each quantity is settled."""
    now: dict[str, Answer]

    def __init__(
        self,
        table: pd.DataFrame,
        series: dict[str, Series],
        models: dict[str, TaskGP],
        coords: np.ndarray,
        *,
        categories: list[str],
        target_width: float,
        seed: int,
    ) -> None:
        self.table, self.series, self.models, self.coords = table, series, models, coords
        self.categories, self.target_width, self.seed, self.tasks = categories, target_width, seed, list(models)
        self.signs = {task: float(series[task].scales.loc[task, "sign"]) for task in self.tasks}
        self.noise = trial_noise(series, self.fantasy_models)
        self._truths: dict[int, dict[str, np.ndarray]] = {}
        """`fantasy_truths` by how many were drawn."""

    def check(self, trials: Sequence[PlannedTrial], n_fantasies: int) -> dict[str, Outcome]:
        """The analysis of `n_fantasies` fantasy studies: the study and `trials` scored on `fantasy_truths` with
        the tasks' noise (the same truths and noise for every plan checked). Per quantity: widths and settled flags."""
        truths = self.fantasy_truths(n_fantasies)
        rng = np.random.default_rng(self.seed + 1)
        answers = []
        for index in range(n_fantasies):
            quality = {task: self.truth_at(truths[task][index], trials) for task in self.tasks}
            answers.append(self.answer(fantasy_table(self.table, trials, quality, self.signs, self.noise, rng)))
        return {
            name: Outcome(
                np.array([one[name].width for one in answers]), np.array([one[name].settled for one in answers])
            )
            for name in self.names
        }

    @property
    def fantasy_models(self) -> dict[str, TaskGP]:
        """Each task's GP at its most likely setting: fantasy truths are drawn under it, and scored with its noise."""
        return {task: model.at_top_setting() for task, model in self.models.items()}

    def fantasy_truths(self, n_fantasies: int) -> dict[str, np.ndarray]:
        """Per task, `n_fantasies` curves on `coords` drawn jointly from the posterior under each task's most likely
        setting (fantasy.py says why that one alone), drawn once per question."""
        if n_fantasies not in self._truths:
            models = list(self.fantasy_models.values())
            draws = joint_draw(models, self.coords, n_fantasies, np.random.default_rng(self.seed))
            self._truths[n_fantasies] = {task: one[:n_fantasies] for task, one in draws.items()}
        return self._truths[n_fantasies]

    def unsettled(self) -> list[str]:
        return [name for name in self.names if not self.now[name].settled]

    def sampled(self, study: Study, n: int, rng: np.random.Generator) -> list[PlannedTrial]:
        """n trials by posterior sampling (`posterior_sampled`) of the unsettled curves (`sampled_optima`)."""
        return posterior_sampled(self.sampled_optima(), study, n, rng)

    def sampled_optima(self) -> list[SampledOptima]:
        """Each unsettled curve's optimum in each posterior draw."""
        raise NotImplementedError

    def answer(self, table: pd.DataFrame) -> dict[str, Answer]:
        """The analysis' answer on `table` (a fantasy study): each quantity's width and whether it is settled."""
        return self._answers(self.estimate(build_series(table), np.random.default_rng(self.seed)))

    def _answers(self, fits: list) -> dict[str, Answer]:
        raise NotImplementedError

    def truth_at(self, curve: np.ndarray, trials: Sequence[PlannedTrial]) -> np.ndarray:
        raise NotImplementedError

    def unfitted(self) -> list[str]:
        raise NotImplementedError

    def wanted(self, study: Study) -> list[Wanted]:
        raise NotImplementedError

    def extension(self, study: Study) -> list[tuple[Candidate, str, str]]:
        raise NotImplementedError


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


def posterior_sampled(
    curves: Sequence[SampledOptima], study: Study, n: int, rng: np.random.Generator
) -> list[PlannedTrial]:
    """n trials by posterior sampling (Thompson sampling for the optimum, as PS-BAX, arXiv 2410.20596): the
    `curves` in turn, each trial where one independent posterior draw of that curve peaks (`place`; the trial's
    number says which batch size goes first), another seed where the study trained it. A draw no point may train is
    passed over, up to PLACEMENT_TRIES per trial; fewer than n trials when no draw can be placed. Where fantasies
    foresee nothing (a posterior too wide), the draws still go where the optimum may be, and each trial there shows
    whether it is."""
    shuffled = [curve._replace(optima=rng.permutation(curve.optima)) for curve in curves]
    draws = [iter(curve.optima) for curve in shuffled]
    planned: list[PlannedTrial] = []
    for index in itertools.islice(itertools.cycle(range(len(shuffled))), n if shuffled else 0):
        for optimum in itertools.islice(draws[index], PLACEMENT_TRIES):
            if (candidate := shuffled[index].place(float(optimum), study, len(planned))) is not None:
                seed = study.next_seed(candidate, planned)
                why = f"{shuffled[index].name}: a posterior draw peaks here"
                planned.append(
                    PlannedTrial(candidate.learning_rate, candidate.batch_size, seed, why, candidate.seconds)
                )
                break
    return planned


def trial_noise(series: dict[str, Series], models: dict[str, TaskGP]) -> np.ndarray:
    """(T, T) covariance of one trial's scores over the tasks of `models`: each task's run variance (the median
    over its points of the seed mean's variance times its seeds, the noise the GP found beyond the stated noise
    included: `with_noise_variance`), and between tasks the trial effect they share (`trial_correlation`)."""
    variance = np.array(
        [
            np.median(rows["variance"] * rows["n_seeds"])
            for rows in (with_noise_variance(series[task], models) for task in models)
        ]
    )
    correlation = trial_correlation(list(models.values()))
    covariance = correlation * np.sqrt(np.outer(variance, variance))
    np.fill_diagonal(covariance, variance)
    return covariance
