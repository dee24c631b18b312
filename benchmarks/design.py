"""Does the designer settle a study in fewer trials than fair baselines, with intervals that still hold the truth?

Each planted truth has two categories 0.5 decades apart, two tasks each, lm-eval's binomial noise (each task scored
on 200, 500 or 1000 items), one of the calibration's shapes (`benchmarks/calibration.py`: symmetric, skewed,
flat-topped, a cliff past the optimum with runs diverging above an lr/bs beyond it, or every learning rate above a
threshold diverging at any batch size, as Adam's runs do), and, on every other cycle of the shapes, seed noise of 1×
the eval noise's sd (half of its variance shared by a trial's tasks), which no stderr reports. Truth `index` of set
`seed` is drawn from `default_rng([seed, index])`: the development set (seed DEV_SEED) is the one variants of the
designer may be tried on; the held-out set (seed HOLDOUT_SEED, or `--holdout-seed`) is never tuned on.

From the same 3 × 3 one-seed pilot, a study goes on until the analysis gives both categories' optima a closed 95% CI
at most `--target` decades wide, or MAX_TRIALS trials (pilot included) are spent:
- designer: rounds of `plan_followup` (`sweeper plan --optima-only`), as a user reruns `sweeper plan` until it plans
  nothing, each round's trials revealed in the order the plan lists them (one seed of every point before a second,
  most wanted first);
- refinement: the grid refined, a row of learning rates between each pair, then a column of batch sizes (3 × 3,
  5 × 3, 5 × 5, 9 × 5, 9 × 9, 17 × 9 = MAX_TRIALS), each level's new trials revealed in a fixed random order;
- posterior sampling (Thompson sampling for the optimum, as PS-BAX, arXiv 2410.20596): each round, for each
  unsettled category (CI open or wider than the target), independent posterior draws of its curve from the
  analysis' GP (the category fit's joint samples); each trial goes to the argmax ratio of one draw, at the batch
  sizes in turn (the first whose learning rate lies inside the study's and that no divergence blocks), a new seed
  where the point was trained (`posterior_sampled`, which the designer's probes use too). Its rounds are
  SAMPLING_ROUND trials each, as many as MAX_TRIALS allows: it goes on where the designer plans nothing.
Every strategy reveals trials one at a time and is checked at the same granularity: the analysis runs after every
CHECK_EVERY trials and at the end of each round or level; once the target holds, bisection inside the last block
finds the trial where it first holds (exact when it stays met within a block), and the study stops there. Trials
are counted at that trial; a truth not reached within MAX_TRIALS counts as infinitely many.

Per set, strategy (and shape): truths, how many reached the target, the trials they needed (median, IQR), the trials
run, the rounds they ran in (median: each a sweep to launch and wait for), the median final width of the wider
optimum, and the coverage of the final intervals (an open end holds a truth beyond it); per baseline, the truths on
which the designer needed fewer trials, as many and more, with the sign test's p-value (`paired`). X = a baseline's
median trials ÷ the designer's (inf when only the designer's is finite, nan when neither is). The last line is
`holdout_X_refine=… holdout_X_sampling=… holdout_coverage=… dev_X_refine=…` (coverage: the designer's, on the
held-out set).

    python -m benchmarks.design --target 1.0     # 5 development + 10 held-out truths
    python -m benchmarks.design --target 0.5
    python -m benchmarks.design --quick          # 1 + 2 truths, about 5 minutes on 2 cores
    python -m benchmarks.design --dev 20 --holdout 0 --strategies designer   # a designer variant, on development
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from analysis.design.planner import OPTIMA, plan_followup
from analysis.design.question import posterior_sampled
from analysis.design.ratio_question import sampled_ratios
from analysis.design.study import Study
from analysis.estimates.curves import CurveFit, fit_curves
from analysis.estimates.intervals import Interval
from analysis.estimates.series import build_series
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table
from benchmarks.calibration import GRIDS, INTERIOR, Case, eval_sd, planted_task, shaped, true_optimum

SHAPES = ("symmetric", "skewed", "flat-topped", "cliff", "lr divergence")
SEED_NOISE = (0.0, 1.0)
"""Seed noise in multiples of the eval noise's sd: truth `index` has SEED_NOISE[index // len(SHAPES) % 2]."""
DEV_SEED, HOLDOUT_SEED = 15, 4099
GAP = 0.5
PILOT = GRIDS["3x3"]
BATCH_SIZES = (4, 8, 16, 32, 64)
"""The batch sizes the designer and posterior sampling may use: the pilot's and their geometric middles."""
MAX_TRIALS = 153
"""A study stops here, pilot included (refinement's 17 × 9 level)."""
CHECK_EVERY = 4
"""Trials revealed between two runs of the analysis (then bisection finds the trial that met the target)."""
STRATEGIES = ("designer", "refine", "sampling")
SAMPLING_ROUND = 8
"""Trials per round of posterior sampling (the analysis refits between rounds)."""


