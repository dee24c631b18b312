"""Where trials diverged: the divergence frontier, read from the results in one place and asked everywhere.

A run that diverged has no score, so it bounds what the fits can see: an optimum whose range of ratios ends where
the next trials diverged is pressed against the frontier (a grid can be extended past its edge, not past the
frontier), a batch size's learning rates may end where higher ones diverged, and a follow-up never trains a point
that a divergence predicts will diverge. Divergence is modelled over (lr, bs), not over lr/bs alone: with Adam it
mostly follows the learning rate, with SGD the ratio, so a point is predicted to diverge where both agree (a trial
diverged at a learning rate and a ratio no higher than its own). A ratio above the lowest one that diverged stays
open at learning rates below every divergence. Only a frontier that may follow lr/bs marks a place on the ratio axis
where a cliff may hide (`follows_ratio`, asked before the ratio optimum's CI widens there). `DivergenceFrontier`
keeps the study's trials once and answers each of these; its `table` is divergence_frontier.csv.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from analysis.schema import BASELINE_STATUS

GRID_EDGE, FRONTIER = "the grid's edge", "the divergence frontier"
"""What ends a range of ratios (or of learning rates at one batch size) at its high end."""
ROUNDING = 0.005
"""Relative slack of a learning rate compared with a diverged one: the designer rounds learning rates to 3 significant
digits, which moves them by up to 0.5%, and a rate that close below a diverged one is the same run."""
TABLE_COLUMNS = [
    "batch_size", "n_trials", "n_diverged", "frontier_lr_bs_ratio", "frontier_learning_rate",
    "largest_stable_lr_bs_ratio",
]  # fmt: skip


@dataclass(frozen=True)
class DivergenceFrontier:
    """The study's trials (each (lr, bs, seed) once, the baseline left out) and where they diverged."""

    trials: pd.DataFrame
    """learning_rate, batch_size, seed, status, lr_bs_ratio, log10_ratio, ... of every trained trial."""

    @classmethod
    def of(cls, frame: pd.DataFrame) -> DivergenceFrontier:
        trained = frame[frame["status"] != BASELINE_STATUS]
        return cls(trained.drop_duplicates(["learning_rate", "batch_size", "seed"]).reset_index(drop=True))

    @property
    def diverged(self) -> pd.DataFrame:
        return self.trials[self.trials["status"] == "diverged"]

    def lowest_log10_ratio(self, above: float = -np.inf) -> float:
        """log10(lr/bs) of the lowest ratio above `above` that diverged; inf when none did."""
        ratios = self.diverged["log10_ratio"]
        ratios = ratios[ratios > above + 1e-9]
        return float(ratios.min()) if len(ratios) else np.inf

    def blocks(self, learning_rate: float, batch_size: float) -> bool:
        """Whether a run at (learning_rate, batch_size) is predicted to diverge: a trial diverged at a learning rate
        and an lr/bs both no higher than its own (within ROUNDING), so whether divergence follows the learning rate
        or the ratio, it diverges here too."""
        diverged = self.diverged
        slack = 1 + ROUNDING
        lower_rate = diverged["learning_rate"].astype(float) <= learning_rate * slack
        lower_ratio = diverged["lr_bs_ratio"].astype(float) <= learning_rate / batch_size * slack
        return bool((lower_rate & lower_ratio).any())

    @cached_property
    def follows_ratio(self) -> bool:
        """Whether the divergences may follow lr/bs: no run diverged at a higher learning rate and a lower lr/bs
        (each beyond ROUNDING) than a run that trained, which only divergence that follows the learning rate
        explains (Adam's, mostly). Only where they may does the frontier mark where along lr/bs quality nears a
        collapse, and a cliff may hide between the last ratio that trained and the first that diverged
        (optimum.py widens there). A run that diverged where a lower ratio and a higher learning rate trained fits
        neither rule (chance near a threshold) and leaves the answer at yes. Read once per study, asked by every
        fit."""
        slack = 1 + ROUNDING
        diverged = self.diverged[["learning_rate", "lr_bs_ratio"]].to_numpy(dtype=float)
        trained = self.trials.loc[self.trials["status"] == "ok", ["learning_rate", "lr_bs_ratio"]].to_numpy(float)
        higher_rate = diverged[:, None, 0] > trained[None, :, 0] * slack
        lower_ratio = diverged[:, None, 1] * slack < trained[None, :, 1]
        return not bool((higher_rate & lower_ratio).any())

    def ratio_edge(self, log10_ratio_high: float) -> str:
        """What ends a range of ratios at `log10_ratio_high`: FRONTIER when a trial above it diverged."""
        return FRONTIER if bool((self.diverged["log10_ratio"] > log10_ratio_high + 1e-9).any()) else GRID_EDGE

    def bounds_above(self, log10_ratio_high: float) -> pd.Series:
        """The batch sizes whose first diverged ratio lies above `log10_ratio_high`, each with the lowest learning
        rate that diverged there (indexed by batch size, ascending). These end a range of ratios at the frontier: at
        any other batch size runs diverged below that ratio already, so they say nothing of the ratios above it."""
        diverged = self.diverged.assign(batch_size=self.diverged["batch_size"].astype(int)).groupby("batch_size")
        first = diverged.agg(log10_ratio=("log10_ratio", "min"), learning_rate=("learning_rate", "min"))
        return first.loc[first["log10_ratio"] > log10_ratio_high + 1e-9, "learning_rate"].sort_index()

    def learning_rate_edge(self, log10_bs: float, log10_lr_high: float) -> str:
        """What ends the learning rates scored at batch size 10**log10_bs at 10**log10_lr_high: FRONTIER when a
        trial at that batch size and a higher learning rate diverged."""
        diverged = self.diverged
        at_batch = np.isclose(np.log10(diverged["batch_size"].astype(float)), log10_bs)
        beyond = at_batch & (np.log10(diverged["learning_rate"].astype(float)) > log10_lr_high)
        return FRONTIER if beyond.any() else GRID_EDGE

    def table(self) -> pd.DataFrame:
        """divergence_frontier.csv: per batch size, its trials, those that diverged, the smallest lr/bs at which one
        diverged, and the largest lr/bs below it at which one trained ok (the frontier lies between the two)."""
        rows = []
        for batch_size, group in self.trials.groupby("batch_size", sort=True):
            diverged = group[group["status"] == "diverged"]
            frontier = diverged["lr_bs_ratio"].min()
            stable = group[(group["status"] == "ok") & ~(group["lr_bs_ratio"] >= frontier)]
            rows.append(
                {
                    "batch_size": int(batch_size),
                    "n_trials": len(group),
                    "n_diverged": len(diverged),
                    "frontier_lr_bs_ratio": frontier,
                    "frontier_learning_rate": diverged["learning_rate"].min(),
                    "largest_stable_lr_bs_ratio": stable["lr_bs_ratio"].max(),
                }
            )
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)
