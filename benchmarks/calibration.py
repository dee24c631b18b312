"""Calibration of the analysis' intervals: plant a known optimum, draw many tables, count how often the 95% CI
holds it.

Every table comes from `analysis.synthetic` with lm-eval-like binomial noise (each task scored on 200, 500 or 1000
items). Cases cross a shape (symmetric; skewed: widths 3× apart; flat-topped; a cliff past the optimum with
divergence just beyond; the truth beyond the grid's edge; divergence above a learning rate at every batch size, as
Adam's follows the learning rate; that divergence past a cliff in lr/bs, or just above a cliff in the learning rate
(scored per batch size only, as no ratio is best at every batch size there); two categories 0, 0.5 and 1 decade
apart) with a grid (7 lr × 5 bs, and the demo's 3 × 3) and 1 or 2 seeds. On 7 × 5 the symmetric, skewed, cliff and
the three lr-divergence shapes are also drawn with seed noise, 1× and 2× the eval noise's sd at the peak (half of
its variance shared by the trial's tasks), which no stderr reports. Shape tables hold two tasks of one category;
category tables two tasks per category. Study cases plant conditions, each its own table of two tasks of one
category fitted on its own (as `analyze` does for a study): two conditions whose optima lie 0, 0.5 and 1 decade
apart (the shift's CI, estimates/shifts.py), the second's peak symmetric, skewed or at a cliff, or both skewed
toward opposite sides (`conditions <gap>, <peak>`), each scored beside the baseline a user would build by hand (the
central 95% of the difference of the two conditions' posterior argmax draws, level `shift, draws' difference`); and
three model sizes (135M, 360M, 1.7B) whose optima follow a random power law in parameters (slope -1 to 0.5 decades
per decade: the size law's slope CI).

The truth is the argmax of the expected score over x = log10(lr/bs), and at each batch size over log10 lr (levels `task
lr@bs`, `category lr@bs`: the optimal learning rate per batch size). An interval open at a bound (it reaches the grid's
edge or the divergence frontier) covers a truth beyond that bound in the open direction. Per case and level: coverage of
the 95% CI, median absolute error of the point estimate (not for "beyond edge", whose truth no grid point can show),
median CI width, and the share of open intervals. Then the category contrast's false-positive rate (p < 0.05 at 0
decades) and its power (p < 0.05, right sign) at 0.5 and 1 decade, and the same for "the conditions differ" (the shift's
closed CI excludes 0), the baseline's beside it. The last line is `min_coverage=… median_error=… contrast_fpr=…
min_coverage_seed_noise=… per_bs_coverage=… condition_fpr=… shift_coverage=… slope_coverage=…`: the smallest coverage of
a ratio optimum without seed noise, the median absolute error of all 7 × 5 ratio optima whose truth lies inside the grid
(the line before it names the worst single case), the largest category-contrast false-positive rate on 7 × 5, the
smallest ratio-optimum coverage with seed noise, the smallest coverage of the optimal lr per batch size, the largest
"conditions differ" false-positive rate on 7 × 5, and the smallest coverage of the shift and of the size law's slope.

    python -m benchmarks.calibration            # 200 tables per case
    python -m benchmarks.calibration --quick    # 30 tables per case, about 16 minutes on 2 cores
    python -m benchmarks.calibration --first 1000   # tables 1000.. of each case: a set no rule was chosen on
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.estimates.contrasts import category_contrasts
from analysis.estimates.curves import CurveFit, fit_curves
from analysis.estimates.intervals import Interval
from analysis.estimates.series import build_series
from analysis.estimates.shifts import ConditionFit, draws_difference, shift, size_laws
from analysis.estimates.surfaces import fit_surfaces
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table

GRIDS = {
    "7x5": (np.geomspace(1e-5, 1e-2, 7), (4, 8, 16, 32, 64)),
    "3x3": ((3e-4, 1e-3, 3e-3), (4, 16, 64)),
}
SHAPES = (
    "symmetric", "skewed", "flat-topped", "cliff", "beyond edge", "lr divergence", "cliff, lr divergence", "lr cliff",
)  # fmt: skip
SEED_NOISE = (1.0, 2.0)
SEED_NOISE_SHAPES = ("symmetric", "skewed", "cliff", "lr divergence", "cliff, lr divergence", "lr cliff")
"""Seed-noise cases (7 x 5): these shapes with seed noise of 1x and 2x the eval noise's sd, in no stderr."""
LR_DIVERGENCE_SHAPES = ("lr divergence", "cliff, lr divergence", "lr cliff")
"""Shapes whose runs diverge above one learning rate at every batch size (Adam's)."""
PER_BATCH_SIZE_ONLY = ("lr cliff",)
"""Shapes whose score does not follow lr/bs: no ratio is best at every batch size, so only the optimal lr per batch
size has a truth to hold."""
SEPARATIONS = (0.0, 0.5, 1.0)
CONDITION_PEAKS = ("skewed", "cliff", "opposite skews")
"""Peaks the conditions are also planted with (`conditions <gap>, <peak>`). `skewed` and `cliff` shape the second
condition's only, the first's staying symmetric, as LoRA seldom diverges where full fine-tuning does: a skewed peak,
whose optimum's own CI widens on the sharp side while the shift leaves that out, and a cliff with divergence just
past it, whose widening the shift keeps (shifts.py). `opposite skews` skews both (widths 3x apart), gentle on
opposite sides: each optimum leans toward its gentle side, so there the two leans add up in the shift instead of
cancelling. `conditions <gap>` alone plants symmetric peaks in both."""
SIZES = (1.35e8, 3.6e8, 1.7e9)
"""The study cases' model sizes: SmolLM2's three."""
SIZE_SLOPES = (-1.0, 0.5)
"""The range the planted size law's slope is drawn from, in decades of lr/bs per decade of parameters."""
SEEDS = {1: (0,), 2: (0, 1)}
ITEMS = (200, 500, 1000)
INTERIOR = 0.15
"""Planted optima lie inside the grid's x range, this fraction of the range away from either end."""
LEVEL = 0.05


