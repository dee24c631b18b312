"""The planted study the designer's tests plan on: one reasoning task (1000 eval items) on a 5 × 2 grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table

LEARNING_RATES = np.geomspace(1e-4, 1e-2, 5)
BATCH_SIZES = [8, 32]
"""log10(lr/bs) spans -5.5 .. -2.9."""
BEST = -4.3


def planted_study(best_z: float = BEST, diverge_above: float = np.inf) -> pd.DataFrame:
    """The loaded study: its task's optimal log10(lr/bs) at `best_z`, runs above lr/bs `diverge_above` diverged."""
    truth = {"arc": PlantedTask("reasoning", best_z=best_z, n_items=1000)}
    return load_results(planted_table(truth, LEARNING_RATES, BATCH_SIZES, (0,), diverge_above, random_state=0))
