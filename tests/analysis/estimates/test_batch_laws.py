"""How the optimal learning rate moves with batch size: the planted law is chosen and its parameters recovered
(the surge's B_noise inside its CI), and the optimal learning rate per batch size holds the planted one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.estimates.batch_laws import batch_law_table, law_curve
from analysis.estimates.series import build_series
from analysis.estimates.surfaces import fit_surfaces, optimal_lr_table
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table

LEARNING_RATES = np.geomspace(1e-5, 1e-2, 10)
BATCH_SIZES = [4, 8, 16, 32, 64, 128, 256]


def _laws(tasks: dict[str, PlantedTask]) -> tuple[pd.DataFrame, pd.DataFrame]:
    series = build_series(load_results(planted_table(tasks, LEARNING_RATES, BATCH_SIZES, random_state=1)))
    surfaces = fit_surfaces(series, np.random.default_rng(0))
    return batch_law_table(surfaces), optimal_lr_table(surfaces)


def test_a_planted_surge_is_chosen_and_its_b_noise_recovered() -> None:
    surge = {
        name: PlantedTask("a", best_z=-3.0, b_noise=32, n_items=items, curvature=0.15)
        for name, items in (("t0", 1000), ("t1", 500))
    }
    laws, optimal = _laws(surge)
    for name in ("t0", "t1", "a"):
        rows = laws[laws["name"] == name].set_index("law")
        assert rows.loc["surge", "chosen"], rows
        assert rows.loc["surge", "b_noise_ci_low"] < 32 < rows.loc["surge", "b_noise_ci_high"]
        assert not rows.loc["surge", "b_noise_ci_high_open"]
        assert rows.loc["surge", "coefficient_ci_low"] < 1e-3 < rows.loc["surge", "coefficient_ci_high"]
        assert rows.loc["surge", "cv_rmse"] < rows.loc[["linear", "sqrt"], "cv_rmse"].min()
    per_bs = optimal[optimal["name"] == "a"]
    planted = surge["t0"].optimal_log10_lr(per_bs["batch_size"].to_numpy())
    inside = (per_bs["ci_low"] <= planted) & (planted <= per_bs["ci_high"])
    assert inside.sum() >= len(per_bs) - 1


@pytest.mark.parametrize(("alpha", "best_z", "law"), [(1.0, -4.5, "linear"), (0.5, -3.6, "sqrt")])
def test_a_power_law_is_chosen_over_the_surge(alpha: float, best_z: float, law: str) -> None:
    laws, _ = _laws({"t": PlantedTask("a", best_z=best_z, alpha=alpha, n_items=1000, curvature=0.15)})
    rows = laws[laws["name"] == "t"].set_index("law")
    assert rows.loc[law, "chosen"], rows
    slope_coefficient = 10 ** (best_z)
    assert rows.loc[law, "coefficient_ci_low"] < slope_coefficient * 1.5
    assert rows.loc[law, "coefficient_ci_high"] > slope_coefficient / 1.5
    curve = law_curve(laws[(laws["name"] == "t") & (laws["law"] == law)].iloc[0], np.log10([16.0]))
    assert curve[0] == pytest.approx(best_z + alpha * np.log10(16), abs=0.15)