@dataclass(frozen=True)
class Case:
    shape: str
    """One of SHAPES, or `categories <separation>`."""
    grid: str
    n_seeds: int
    separation: float | None = None
    """Category and condition cases: how many decades apart the two optima lie."""
    seed_noise: float = 0.0
    """Each run's own luck, in multiples of the eval noise's sd at the task's peak: half of its variance shared by
    the trial's tasks, half each task's own; none of it in the reported stderr."""

    @property
    def key(self) -> list[int]:
        """The case's part of every table's random seed (seed-noise cases get their own tables)."""
        base = [zlib.crc32(self.shape.encode()), len(GRIDS[self.grid][1]), self.n_seeds]
        return [*base, int(10 * self.seed_noise)] if self.seed_noise else base

    @property
    def is_study(self) -> bool:
        """Planted conditions, each its own table: `conditions <gap>` or `sizes`."""
        return self.shape.startswith("conditions") or self.shape == "sizes"


def cases() -> list[Case]:
    return [
        case
        for grid in GRIDS
        for n_seeds in SEEDS
        for case in [
            *(Case(shape, grid, n_seeds) for shape in SHAPES),
            *(
                Case(shape, grid, n_seeds, seed_noise=noise)
                for shape in SEED_NOISE_SHAPES
                for noise in SEED_NOISE
                if grid == "7x5"
            ),
            *(Case(f"categories {gap:g}", grid, n_seeds, gap) for gap in SEPARATIONS),
            *(
                Case(f"conditions {gap:g}{peak}", grid, n_seeds, gap)
                for peak in ("", *(f", {shape}" for shape in CONDITION_PEAKS))
                for gap in SEPARATIONS
            ),
            Case("sizes", grid, n_seeds),
        ]
    ]


