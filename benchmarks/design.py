"""Does the designer settle a study in fewer trials than refining its grid, with intervals that still hold the truth?

Each planted truth has two categories 0.5 decades apart, two tasks each, one of the calibration's shapes (symmetric,
skewed, flat-topped, a cliff past the optimum with runs diverging beyond it; `benchmarks/calibration.py`), and
lm-eval's binomial noise (each task scored on 200, 500 or 1000 items). From the same 3 × 3 one-seed pilot, the
study goes on until the analysis gives both categories' optima a closed 95% CI at most `--target` decades wide:
- planned: rounds of `plan_followup` (the designer behind `sweeper plan --optima-only`: the benchmark's question is
  both optima, not whether they differ; every trial costs the same, so cost is trials), each round's trials scored
  and added, until the target is met or the designer says it cannot be;
- uniform: the grid refined, a row of learning rates between each pair, then a column of batch sizes, and so on
  (3 × 3, 5 × 3, 5 × 5, 9 × 5, 9 × 9, 17 × 9, 17 × 17), until the target is met or the grid is 17 × 17.
Per strategy (and per shape): how many truths reached the target, the trials each needed (median and IQR; a truth
that did not reach it counts as infinitely many), the trials run, the median width of the wider optimum at the end,
and the coverage of the final intervals (an open end holds a truth beyond it). The last line is
`trials_ratio_uniform_vs_planned=X coverage_planned=Y`: X the ratio of the median trials (nan when neither median
is finite), Y the planned studies' coverage.

    python -m benchmarks.design                  # 50 truths, target 0.25 decades (the issue's)
    python -m benchmarks.design --quick          # 8 truths, about 3 minutes on 2 cores
    python -m benchmarks.design --target 1.0     # a width both strategies reach
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from analysis.design.planner import OPTIMA, plan_followup
from analysis.estimates.curves import fit_curves
from analysis.estimates.series import build_series
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from benchmarks.calibration import GRIDS, INTERIOR, planted_task, shaped, true_optimum

SHAPES = ("symmetric", "skewed", "flat-topped", "cliff")
GAP = 0.5
TARGET = 0.25
MAX_ROUNDS = 8
PILOT = GRIDS["3x3"]
REFINEMENTS = 6
"""Uniform refinements after the pilot: 3 × 3 to 17 × 17 (289 trials)."""


def planted_truth(index: int) -> tuple[dict[str, PlantedTask], float]:
    """Truth `index`: shape SHAPES[index % 4], category a's optimum anywhere inside the pilot's ratios (away from
    their ends), b's GAP decades above; and the lr/bs above which runs diverge."""
    rng = np.random.default_rng([15, index])
    learning_rates, batch_sizes = PILOT
    x_low, x_high = np.log10(min(learning_rates) / max(batch_sizes)), np.log10(max(learning_rates) / min(batch_sizes))
    span = x_high - x_low
    best = rng.uniform(x_low + INTERIOR * span, x_high - INTERIOR * span - GAP)
    tasks = {f"a{task}": planted_task("a", best, rng) for task in range(2)}
    tasks |= {f"b{task}": planted_task("b", best + GAP, rng) for task in range(2)}
    return shaped(tasks, SHAPES[index % len(SHAPES)], best + GAP, rng)


def scored(
    tasks: dict[str, PlantedTask], trials: list[tuple[float, int, int]], diverge_above: float, rng
) -> pd.DataFrame:
    """One results row per trial × task, scored with the tasks' binomial noise."""
    frames = [
        planted_table(tasks, [rate], [size], (seed,), diverge_above, rng).query("status != 'baseline'")
        for rate, size, seed in trials
    ]
    return pd.concat(frames, ignore_index=True)


def optima(table: pd.DataFrame) -> dict[str, object]:
    """Each category's optimum interval in the analysis of `table`."""
    fits = fit_curves(build_series(load_results(table)), np.random.default_rng(0))
    return {fit.name: fit.optimum for fit in fits if fit.level == "category"}


def reached(intervals: dict, target: float) -> bool:
    return all(not one.is_open and one.high - one.low <= target for one in intervals.values())


def covered(intervals: dict, truths: dict[str, float]) -> list[bool]:
    return [intervals[name].contains(truth) for name, truth in truths.items()]


def planned(tasks, diverge_above, target: float, rng) -> dict:
    """Rounds of the designer from the pilot."""
    table = planted_table(tasks, *PILOT, (0,), diverge_above, rng)
    intervals = optima(table)
    for _ in range(MAX_ROUNDS):
        if reached(intervals, target):
            break
        batch_sizes = sorted({*PILOT[1], *(round(np.sqrt(a * b)) for a, b in zip(PILOT[1], PILOT[1][1:]))})
        plan = plan_followup(
            load_results(table),
            batch_sizes=batch_sizes,
            seconds_per_trial=lambda size: 1.0,
            target_ci=target,
            focus=OPTIMA,
        )
        if not plan.trials:
            break
        trials = [(trial.learning_rate, trial.batch_size, trial.seed) for trial in plan.trials]
        table = pd.concat([table, scored(tasks, trials, diverge_above, rng)], ignore_index=True)
        intervals = optima(table)
    return {"table": table, "intervals": intervals}


