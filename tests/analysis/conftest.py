"""A small planted results table that the loading and validation tests share."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.synthetic import PlantedTask, planted_table


@pytest.fixture
def results_table() -> pd.DataFrame:
    """Two tasks in two categories on a 2 × 2 grid with two seeds (lr/bs above 1e-4 diverged), baseline rows
    included: raw, as a source gives it."""
    tasks = {"arc": PlantedTask("reasoning", -4.0), "hellaswag": PlantedTask("pattern", -5.0)}
    return planted_table(tasks, [1e-4, 1e-3], [8, 16], seeds=(0, 1), diverge_above=1e-4)
