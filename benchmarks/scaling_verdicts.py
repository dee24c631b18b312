"""Do the analysis' scaling verdicts name the planted rule? Plant tables whose optimum follows lr/bs (α = 1) or
lr/sqrt(bs) (α = 0.5), and count how often the invariants test (invariants.csv) and the batch-size laws
(batch_laws.csv) name it alone (right), name it among others the data cannot tell apart or name nothing (undecided),
or name others without it (wrong).

Tables are the calibration benchmark's (`benchmarks.calibration.planted_case`): two tasks of one category on the
7 lr × 5 bs grid, lm-eval-like binomial noise, symmetric or skewed peaks, 1 or 2 seeds, seed noise 0 or 1× the eval
noise's sd. With α = 0.5 each task's peak stays where it was planted at the grid's middle batch size and moves as
sqrt(bs) from there. A verdict for `separate` or the surge is wrong for either α. The free exponent α's 95% CI is
scored too (coverage of the planted α, and its median width).

The last line is `invariant_wrong=… invariant_right=… law_wrong=… law_right=… alpha_coverage=…`: the largest share
of wrong verdicts in one case (α, shape, seed noise, seeds, level) and the smallest share of right ones, for each
test, and the smallest coverage of α's CI.

    python -m benchmarks.scaling_verdicts                    # 100 tables per case
    python -m benchmarks.scaling_verdicts --first 1000       # tables 1000..: a set no rule was chosen on
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.estimates.batch_laws import batch_law_table
from analysis.estimates.curves import fit_curves
from analysis.estimates.invariants import TrialResamples, compare_invariants
from analysis.estimates.series import build_series
from analysis.estimates.surfaces import fit_surfaces
from analysis.load import load_results
from analysis.synthetic import planted_table
from benchmarks.calibration import GRIDS, SEEDS, Case, planted_case

ALPHAS = {1.0: ("lr/bs", "linear"), 0.5: ("lr/sqrt(bs)", "sqrt")}
"""Planted α: the invariant and the batch-size law that name it."""
SHAPES = ("symmetric", "skewed")
SEED_NOISE = (0.0, 1.0)
N_BOOTSTRAP = 1000
"""Resamples of whole trials for α's CI, as `analyze` draws by default."""


def verdict(chosen: list[str], right: str) -> str:
    """right: the planted rule alone; undecided: it among others, or nothing named (batch_laws.csv chooses no law
    where fewer than three batch sizes locate their optimum); wrong: others named without it."""
    if chosen == [right]:
        return "right"
    return "undecided" if right in chosen or not chosen else "wrong"


def run_tables(case: Case, alpha: float, first: int, count: int) -> list[dict]:
    """Tables first..first+count-1 of `case` planted with `alpha`: one record per task and category."""
    learning_rates, batch_sizes = GRIDS[case.grid]
    middle = float(np.log10(np.median(batch_sizes)))
    invariant, law = ALPHAS[alpha]
    records = []
    for index in range(first, first + count):
        rng = np.random.default_rng([*case.key, index, int(10 * alpha)])
        tasks, options = planted_case(case, rng)
        tasks = {
            name: replace(task, alpha=alpha, best_z=task.best_z + (1 - alpha) * middle) for name, task in tasks.items()
        }
        table = planted_table(tasks, learning_rates, batch_sizes, SEEDS[case.n_seeds], random_state=rng, **options)
        series = [one for one in build_series(load_results(table)) if one.level != "all"]
        fit_rng = np.random.default_rng(index)
        fits = fit_curves(series, fit_rng)
        laws = batch_law_table(
            fit_surfaces(series, fit_rng, {fit.name: fit.model for fit in fits if fit.model is not None})
        )
        resamples = TrialResamples.draw(series[0].n_trials, N_BOOTSTRAP, fit_rng)
        for one in series:
            invariants = compare_invariants(one, resamples)
            own_laws = laws[(laws["level"] == one.level) & (laws["name"] == one.name)]
            if invariants.empty or own_laws.empty:
                continue
            first_row = invariants.iloc[0]
            records.append(
                {
                    "level": one.level,
                    "invariant": verdict(list(invariants.loc[invariants["chosen"], "invariant"]), invariant),
                    "law": verdict(list(own_laws.loc[own_laws["chosen"], "law"]), law),
                    "alpha_covered": (first_row["alpha_ci_low"] <= alpha or first_row["alpha_ci_low_open"])
                    and (alpha <= first_row["alpha_ci_high"] or first_row["alpha_ci_high_open"]),
                    "alpha_hat": first_row["alpha_hat"],
                    "alpha_width": first_row["alpha_ci_high"] - first_row["alpha_ci_low"],
                }
            )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=100, help="tables per case")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--first", type=int, default=0, help="index of each case's first table (held out: 1000..)")
    arguments = parser.parse_args()
    start = time.perf_counter()
    cases = [
        (Case(shape, "7x5", n_seeds, seed_noise=noise), alpha)
        for alpha in ALPHAS
        for shape in SHAPES
        for noise in SEED_NOISE
        for n_seeds in SEEDS
    ]
    chunks = [
        (case, alpha, arguments.first + first, min(10, arguments.tables - first))
        for case, alpha in cases
        for first in range(0, arguments.tables, 10)
    ]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"  # one BLAS thread per worker process
    with ProcessPoolExecutor(arguments.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(run_tables, *zip(*chunks, strict=True)))
    rows = [
        {"alpha": alpha, "case": case.shape, "seed_noise": case.seed_noise, "seeds": case.n_seeds, **record}
        for (case, alpha, _, _), records in zip(chunks, results, strict=True)
        for record in records
    ]
    frame = pd.DataFrame(rows)
    keys = ["alpha", "case", "seed_noise", "seeds", "level"]
    table = frame.groupby(keys, sort=False).agg(
        n=("invariant", "size"),
        **{
            f"{test}_{outcome}": (test, lambda values, outcome=outcome: (values == outcome).mean())
            for test in ("invariant", "law")
            for outcome in ("right", "undecided", "wrong")
        },
        alpha_coverage=("alpha_covered", "mean"),
        median_alpha=("alpha_hat", "median"),
        median_alpha_width=("alpha_width", "median"),
    )
    pd.set_option("display.width", 220)
    print(f"{arguments.tables} tables per case from {arguments.first}; shares of the series' verdicts")
    print(table.reset_index().to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    print(f"wall {time.perf_counter() - start:.0f} s, {arguments.workers} workers")
    print(
        f"invariant_wrong={table['invariant_wrong'].max():.3f} invariant_right={table['invariant_right'].min():.3f} "
        f"law_wrong={table['law_wrong'].max():.3f} law_right={table['law_right'].min():.3f} "
        f"alpha_coverage={table['alpha_coverage'].min():.3f}"
    )


if __name__ == "__main__":
    main()