def refined(values: list[float], integer: bool) -> list[float]:
    """`values` with the geometric middle of each neighbouring pair (rounded for batch sizes)."""
    middles = [np.sqrt(low * high) for low, high in itertools.pairwise(values)]
    return sorted({*values, *(round(one) if integer else float(f"{one:.3g}") for one in middles)})


def uniform(tasks, diverge_above, target: float, rng) -> dict:
    """The pilot's grid refined, learning rates and batch sizes in turn."""
    learning_rates, batch_sizes = list(PILOT[0]), list(PILOT[1])
    table = planted_table(tasks, learning_rates, batch_sizes, (0,), diverge_above, rng)
    intervals = optima(table)
    for step in range(REFINEMENTS):
        if reached(intervals, target):
            break
        done = set(zip(table["learning_rate"], table["batch_size"]))
        if step % 2 == 0:
            learning_rates = refined(learning_rates, integer=False)
        else:
            batch_sizes = refined(batch_sizes, integer=True)
        new = [(rate, size, 0) for rate in learning_rates for size in batch_sizes if (rate, size) not in done]
        table = pd.concat([table, scored(tasks, new, diverge_above, rng)], ignore_index=True)
        intervals = optima(table)
    return {"table": table, "intervals": intervals}


def run_truth(index: int, target: float) -> list[dict]:
    tasks, diverge_above = planted_truth(index)
    truths = {name: true_optimum([one for one in tasks.values() if one.category == name]) for name in ("a", "b")}
    rows = []
    for strategy, run in (("planned", planned), ("uniform", uniform)):
        start = time.perf_counter()
        result = run(tasks, diverge_above, target, np.random.default_rng([15, index, 1]))
        table, intervals = result["table"], result["intervals"]
        n_trials = table.loc[table["status"] != "baseline", ["learning_rate", "batch_size", "seed"]].drop_duplicates()
        done = reached(intervals, target)
        rows.append(
            {
                "truth": index,
                "shape": SHAPES[index % len(SHAPES)],
                "strategy": strategy,
                "reached": done,
                "trials": len(n_trials) if done else np.inf,
                "trials_run": len(n_trials),
                "covered": covered(intervals, truths),
                "widths": [round(one.high - one.low, 2) if not one.is_open else np.inf for one in intervals.values()],
                "seconds": time.perf_counter() - start,
            }
        )
    return rows


def summary(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: truths, how many reached the target, the trials they needed (median, IQR; inf when not reached),
    the trials run, the median final width of the wider optimum, and the coverage of the final intervals."""
    rows = []
    for key, group in frame.groupby(by, sort=False):
        low, median, high = np.quantile(group["trials"], [0.25, 0.5, 0.75], method="inverted_cdf")
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                "truths": len(group),
                "reached": int(group["reached"].sum()),
                "median_trials": median,
                "iqr_trials": f"{low:g}-{high:g}",
                "trials_run": float(group["trials_run"].median()),
                "final_width": float(np.median([max(widths) for widths in group["widths"]])),
                "coverage": float(np.mean([one for flags in group["covered"] for one in flags])),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 truths instead of 50")
    parser.add_argument("--truths", type=int, help="how many truths (overrides --quick)")
    parser.add_argument("--target", type=float, default=TARGET, help="wanted 95%% CI width, decades")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="print every truth's outcome")
    arguments = parser.parse_args()
    n_truths = arguments.truths or (8 if arguments.quick else 50)
    start = time.perf_counter()
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"  # one BLAS thread per worker process
    with ProcessPoolExecutor(arguments.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(run_truth, range(n_truths), [arguments.target] * n_truths))
    frame = pd.DataFrame([row for rows in results for row in rows])
    pd.set_option("display.width", 200)
    print(f"{n_truths} truths, target {arguments.target:g} decades on both categories' optima, 3 x 3 one-seed pilot")
    if arguments.verbose:
        print(frame.drop(columns=["seconds"]).to_string(index=False), end="\n\n")
    show = {"float_format": lambda value: f"{value:.3f}", "index": False}
    print(summary(frame, ["shape", "strategy"]).to_string(**show), end="\n\n")
    table = summary(frame, ["strategy"])
    print(table.to_string(**show))
    by = table.set_index("strategy")
    uniform, planned = by.loc["uniform", "median_trials"], by.loc["planned", "median_trials"]
    ratio = uniform / planned if np.isfinite(uniform) or np.isfinite(planned) else np.nan
    print(f"wall {time.perf_counter() - start:.0f} s, {arguments.workers} workers")
    print(f"trials_ratio_uniform_vs_planned={ratio:.2f} coverage_planned={by.loc['planned', 'coverage']:.3f}")


if __name__ == "__main__":
    main()
