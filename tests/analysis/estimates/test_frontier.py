"""The divergence frontier: per batch size the smallest ratio that diverged and the largest that trained below it,
and what ends a range of ratios or of learning rates (the grid's edge or the frontier)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimates.frontier import FRONTIER, GRID_EDGE, DivergenceFrontier
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table


def test_divergence_frontier_is_the_smallest_diverged_ratio_per_batch_size() -> None:
    table = planted_table({"t": PlantedTask("r", best_z=-4.5)}, [1e-4, 1e-3, 1e-2], [10, 100], diverge_above=5e-5)
    frontier = DivergenceFrontier.of(load_results(table)).table().set_index("batch_size")
    assert frontier.loc[10, "n_diverged"] == 2
    assert frontier.loc[10, "frontier_lr_bs_ratio"] == pytest.approx(1e-4)
    assert frontier.loc[10, "largest_stable_lr_bs_ratio"] == pytest.approx(1e-5)
    assert frontier.loc[100, "frontier_lr_bs_ratio"] == pytest.approx(1e-4)
    assert frontier.loc[100, "n_trials"] == 3


def _frontier(statuses: dict[tuple[float, int], str]) -> DivergenceFrontier:
    """Two tasks trained at each (learning rate, batch size) with its status, plus their baseline rows."""
    rows = [
        {"learning_rate": lr, "batch_size": bs, "seed": 0, "task": task, "category": "r", "status": status}
        for (lr, bs), status in statuses.items()
        for task in ("a", "b")
    ]
    baseline = {"learning_rate": np.nan, "batch_size": pd.NA, "seed": 0, "category": "r", "status": "baseline"}
    rows += [{**baseline, "task": task} for task in ("a", "b")]
    table = pd.DataFrame(rows).assign(score=0.5, metric="acc", higher_is_better=True)
    return DivergenceFrontier.of(load_results(table))


HAND_MADE = {
    (1e-4, 8): "ok", (1e-3, 8): "ok", (1e-2, 8): "diverged",
    (1e-4, 32): "ok", (1e-3, 32): "diverged", (1e-2, 32): "diverged",
}  # fmt: skip
"""log10(lr/bs): at bs 8 -4.9, -3.9 ok and -2.9 diverged; at bs 32 -5.5 ok, -4.5 and -3.5 diverged."""


def test_the_frontier_says_what_ends_a_range_of_ratios_or_learning_rates() -> None:
    frontier = _frontier(HAND_MADE)
    assert len(frontier.trials) == 6 and len(frontier.diverged) == 3, "one row per trial, the baseline left out"
    assert frontier.lowest_log10_ratio() == pytest.approx(np.log10(1e-3 / 32))
    assert frontier.ratio_edge(np.log10(1e-3 / 8)) == FRONTIER, "1e-2/8 and 1e-2/32 diverged above it"
    assert frontier.ratio_edge(np.log10(1e-2 / 8)) == GRID_EDGE, "nothing diverged above the highest ratio"
    assert frontier.learning_rate_edge(np.log10(8), np.log10(1e-3)) == FRONTIER
    assert frontier.learning_rate_edge(np.log10(8), np.log10(1e-2)) == GRID_EDGE
    assert frontier.learning_rate_edge(np.log10(32), np.log10(1e-4)) == FRONTIER
    assert frontier.learning_rate_edge(np.log10(16), np.log10(1e-4)) == GRID_EDGE, "no trial at batch size 16"


def test_a_study_where_nothing_diverged_has_no_frontier() -> None:
    frontier = _frontier({key: "ok" for key in HAND_MADE})
    assert frontier.lowest_log10_ratio() == np.inf
    assert frontier.ratio_edge(-10.0) == GRID_EDGE and frontier.learning_rate_edge(np.log10(8), -10.0) == GRID_EDGE
    assert frontier.follows_ratio
    table = frontier.table().set_index("batch_size")
    assert (table["n_diverged"] == 0).all() and table["frontier_lr_bs_ratio"].isna().all()
    assert table.loc[8, "largest_stable_lr_bs_ratio"] == pytest.approx(1e-2 / 8)


def test_divergence_follows_the_ratio_until_a_higher_lr_diverges_at_a_lower_ratio_than_one_that_trained() -> None:
    grid = [(lr, bs) for lr in (1e-4, 1e-3, 1e-2) for bs in (4, 64)]
    by_ratio = _frontier({(lr, bs): "diverged" if lr / bs > 1e-4 else "ok" for lr, bs in grid})
    by_rate = _frontier({(lr, bs): "diverged" if lr > 2e-3 else "ok" for lr, bs in grid})
    assert by_ratio.follows_ratio
    assert not by_rate.follows_ratio, "1e-2 diverged at bs 64 (lr/bs 1.6e-4), 1e-3 trained at bs 4 (2.5e-4)"
    assert _frontier(HAND_MADE).follows_ratio, "1e-3 diverged at bs 32 and trained at bs 8: neither rule explains it"
    rounded = _frontier({(1e-3, 4): "ok", (0.999e-3 * 16, 64): "diverged"})
    assert rounded.follows_ratio, "a ratio 0.1% lower is the same ratio, rounded"