def estimate(table: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The analysis under test: optima (level, name, batch_size, best, ci_low, ci_high, low_open, high_open) of the
    tasks and categories, the ratio's (batch_size NaN) and the learning rate's at each batch size (level
    `<level> lr@bs`), and category contrasts (category_a, category_b, diff, p_value; diff = optimum of a - optimum of
    b)."""
    series = build_series(load_results(table))
    rng = np.random.default_rng(seed)
    fits = fit_curves(series, rng)
    located = [(fit.level, fit.name, np.nan, fit.optimum) for fit in fits]
    located += [
        (f"{surface.level} lr@bs", surface.name, 10**log10_bs, interval)
        for surface in fit_surfaces(series, rng, {fit.name: fit.model for fit in fits if fit.model is not None})
        for log10_bs, interval in zip(surface.log10_bs, surface.optimal_lr, strict=True)
    ]
    rows = [
        {
            "level": level,
            "name": name,
            "batch_size": batch_size,
            "best": optimum.estimate,
            "ci_low": optimum.low,
            "ci_high": optimum.high,
            "low_open": optimum.low_open,
            "high_open": optimum.high_open,
        }
        for level, name, batch_size, optimum in located
        if level.split()[0] in ("task", "category")
    ]
    contrast = category_contrasts(fits)
    sign = np.where(contrast["category_a"] < contrast["category_b"], 1.0, -1.0)
    contrast = pd.DataFrame(
        {
            "category_a": np.where(sign > 0, contrast["category_a"], contrast["category_b"]),
            "category_b": np.where(sign > 0, contrast["category_b"], contrast["category_a"]),
            "diff": sign * contrast["diff_log10_ratio"],
            "p_value": contrast["p_value"],
        }
    )
    return pd.DataFrame(rows), contrast


def planted_case(case: Case, rng: np.random.Generator) -> tuple[dict[str, PlantedTask], dict[str, float]]:
    """The tasks of one random table of `case`, and `planted_table`'s options for it: where its runs diverge
    (`diverge_above` or `diverge_above_lr`) and the seed noise's share the trial's tasks have in common
    (`trial_effect`)."""
    x_low, x_high = ratio_range(case.grid)
    inner_low, inner_high = ratio_range(case.grid, INTERIOR)
    gap = case.separation or 0.0
    best = rng.uniform(inner_low, inner_high - gap)
    if case.shape == "beyond edge":
        beyond = rng.uniform(0.1, 0.6)
        best = x_high + beyond if rng.random() < 0.5 else x_low - beyond
    if case.separation is not None:
        tasks = {f"a{index}": planted_task("a", best, rng) for index in range(2)}
        return tasks | {f"b{index}": planted_task("b", best + gap, rng) for index in range(2)}, {}
    tasks, options = shaped({f"t{index}": planted_task("c", best, rng) for index in range(2)}, case, best, rng)
    if case.seed_noise:
        own = case.seed_noise * np.sqrt(0.5)
        tasks = {name: replace(one, seed_noise=own * eval_sd(one)) for name, one in tasks.items()}
        options["trial_effect"] = own * float(np.mean([eval_sd(one) for one in tasks.values()]))
    return tasks, options


def eval_sd(task: PlantedTask) -> float:
    """The sd of lm-eval's sampling noise at the task's peak (binomial over its items)."""
    return float(np.sqrt(task.peak * (1 - task.peak) / task.n_items))


def planted_task(category: str, best_z: float, rng: np.random.Generator) -> PlantedTask:
    """A task peaking at `best_z` with a random level, curvature, chance level and eval set (200-1000 items)."""
    return PlantedTask(
        category,
        best_z=best_z,
        peak=rng.uniform(0.55, 0.85),
        curvature=rng.uniform(0.08, 0.2),
        worst=rng.uniform(0.0, 0.25),
        n_items=int(rng.choice(ITEMS)),
    )


def shaped(
    tasks: dict[str, PlantedTask], case: Case, best: float, rng: np.random.Generator
) -> tuple[dict[str, PlantedTask], dict[str, float]]:
    """`tasks` with the case's peak (skewed: widths 3x apart; flat-topped; a cliff; any other shape as they are),
    and where runs diverge: for a cliff above an lr/bs 0.15-0.5 decades past `best`; for `lr divergence` (Adam's,
    which follows the learning rate) above the learning rate 0.15-0.5 decades past the optimum's at the grid's
    middle batch size, whatever the batch size (so below the optimal ratio at the largest ones); else never.
    `cliff, lr divergence` is both: a cliff in lr/bs whose runs diverge by the learning rate, so the frontier in
    lr/bs no longer tells where the cliff lies. `lr cliff`: that divergence, and 0.1-0.3 decades below it the score
    falls 1-2 per decade of lr at every batch size (Adam's runs degrade before they diverge)."""
    shape = case.shape
    if shape == "skewed":
        return skewed(tasks, 3.0 if rng.random() < 0.5 else 1 / 3), {}
    if shape == "flat-topped":
        return {name: replace(one, power=4.0) for name, one in tasks.items()}, {}
    if shape.startswith("cliff"):
        tasks = {name: replace(one, cliff=rng.uniform(1.0, 2.0)) for name, one in tasks.items()}
    if shape == "cliff":
        return tasks, {"diverge_above": 10 ** (best + rng.uniform(0.15, 0.5))}
    if shape not in LR_DIVERGENCE_SHAPES:
        return tasks, {}
    middle = float(np.median(GRIDS[case.grid][1]))
    diverge = 10 ** (best + np.log10(middle) + rng.uniform(0.15, 0.5))
    if shape == "lr cliff":
        falls = diverge / 10 ** rng.uniform(0.1, 0.3)
        tasks = {name: replace(one, cliff=rng.uniform(1.0, 2.0), cliff_above_lr=falls) for name, one in tasks.items()}
    return tasks, {"diverge_above_lr": diverge}


def skewed(tasks: dict[str, PlantedTask], width_above: float) -> dict[str, PlantedTask]:
    """`tasks` whose peaks fall `width_above` times slower above the optimum than below (faster where under 1)."""
    return {name: replace(one, width_above=width_above) for name, one in tasks.items()}


def true_optimum(tasks: list[PlantedTask], batch_size: float = np.nan) -> float:
    """Argmax over x = log10(lr/bs) of the tasks' mean expected score (every planted task here has alpha = 1); with a
    `batch_size`, the argmax over log10 lr at that batch size."""
    x = np.linspace(-12.0, 2.0, 14001)
    if np.isnan(batch_size):
        expected = np.mean([one.expected_score(10**x, np.ones_like(x)) for one in tasks], axis=0)
        return float(x[np.argmax(expected)])
    sizes = np.full_like(x, batch_size)
    return float(x[np.argmax(np.mean([one.expected_score(10**x, sizes) for one in tasks], axis=0))])


def run_tables(case: Case, first: int, count: int) -> tuple[list[dict], list[dict]]:
    """Draw tables first..first+count-1 of `case`; one record per optimum and per contrast."""
    if case.is_study:
        return run_studies(case, first, count)
    learning_rates, batch_sizes = GRIDS[case.grid]
    optima, contrasts = [], []
    for index in range(first, first + count):
        rng = np.random.default_rng([*case.key, index])
        tasks, options = planted_case(case, rng)
        table = planted_table(tasks, learning_rates, batch_sizes, SEEDS[case.n_seeds], random_state=rng, **options)
        found, contrast = estimate(table, seed=index)
        for row in found.itertuples():
            if case.shape in PER_BATCH_SIZE_ONLY and np.isnan(row.batch_size):
                continue
            members = [one for name, one in tasks.items() if name == row.name or one.category == row.name]
            truth = true_optimum(members, row.batch_size)
            covered = (row.ci_low <= truth or row.low_open) and (truth <= row.ci_high or row.high_open)
            optima.append(
                {
                    "level": row.level,
                    "covered": covered,
                    "error": abs(row.best - truth) if case.shape != "beyond edge" else np.nan,
                    "width": row.ci_high - row.ci_low,
                    "open": row.low_open or row.high_open,
                }
            )
        contrasts += [
            {"detected": row.p_value < LEVEL, "right_sign": np.sign(row.diff) == -1} for row in contrast.itertuples()
        ]
    return optima, contrasts


def run_studies(case: Case, first: int, count: int) -> tuple[list[dict], list[dict]]:
    """Draw studies first..first+count-1 of a study case: one record per shift or size law (level `shift` or
    `slope`) and, for conditions, one per "the conditions differ" verdict."""
    learning_rates, batch_sizes = GRIDS[case.grid]
    x_low, x_high = ratio_range(case.grid, INTERIOR)
    peak = case.shape.partition(", ")[2]
    records, verdicts = [], []
    for index in range(first, first + count):
        rng = np.random.default_rng([*case.key, index])
        if case.shape == "sizes":
            slope = rng.uniform(*SIZE_SLOPES)
            offsets = slope * np.log10(np.array(SIZES) / SIZES[0])
            start = rng.uniform(x_low - offsets.min(), x_high - offsets.max())
            bests, sizes = start + offsets, SIZES
        else:
            start = rng.uniform(x_low, x_high - case.separation)
            bests, sizes = np.array([start, start + case.separation]), (SIZES[0], SIZES[0])
        conditions, truths, widths = [], [], None
        if peak == "opposite skews":  # each condition's width above its optimum: one gentle above, one below
            above = 3.0 if rng.random() < 0.5 else 1 / 3
            widths = (1 / above, above)
        for number, (best, size) in enumerate(zip(bests, sizes, strict=True)):
            tasks = {f"t{task}": planted_task("c", best, rng) for task in range(2)}
            if widths:
                tasks, options = skewed(tasks, widths[number]), {}
            else:
                tasks, options = shaped(tasks, replace(case, shape=peak if number else ""), best, rng)
            table = planted_table(tasks, learning_rates, batch_sizes, SEEDS[case.n_seeds], random_state=rng, **options)
            fits = fit_curves(build_series(load_results(table)), np.random.default_rng([index, number]))
            conditions.append(ConditionFit(str(number), size, fits, []))
            truths.append(true_optimum(list(tasks.values())))
        if case.shape == "sizes":
            truth = float(np.polyfit(np.log10(SIZES), truths, 1)[0])
            laws = size_laws(conditions)
            if not laws:
                records.append({"level": "slope", "covered": np.nan, "error": np.nan, "width": np.nan, "open": True})
                continue
            row = laws[0].row()
            records.append(
                {
                    "level": "slope",
                    "covered": row["slope_ci_low"] <= truth <= row["slope_ci_high"],
                    "error": abs(row["slope"] - truth),
                    "width": row["slope_ci_high"] - row["slope_ci_low"],
                    "open": False,
                }
            )
            continue
        fit_a, fit_b = (condition.fit("category", "c") for condition in conditions)
        truth = truths[1] - truths[0]
        verdict = {}
        for level, moved in (
            ("shift", shift(fit_a, fit_b)),
            (DRAWS_BASELINE, draws_baseline(fit_a, fit_b)),
        ):
            records.append(
                {
                    "level": level,
                    "covered": moved.contains(truth),
                    "error": abs(moved.estimate - truth),
                    "width": moved.high - moved.low,
                    "open": moved.is_open,
                }
            )
            differ = (moved.low > 0 and not moved.low_open) or (moved.high < 0 and not moved.high_open)
            suffix = "" if level == "shift" else " by draws"
            verdict |= {f"detected{suffix}": differ, f"right_sign{suffix}": moved.estimate > 0}
        verdicts.append(verdict)
    return records, verdicts


DRAWS_BASELINE = "shift, draws' difference"
"""The level of the baseline a user would build by hand beside the shift: the difference of the two conditions'
posterior argmax draws, without the frontier's widening or open ends."""


def draws_baseline(a: CurveFit, b: CurveFit) -> Interval:
    """b's optimum minus a's with the central 95% of the differences of their posterior argmax draws (shifts.py's
    `draws_difference`), closed: no widening and no open ends (no CI where either has no curve, as in `shift`)."""
    estimate = b.best_log10_ratio - a.best_log10_ratio
    if a.kind != "gp" or b.kind != "gp":
        return Interval(estimate, np.nan, np.nan)
    return Interval(estimate, *draws_difference(a.argmax_samples(), b.argmax_samples()))


def ratio_range(grid: str, inset: float = 0.0) -> tuple[float, float]:
    """The log10(lr/bs) range a grid covers, each end moved in by `inset` of its span (where planted optima lie)."""
    learning_rates, batch_sizes = GRIDS[grid]
    low = float(np.log10(min(learning_rates) / max(batch_sizes)))
    high = float(np.log10(max(learning_rates) / min(batch_sizes)))
    return low + inset * (high - low), high - inset * (high - low)


def summarise(case: Case, optima: list[dict]) -> list[dict]:
    frame = pd.DataFrame(optima)
    return [
        {
            "case": case.shape,
            "seed_noise": case.seed_noise,
            "grid": case.grid,
            "seeds": case.n_seeds,
            "level": level,
            "n": len(rows),
            "coverage": rows["covered"].astype(float).mean(),
            "median_error": rows["error"].median(),
            "median_width": rows["width"].median(),
            "open_share": rows["open"].mean(),
        }
        for level, rows in frame.groupby("level", sort=False)
    ]


def verdict_rate(verdicts: pd.DataFrame, gap: float, suffix: str = "") -> float:
    """The share of verdicts that found a difference (at `gap` 0, a false positive) or, at a real gap, found it with
    the right sign; `suffix` picks the baseline's columns."""
    detected = verdicts[f"detected{suffix}"]
    return float(detected.mean() if gap == 0 else (detected & verdicts[f"right_sign{suffix}"]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 tables per case instead of 200")
    parser.add_argument("--tables", type=int, help="tables per case (overrides --quick)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shapes", nargs="+", help="only these cases (e.g. cliff 'categories 0')")
    parser.add_argument("--grids", nargs="+", choices=list(GRIDS), help="only these grids")
    parser.add_argument(
        "--first", type=int, default=0, help="index of each case's first table: another set of tables (held out)"
    )
    arguments = parser.parse_args()
    n_tables = arguments.tables or (30 if arguments.quick else 200)
    start = time.perf_counter()
    all_cases = [
        case
        for case in cases()
        if (not arguments.shapes or case.shape in arguments.shapes)
        and (not arguments.grids or case.grid in arguments.grids)
    ]
    offset = arguments.first
    chunks = [
        (case, offset + first, min(10, n_tables - first)) for case in all_cases for first in range(0, n_tables, 10)
    ]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"  # one BLAS thread per worker process
    with ProcessPoolExecutor(arguments.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(run_tables, *zip(*chunks, strict=True)))
    optima: dict[Case, list[dict]] = {case: [] for case in all_cases}
    contrasts: dict[Case, list[dict]] = {case: [] for case in all_cases}
    for (case, _, _), (found, contrast) in zip(chunks, results, strict=True):
        optima[case] += found
        contrasts[case] += contrast
    table = pd.DataFrame([row for case in all_cases for row in summarise(case, optima[case])])
    pd.set_option("display.width", 200)
    print(f"{n_tables} tables per case; 95% CIs; truth = argmax of the expected score; errors in decades")
    print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    print()
    rates = []
    for case in all_cases:
        if case.separation is None:
            continue
        frame = pd.DataFrame(contrasts[case])
        gap = case.separation
        rate = verdict_rate(frame, gap)
        label = "false-positive rate" if gap == 0 else "power"
        kind = "conditions" if case.is_study else "contrast"
        baseline = f", draws' difference {verdict_rate(frame, gap, ' by draws'):.3f}" if case.is_study else ""
        peak = "".join(case.shape.partition(",")[1:])
        print(
            f"{kind} {case.grid} seeds={case.n_seeds} separation {gap:g}{peak}: {label} {rate:.3f}{baseline} "
            f"(n={len(frame)})"
        )
        rates.append({"kind": kind, "grid": case.grid, "gap": gap, "rate": rate})
    rates = pd.DataFrame(rates, columns=["kind", "grid", "gap", "rate"])
    ratio = table["level"].isin(["task", "category"])
    big = (table["grid"] == "7x5") & ratio
    errors = [
        row["error"]
        for case in all_cases
        if case.grid == "7x5" and not case.is_study
        for row in optima[case]
        if row["level"] in ("task", "category")
    ]
    worst = table[big].loc[table.loc[big, "median_error"].idxmax()] if big.any() else None
    null = (rates["grid"] == "7x5") & (rates["gap"] == 0)
    fpr = rates.loc[null & (rates["kind"] == "contrast"), "rate"].max()
    condition_fpr = rates.loc[null & (rates["kind"] == "conditions"), "rate"].max()
    shift_coverage = table.loc[table["level"] == "shift", "coverage"].min()
    slope_coverage = table.loc[table["level"] == "slope", "coverage"].min()
    quiet = ratio & (table["seed_noise"] == 0)
    median_error = np.nanmedian(errors) if np.isfinite(errors).any() else np.nan  # no 7 x 5 shape case ran: none
    seed_noise_coverage = table.loc[ratio & (table["seed_noise"] > 0), "coverage"].min()
    per_bs_coverage = table.loc[table["level"].str.endswith("lr@bs"), "coverage"].min()
    print(f"wall {time.perf_counter() - start:.0f} s, {arguments.workers} workers")
    if worst is not None:
        print(f"largest median error of one 7x5 case: {worst['median_error']:.3f} ({worst['case']}, {worst['level']})")
    print(
        f"min_coverage={table.loc[quiet, 'coverage'].min():.3f} median_error={median_error:.3f} "
        f"contrast_fpr={fpr:.3f} min_coverage_seed_noise={seed_noise_coverage:.3f} "
        f"per_bs_coverage={per_bs_coverage:.3f} "
        f"condition_fpr={condition_fpr:.3f} shift_coverage={shift_coverage:.3f} slope_coverage={slope_coverage:.3f}"
    )


if __name__ == "__main__":
    main()
