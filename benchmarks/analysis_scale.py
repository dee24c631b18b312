"""Time the full analysis on a sweep far larger than any real one: 10,000 trials × 8 tasks in 2 categories.

The grid is 100 learning rates × 100 batch sizes with one seed, a planted optimum per task, and diverged runs
above a ratio frontier. `analyze` runs as the CLI runs it (1000 bootstrap resamples, every figure), and the
stage timings are printed, ending with `analysis_seconds=X.X`. Target: under 30 s on 2 CPU cores.

    python -m benchmarks.analysis_scale      # from the repository root
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from analysis import analyze
from analysis.synthetic import PlantedTask, planted_table

TASKS = {
    "arc": PlantedTask("reasoning", best_z=-4.6),
    "gsm8k": PlantedTask("reasoning", best_z=-4.4, width_above=0.5, noise=0.02),
    "bbh": PlantedTask("reasoning", best_z=-4.7, curvature=0.05),
    "mmlu_pro": PlantedTask("reasoning", best_z=-4.5, noise=0.02),
    "hellaswag": PlantedTask("pattern", best_z=-5.6),
    "ifeval": PlantedTask("pattern", best_z=-5.4, curvature=0.05, metric="prompt_level_strict_acc"),
    "piqa": PlantedTask("pattern", best_z=-5.5, noise=0.02),
    "winogrande": PlantedTask("pattern", best_z=-5.7, width_above=2.0),
}


def main() -> None:
    start = time.perf_counter()
    table = planted_table(
        TASKS,
        learning_rates=np.geomspace(1e-6, 1e-2, 100),
        batch_sizes=np.arange(8, 808, 8),
        diverge_above=10**-3.5,
    )
    build_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as output_dir:
        start, cpu_start = time.perf_counter(), time.process_time()
        result = analyze(table, output_dir, n_bootstrap=1000, seed=0)
        analysis_seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    n_trials = table.loc[table["status"] != "baseline", "trial_id"].nunique()
    print(f"{n_trials} trials x {len(TASKS)} tasks ({len(table)} rows); table built in {build_seconds:.1f} s")
    print(f"{'stage':<12}{'seconds':>9}")
    for stage, seconds in result.timings.items():
        print(f"{stage:<12}{seconds:>9.2f}")
    print(f"(CPU time of all threads: {cpu_seconds:.1f} s; wall time grows when other processes share the cores)")
    print(f"analysis_seconds={analysis_seconds:.1f}")


if __name__ == "__main__":
    main()
