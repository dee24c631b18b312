"""Real studies never break the analysis: a messy table (`analysis.synthetic.messy_table`: constant, all-zero and
never-scored tasks, metrics to minimise, huge and negative scores, one to twelve ratios, lone or many seeds, repeated
rows, every trial diverged, optional columns missing, and their mixtures) is either analysed, every output written,
or refused with an `AnalysisInputError`; never any other exception. benchmarks/fuzz_analysis.py runs the same
generator by the hundred."""

from __future__ import annotations

import re
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import analyze
from analysis.errors import AnalysisInputError
from analysis.synthetic import messy_table

NO_CI_KINDS = {"two_ratios", "one_ratio", "flat", "no_data"}


@settings(max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_messy_table_is_analysed_or_refused(data: st.DataObject) -> None:
    table = messy_table(lambda options: data.draw(st.sampled_from(options)))
    with tempfile.TemporaryDirectory() as output_dir:
        try:
            result = analyze(table, output_dir)
        except AnalysisInputError as error:
            assert "\n" not in str(error) and "higher_is_better" in str(error), "one line, naming the column"
            return
        report = (result.output_dir / "report.md").read_text()
        assert all(path.exists() for path in result.files)
    assert not re.search(r"\bnan\b", report, flags=re.IGNORECASE), "no number the analysis has not got"
    tasks = report.split("## Tasks")[1].split("## ")[0]
    assert all(f"**{task}**" in tasks for task in result.results["task"].unique()), "a sentence per task"
    optima = result.optima.set_index(["level", "name"])
    estimated_nothing = optima[optima["kind"].isin(NO_CI_KINDS)]
    assert estimated_nothing[["ci_low", "ci_high"]].isna().all().all(), "no CI where none was estimated"
    ok = result.results[(result.results["status"] == "ok") & result.results["score"].notna()]
    points = ok.groupby(["task", "learning_rate", "batch_size"])["score"].mean().groupby("task")
    constant = points.nunique() == 1
    for task in constant.index[constant & (points.size() > 1)]:
        assert optima.loc[("task", task), "kind"] == "flat", f"{task} never changes: flat, no optimum"
    gp = optima[optima["kind"] == "gp"]
    assert np.isfinite(gp[["ci_low", "ci_high"]].to_numpy()).all()
