"""Real studies never break the analysis: N messy results tables through `analyze`, every outcome counted.

Each table comes from `analysis.synthetic.messy_table` (the generator the property test in
tests/analysis/test_fuzz_analysis.py draws from): constant, all-zero and never-scored tasks, metrics to minimise,
huge and negative scores, one to twelve ratios, one to three seeds, repeated rows, every trial diverged, optional
columns missing. `analyze` must either write its tables, figures and report (answered) or refuse the table with an
`AnalysisInputError` (refused: `sweeper analyze` prints it on one line and exits 2); anything else is a traceback.
Prints each refusal's reason and each traceback, then the counts; the last line is
`tables=N tracebacks=T refused=K answered=M`. Exits 1 when any table raised a traceback.

    python benchmarks/fuzz_analysis.py --examples 100      # from the repository root
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

from analysis import analyze
from analysis.errors import AnalysisInputError
from analysis.synthetic import messy_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="How many tables to analyse.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the tables' choices.")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    def choose(options):
        return options[int(rng.integers(len(options)))]

    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for index in range(args.examples):
            table = messy_table(choose)
            try:
                analyze(table, Path(folder) / str(index))
                outcomes["answered"] += 1
            except AnalysisInputError as error:
                outcomes["refused"] += 1
                reasons[_reason(error)] += 1
            except Exception:  # the one thing this benchmark measures: count it, show it, go on
                outcomes["traceback"] += 1
                print(f"table {index}: traceback\n{traceback.format_exc()}", file=sys.stderr)
    seconds = time.perf_counter() - start
    for reason, count in reasons.most_common():
        print(f"refused {count:>4}: {reason}")
    print(f"{'outcome':<10}{'tables':>7}")
    for outcome in ("answered", "refused", "traceback"):
        print(f"{outcome:<10}{outcomes[outcome]:>7}")
    print(f"{seconds:.0f} s in all, {seconds / max(args.examples, 1):.1f} s per table")
    print(
        f"tables={args.examples} tracebacks={outcomes['traceback']} refused={outcomes['refused']} "
        f"answered={outcomes['answered']}"
    )
    sys.exit(1 if outcomes["traceback"] else 0)


def _reason(error: AnalysisInputError) -> str:
    """What a refusal says, its source, fix and quoted names left out, so alike refusals count together."""
    said = re.sub(r"'[^']*'", "…", str(error).split(": ", 1)[1].split(";")[0])
    return re.sub(r"(task … \(metric …\)(, )?)+", "tasks … ", said)


if __name__ == "__main__":
    main()