@dataclass(frozen=True)
class Truth:
    """A planted study: its tasks, `planted_table`'s options for it, and each category's true optimum."""

    seed: int
    index: int
    tasks: dict[str, PlantedTask]
    options: dict[str, float]
    optima: dict[str, float]

    @property
    def kind(self) -> str:
        shape = SHAPES[self.index % len(SHAPES)]
        noise = SEED_NOISE[self.index // len(SHAPES) % len(SEED_NOISE)]
        return f"{shape}, seed noise {noise:g}"


def planted_truth(seed: int, index: int) -> Truth:
    """Truth `index` of set `seed`: category a's optimum anywhere inside the pilot's ratios (away from their ends),
    b's GAP decades above; the shape and where runs diverge placed at b's optimum; seed noise as SEED_NOISE says."""
    rng = np.random.default_rng([seed, index])
    learning_rates, batch_sizes = PILOT
    x_low, x_high = np.log10(min(learning_rates) / max(batch_sizes)), np.log10(max(learning_rates) / min(batch_sizes))
    span = x_high - x_low
    best = rng.uniform(x_low + INTERIOR * span, x_high - INTERIOR * span - GAP)
    tasks = {f"a{task}": planted_task("a", best, rng) for task in range(2)}
    tasks |= {f"b{task}": planted_task("b", best + GAP, rng) for task in range(2)}
    tasks, options = shaped(tasks, Case(SHAPES[index % len(SHAPES)], "3x3", 1), best + GAP, rng)
    if noise := SEED_NOISE[index // len(SHAPES) % len(SEED_NOISE)]:
        own = noise * np.sqrt(0.5)
        tasks = {name: replace(one, seed_noise=own * eval_sd(one)) for name, one in tasks.items()}
        options["trial_effect"] = own * float(np.mean([eval_sd(one) for one in tasks.values()]))
    optima = {name: true_optimum([one for one in tasks.values() if one.category == name]) for name in ("a", "b")}
    return Truth(seed, index, tasks, options, optima)


def analysed(table: pd.DataFrame) -> dict[str, CurveFit]:
    """Each category's fit in the analysis of `table`."""
    fits = fit_curves(build_series(load_results(table)), np.random.default_rng(0))
    return {fit.name: fit for fit in fits if fit.level == "category"}


def settled(optimum: Interval, target: float) -> bool:
    return not optimum.is_open and optimum.high - optimum.low <= target


@dataclass
class Run:
    """One strategy's study of a truth: the pilot, then trials revealed one at a time (each scored with the truth's
    noise as it is revealed), checked as the module says."""

    truth: Truth
    target: float
    rng: np.random.Generator
    pilot: pd.DataFrame
    revealed: list[pd.DataFrame] = field(default_factory=list)
    checked: int = 0
    """Trials revealed at the last check (the target not met there)."""
    fits: dict[str, CurveFit] = field(default_factory=dict)
    rounds: int = 0
    """Calls of `reveal`: the sweeps run after the pilot."""
    met_at: int | None = None
    """Trials (pilot included) at the first trial where the target held."""

    def __post_init__(self) -> None:
        self.fits = analysed(self.pilot)
        if self.met():
            self.met_at = self.n_trials

    @property
    def n_trials(self) -> int:
        return len(PILOT[0]) * len(PILOT[1]) + len(self.revealed)

    @property
    def done(self) -> bool:
        return self.met_at is not None or self.n_trials >= MAX_TRIALS

    def table(self, revealed: int | None = None) -> pd.DataFrame:
        """The study's results after `revealed` trials (all so far when None)."""
        return pd.concat([self.pilot, *self.revealed[:revealed]], ignore_index=True)

    def met(self) -> bool:
        return all(settled(fit.optimum, self.target) for fit in self.fits.values())

    def reveal(self, trials: list[tuple[float, int, int]]) -> None:
        """Score and add `trials` one at a time, up to MAX_TRIALS, checking every CHECK_EVERY and after the last;
        stop at the trial where the target first holds."""
        self.rounds += 1
        for number, (rate, size, seed) in enumerate(trials[: MAX_TRIALS - self.n_trials], start=1):
            row = planted_table(self.truth.tasks, [rate], [size], (seed,), random_state=self.rng, **self.truth.options)
            self.revealed.append(row.query("status != 'baseline'"))
            if number % CHECK_EVERY and number < len(trials) and self.n_trials < MAX_TRIALS:
                continue
            self.fits = analysed(self.table())
            if self.met():
                self._bisect()
                return
            self.checked = len(self.revealed)

    def _bisect(self) -> None:
        """The trial inside the last block where the target first holds; drop the trials after it."""
        low, high = self.checked, len(self.revealed)
        fits = self.fits
        while high - low > 1:
            middle = (low + high) // 2
            self.fits = analysed(self.table(middle))
            if self.met():
                high, fits = middle, self.fits
            else:
                low = middle
        self.revealed, self.fits = self.revealed[:high], fits
        self.met_at = self.n_trials


def designed(run: Run) -> None:
    """Rounds of the designer, until the study is done or a plan is empty."""
    while not run.done:
        plan = plan_followup(
            load_results(run.table()),
            batch_sizes=BATCH_SIZES,
            seconds_per_trial=lambda size: 1.0,
            target_ci=run.target,
            focus=OPTIMA,
        )
        if not plan.trials:
            break
        run.reveal([(trial.learning_rate, trial.batch_size, trial.seed) for trial in plan.trials])


def refined(values: list[float], integer: bool) -> list[float]:
    """`values` with the geometric middle of each neighbouring pair (rounded for batch sizes)."""
    middles = [np.sqrt(low * high) for low, high in itertools.pairwise(values)]
    return sorted({*values, *(round(one) if integer else float(f"{one:.3g}") for one in middles)})


def refinement(run: Run, order: np.random.Generator) -> None:
    """The pilot's grid refined, learning rates and batch sizes in turn, each level in a random order."""
    learning_rates, batch_sizes = list(PILOT[0]), list(PILOT[1])
    for step in itertools.count():
        if run.done:
            break
        if step % 2 == 0:
            learning_rates = refined(learning_rates, integer=False)
        else:
            batch_sizes = refined(batch_sizes, integer=True)
        done = set(zip(run.table()["learning_rate"], run.table()["batch_size"]))
        new = [(rate, size, 0) for rate in learning_rates for size in batch_sizes if (rate, size) not in done]
        run.reveal([new[index] for index in order.permutation(len(new))])


def sampling(run: Run, draws: np.random.Generator) -> None:
    """Rounds of posterior sampling (`posterior_sampled`, the designer's probe) on the study's fits, SAMPLING_ROUND
    trials each, until the study is done or no draw's argmax can be placed."""
    while not run.done:
        unsettled = sampled_ratios([fit for _, fit in sorted(run.fits.items()) if not settled(fit.optimum, run.target)])
        study = Study(load_results(run.table()), BATCH_SIZES, lambda size: 1.0)
        planned = posterior_sampled(unsettled, study, SAMPLING_ROUND, draws)
        if not planned:
            break
        run.reveal([(trial.learning_rate, trial.batch_size, trial.seed) for trial in planned])


def run_truth(seed: int, index: int, target: float, strategies: tuple[str, ...] = STRATEGIES) -> list[dict]:
    truth = planted_truth(seed, index)
    pilot = planted_table(
        truth.tasks, *PILOT, (0,), random_state=np.random.default_rng([seed, index, 0]), **truth.options
    )
    rows = []
    for number, strategy in enumerate(STRATEGIES, start=1):
        if strategy not in strategies:
            continue
        start = time.process_time()
        run = Run(truth, target, np.random.default_rng([seed, index, number]), pilot)
        if strategy == "designer":
            designed(run)
        elif strategy == "refine":
            refinement(run, np.random.default_rng([seed, index, 10 + number]))
        else:
            sampling(run, np.random.default_rng([seed, index, 10 + number]))
        optima = {name: fit.optimum for name, fit in run.fits.items()}
        rows.append(
            {
                "set": "dev" if seed == DEV_SEED else "holdout",
                "truth": index,
                "kind": truth.kind,
                "strategy": strategy,
                "reached": run.met_at is not None,
                "trials": run.met_at if run.met_at is not None else np.inf,
                "trials_run": run.n_trials,
                "rounds": run.rounds,
                "covered": [optima[name].contains(value) for name, value in truth.optima.items()],
                "widths": [np.inf if one.is_open else round(one.high - one.low, 2) for one in optima.values()],
                "seconds": time.process_time() - start,
            }
        )
    outcome = ", ".join(f"{row['strategy']} {row['trials']:g}" for row in rows)
    print(f"truth {seed}/{index} ({truth.kind}): {outcome}", file=sys.stderr, flush=True)
    return rows


def summary(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: truths, how many reached the target, the trials they needed (median, IQR; inf when not reached),
    the trials run, the rounds run, the median final width of the wider optimum, and the coverage of the final
    intervals."""
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
                "rounds": float(group["rounds"].median()),
                "final_width": float(np.median([max(widths) for widths in group["widths"]])),
                "coverage": float(np.mean([one for flags in group["covered"] for one in flags])),
            }
        )
    return pd.DataFrame(rows)


def paired(frame: pd.DataFrame) -> pd.DataFrame:
    """Per baseline, truth by truth against the designer: on how many the designer needed fewer trials, as many, or
    more (a truth not reached counts as infinitely many; neither reaching it is a tie), and the two-sided sign test's
    p-value over the untied ones: the medians rest on a few truths, the pairs on all of them."""
    trials = frame.pivot(index="truth", columns="strategy", values="trials")
    rows = []
    for baseline in [one for one in STRATEGIES[1:] if one in trials and "designer" in trials]:
        designer, other = trials["designer"], trials[baseline]
        fewer, more = int((designer < other).sum()), int((designer > other).sum())
        p_value = stats.binomtest(fewer, fewer + more).pvalue if fewer + more else np.nan
        rows.append(
            {
                "baseline": baseline,
                "designer_fewer": fewer,
                "tied": len(trials) - fewer - more,
                "designer_more": more,
                "sign_test_p": p_value,
            }
        )
    return pd.DataFrame(rows)


def ratio(baseline: float, designer: float) -> float:
    """A baseline's median trials over the designer's: inf when only the designer's is finite, nan when neither."""
    if not (np.isfinite(baseline) or np.isfinite(designer)):
        return np.nan
    return baseline / designer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 development and 2 held-out truths")
    parser.add_argument("--dev", type=int, help="development truths (default 5; overrides --quick)")
    parser.add_argument("--holdout", type=int, help="held-out truths (default 10; overrides --quick)")
    parser.add_argument("--holdout-seed", type=int, default=HOLDOUT_SEED, help="the held-out set's seed")
    parser.add_argument("--target", type=float, default=1.0, help="wanted 95%% CI width, decades")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="print every truth's outcome")
    parser.add_argument(
        "--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES), help="which to run (default: all)"
    )
    arguments = parser.parse_args()
    n_dev = arguments.dev if arguments.dev is not None else (1 if arguments.quick else 5)
    n_holdout = arguments.holdout if arguments.holdout is not None else (2 if arguments.quick else 10)
    holdout_seed = arguments.holdout_seed
    if holdout_seed == DEV_SEED:
        parser.error(f"--holdout-seed: {DEV_SEED} is the development set's seed; choose another")
    jobs = [(DEV_SEED, index) for index in range(n_dev)] + [(holdout_seed, index) for index in range(n_holdout)]
    start = time.perf_counter()
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"  # one BLAS thread per worker process
    with ProcessPoolExecutor(arguments.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        strategies = [tuple(arguments.strategies)] * len(jobs)
        results = list(pool.map(run_truth, *zip(*jobs, strict=True), [arguments.target] * len(jobs), strategies))
    frame = pd.DataFrame([row for rows in results for row in rows])
    pd.set_option("display.width", 200)
    print(
        f"target {arguments.target:g} decades on both categories' optima, 3 x 3 one-seed pilot, at most {MAX_TRIALS} "
        f"trials, checked every trial (every {CHECK_EVERY}, then bisection); development seed {DEV_SEED} "
        f"({n_dev} truths), held-out seed {holdout_seed} ({n_holdout} truths)"
    )
    if arguments.verbose:
        print(frame.drop(columns=["seconds"]).to_string(index=False), end="\n\n")
    show = {"float_format": lambda value: f"{value:.3f}", "index": False}
    ratios = {}
    for name, rows in frame.groupby("set", sort=False):
        print(f"\n{name} truths (seed {DEV_SEED if name == 'dev' else holdout_seed})")
        print(summary(rows, ["kind", "strategy"]).to_string(**show), end="\n\n")
        table = summary(rows, ["strategy"])
        print(table.to_string(**show), end="\n\n")
        if len(pairs := paired(rows)):
            print(pairs.to_string(**show))
        by = table.set_index("strategy").reindex(list(STRATEGIES))
        designer = by.loc["designer", "median_trials"]
        ratios[name] = {strategy: ratio(by.loc[strategy, "median_trials"], designer) for strategy in STRATEGIES[1:]}
        ratios[name]["coverage"] = by.loc["designer", "coverage"]
    seconds = frame.groupby("strategy")["seconds"].sum()
    print(
        f"\nwall {time.perf_counter() - start:.0f} s, {arguments.workers} workers; "
        f"CPU seconds per strategy: {seconds.round().astype(int).to_dict()}"
    )
    holdout, dev = ratios.get("holdout", {}), ratios.get("dev", {})
    print(
        f"holdout_X_refine={holdout.get('refine', np.nan):.2f} "
        f"holdout_X_sampling={holdout.get('sampling', np.nan):.2f} "
        f"holdout_coverage={holdout.get('coverage', np.nan):.3f} dev_X_refine={dev.get('refine', np.nan):.2f}"
    )


if __name__ == "__main__":
    main()
