"""The batch-size question (`sweeper plan --batch-law`): where each category's optimal learning rate lies at each
batch size the study tried (surfaces.py), the points the batch-size laws (batch_laws.py) are fitted to. Each is
settled when its 95% CI is closed and at most the target width wide (decades of lr).

A follow-up's points are learning rates at those batch sizes. The surface's GP is over (log10 lr/bs, log10 bs), so
it says what lies past a batch size's learning rates while the ratio stays inside the study's: where an optimal
learning rate's CI reaches the study's lowest or highest learning rate, new learning rates reach EXTENSION decades
past it, and the fantasy truths are drawn there too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.design.question import EXTENSION, Answer, Question, SampledOptima, Wanted, between, spacing
from analysis.design.study import Candidate, PlannedTrial, Study
from analysis.estimates.series import build_series
from analysis.estimates.surfaces import COLUMNS, LR_POINTS, SurfaceFit, can_fit_surface, fit_surfaces, ridge_batch_sizes
from analysis.estimates.task_gp import fit_task_gp


class BatchLawQuestion(Question):
    """Each category's optimal learning rate at each batch size tried."""

    estimate = staticmethod(fit_surfaces)

    def __init__(self, table: pd.DataFrame, categories: list[str], *, target_width: float, seed: int) -> None:
        series = {one.name: one for one in build_series(table)}
        surfaces = fit_surfaces(list(series.values()), np.random.default_rng(seed))
        eligible = {name: one for name, one in series.items() if one.level == "task" and can_fit_surface(one)}
        models = {name: fit_task_gp(one, COLUMNS) for name, one in eligible.items()}
        points = pd.concat([model.points for model in models.values()]) if models else None
        self.fitted = {fit.name: fit for fit in surfaces}
        opened = [interval for name in categories if name in self.fitted for interval in self.fitted[name].optimal_lr]
        self.log10_bs = ridge_batch_sizes(points["log10_bs"]) if models else np.zeros(0)
        self.x_range = (points["x"].min(), points["x"].max()) if models else (0.0, 0.0)
        low, high = (points["log10_lr"].min(), points["log10_lr"].max()) if models else (0.0, 0.0)
        low -= max(EXTENSION) if any(interval.low_open for interval in opened) else 0.0
        high += max(EXTENSION) if any(interval.high_open for interval in opened) else 0.0
        self.log10_lr = np.linspace(low, high, LR_POINTS)
        lr_grid, bs_grid = np.meshgrid(self.log10_lr, self.log10_bs)
        coords = np.column_stack([(lr_grid - bs_grid).ravel(), bs_grid.ravel()])
        super().__init__(table, series, models, coords, categories=categories, target_width=target_width, seed=seed)
        self.names = [self._name(name, log10_bs) for name in categories for log10_bs in self._located(name)]
        self.limits = {name: target_width for name in self.names}
        self.now = self._answers(surfaces)

    @staticmethod
    def _name(category: str, log10_bs: float) -> str:
        return f"{category} lr at bs {round(10**log10_bs)}"

    def _located(self, name: str) -> np.ndarray:
        """The batch sizes at which the study locates the category's optimal learning rate (surfaces.py)."""
        return self.fitted[name].log10_bs if name in self.fitted else self.log10_bs

    def unfitted(self) -> list[str]:
        """Categories without a surface (fewer than two batch sizes or three learning rates scored)."""
        return [name for name in self.categories if name not in self.fitted]

    def _answers(self, surfaces: list[SurfaceFit]) -> dict[str, Answer]:
        by_name = {fit.name: fit for fit in surfaces}
        answers = {}
        for name in self.categories:
            fit = by_name.get(name)
            for log10_bs in self._located(name):
                found = [] if fit is None else np.flatnonzero(np.isclose(fit.log10_bs, log10_bs))
                optimum = fit.optimal_lr[found[0]] if len(found) else None
                answers[self._name(name, log10_bs)] = Answer.of(optimum, self.target_width)
        return answers

    def truth_at(self, curve: np.ndarray, trials: Sequence[PlannedTrial]) -> np.ndarray:
        rows = [np.abs(self.log10_bs - np.log10(trial.batch_size)).argmin() for trial in trials]
        columns = [np.abs(self.log10_lr - np.log10(trial.learning_rate)).argmin() for trial in trials]
        return curve[np.array(rows, dtype=int) * LR_POINTS + np.array(columns, dtype=int)]

    def sampled_optima(self) -> list[SampledOptima]:
        """Each unsettled optimal learning rate (log10) at its batch size in each posterior draw of the surface."""
        optima = []
        for name in self.categories:
            fit = self.fitted[name]
            for index, log10_bs in enumerate(fit.log10_bs):
                if not self.now[quantity := self._name(name, log10_bs)].settled:
                    place = functools.partial(self._placed_lr, round(10**log10_bs))
                    optima.append(SampledOptima(quantity, fit.ridge_samples[:, index], place))
        return optima

    def _placed_lr(self, batch_size: int, log10_lr: float, study: Study, turn: int) -> Candidate | None:
        """Learning rate 10**log10_lr at `batch_size`, its ratio inside the study's (`turn` is not needed)."""
        if not self.x_range[0] <= log10_lr - np.log10(batch_size) <= self.x_range[1]:
            return None
        return study.candidate(10**log10_lr, batch_size, (10 ** self.log10_lr[0], 10 ** self.log10_lr[-1]))

    def extension(self, study: Study) -> list:
        """None: new learning rates themselves reach past an open end."""
        return []

    def wanted(self, study: Study) -> list[Wanted]:
        """At each batch size with an unsettled optimal learning rate: every point trained there (another seed) and
        a new learning rate between those tried there at most `spacing` decades apart (`between`; its ratio inside
        the study's) that lies inside the CI of that batch size's optimal learning rate."""
        trained = study.trained()
        wanted = []
        step = spacing(self.target_width)
        for name in self.categories:
            fit = self.fitted[name]
            for index, log10_bs in enumerate(fit.log10_bs):
                if self.now[self._name(name, log10_bs)].settled:
                    continue
                size = round(10**log10_bs)
                points = [point for point in trained if point.batch_size == size]
                tried = np.log10([point.learning_rate for point in points])
                for log10_lr in between([*tried, self.log10_lr[0], self.log10_lr[-1]], step):
                    inside = self.x_range[0] <= log10_lr - log10_bs <= self.x_range[1]
                    candidate = study.candidate(10**log10_lr, size, (10 ** self.log10_lr[0], 10 ** self.log10_lr[-1]))
                    if inside and candidate is not None:
                        points.append(candidate)
                interval = fit.optimal_lr[index]
                for number, point in enumerate(points):
                    if interval.low + 1e-9 < np.log10(point.learning_rate) < interval.high - 1e-9:
                        why = "another seed inside its CI" if number < len(tried) else "inside its CI"
                        wanted.append(Wanted(point, 1.0, f"{self._name(name, log10_bs)}: {why}"))
        return _merged(wanted)


def _merged(wanted: list[Wanted]) -> list[Wanted]:
    """One entry per point, wanted as many times as the CIs it lies in."""
    merged: list[Wanted] = []
    for one in wanted:
        index = next((i for i, other in enumerate(merged) if other.candidate.same_point(one.candidate)), None)
        if index is None:
            merged.append(one)
        else:
            merged[index] = Wanted(merged[index].candidate, merged[index].weight + one.weight, merged[index].reason)
    return merged
