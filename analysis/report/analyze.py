"""`analyze`: the whole analysis of a sweep or a study, from any results source to CSV tables, figures and report.md.

This is the analysis' one public entry point; the CLI's `sweeper analyze SOURCE... --output-dir OUT` only calls it.
A study whose sweeps differ in a condition (estimates/conditions.py: LoRA against full, one model size against
another) is analysed per condition, each in its own sub-folder as one sweep would be, and then across them
(estimates/shifts.py, report/comparison.py), the comparison first. Every file is written atomically, so a reader (or
a crash) never sees half a table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.estimates.batch_laws import batch_law_table
from analysis.estimates.conditions import Condition, split_conditions
from analysis.estimates.contrasts import category_contrasts
from analysis.estimates.curves import CurveFit, fit_curves
from analysis.estimates.frontier import DivergenceFrontier
from analysis.estimates.invariants import COLUMNS as INVARIANT_COLUMNS
from analysis.estimates.invariants import TrialResamples, compare_invariants
from analysis.estimates.noise import noise_table
from analysis.estimates.regret import parse_ratio, regret_table
from analysis.estimates.series import Series, build_series
from analysis.estimates.shifts import ConditionFit
from analysis.estimates.surfaces import fit_surfaces, optimal_lr_table
from analysis.figures.write import write_plots
from analysis.files import write_atomically, write_text_atomically
from analysis.load import Source, load_study
from analysis.report.comparison import compare_conditions
from analysis.report.findings import collect_warnings
from analysis.report.tables import fits_table, optima_table
from analysis.report.text import answer_text, render_report


@dataclass(frozen=True)
class AnalysisResult:
    """The frames `analyze` computed (each also written to OUT as CSV), the Answer, warnings, files, timings."""

    results: pd.DataFrame
    fits: pd.DataFrame
    optima: pd.DataFrame
    category_contrast: pd.DataFrame
    regret: pd.DataFrame
    invariants: pd.DataFrame
    optimal_lr: pd.DataFrame
    batch_laws: pd.DataFrame
    divergence_frontier: pd.DataFrame
    noise: pd.DataFrame
    """Per task: eval noise, seed noise beyond it, the noise the fit found beyond the stated noise (noise.py)."""
    answer: str
    """The report's Answer section (markdown bullets): optima, contrast, regret of a shared ratio, confidence."""
    warnings: list[str]
    output_dir: Path
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent per stage (load, fit, surfaces, invariants, plots, report)."""
    conditions: dict[str, AnalysisResult] = field(default_factory=dict)
    """A study of several conditions: each one's own analysis, by label (the tables above then stack theirs, with a
    leading `condition` column); empty for one sweep."""
    comparison: dict[str, pd.DataFrame] = field(default_factory=dict)
    """A study of several conditions: condition_optima, condition_shifts, size_law and size_predictions."""


MIN_BOOTSTRAP = 1000
"""Fewest resamples `analyze` accepts: the 2.5% and 97.5% percentiles of fewer are noise."""


def analyze(
    source: Source | Sequence[Source],
    output_dir: str | Path,
    n_bootstrap: int = 1000,
    seed: int = 0,
    reference_ratio: float | str | None = None,
    predict_sizes: Sequence[float] = (),
) -> AnalysisResult:
    """Analyse how scores depend on lr/bs, per task and per category, and write tables, figures and report.md.

    `source`: a sweep output dir, a study dir, a results .parquet/.csv, a Ray Tune experiment folder,
    `wandb://entity/project/group` or a DataFrame, or a list of them analysed as one study. `n_bootstrap` resamples of
    whole trials give the invariants' CIs, `seed` makes every draw reproducible. `reference_ratio` (a float, or
    "lr/bs" text such as "5e-6/128") is a named default whose regret the report gives beside the categories' own
    optima. `predict_sizes`: parameter counts at which a study over three or more model sizes extrapolates each
    category's optimum.
    """
    if n_bootstrap < MIN_BOOTSTRAP:
        raise AnalysisInputError(
            f"n_bootstrap must be >= {MIN_BOOTSTRAP} (the 2.5% and 97.5% percentiles of fewer resamples are noise), "
            f"got {n_bootstrap}."
        )
    try:
        reference = parse_ratio(reference_ratio)
    except ValueError:
        raise AnalysisInputError(
            f"reference_ratio: expected a positive number or 'lr/bs' such as '5e-6/128', got {reference_ratio!r}."
        ) from None
    if any(not size > 0 for size in predict_sizes):
        raise AnalysisInputError(
            f"predict_sizes: expected parameter counts > 0, e.g. 1.7e9, got {list(predict_sizes)}."
        )
    output = Path(output_dir)
    timings: dict[str, float] = {}
    with _timed(timings, "load"):
        frame = load_study(list(source) if isinstance(source, list | tuple) else [source])
        conditions = split_conditions(frame)
    settings = _Settings(n_bootstrap, seed, reference)
    if len(conditions) == 1:
        return _analysed(frame, output, settings, timings).result
    return _analyze_study(frame, conditions, output, settings, predict_sizes, timings)


@dataclass(frozen=True)
class _Settings:
    """What `analyze` was asked, for each condition's analysis alike."""

    n_bootstrap: int
    seed: int
    reference: float | None


@dataclass(frozen=True)
class _Analysed:
    """One condition's result, its tables by CSV name, and the fits and series the comparison across conditions
    reads."""

    result: AnalysisResult
    tables: dict[str, pd.DataFrame]
    fits: list[CurveFit]
    series: list[Series]


def _analysed(
    frame: pd.DataFrame, output: Path, settings: _Settings, timings: dict[str, float] | None = None
) -> _Analysed:
    """One condition's whole analysis (one sweep's, or one condition's of a study) into `output`; `timings` gains
    its stages."""
    timings = {} if timings is None else timings
    rng = np.random.default_rng(settings.seed)
    with _timed(timings, "fit"):
        series = build_series(frame)
        fits = fit_curves(series, rng)
    with _timed(timings, "surfaces"):
        surfaces = fit_surfaces(series, rng, {fit.name: fit.model for fit in fits if fit.model is not None})
    with _timed(timings, "invariants"):
        resamples = TrialResamples.draw(max(series[0].n_trials if series else 0, 1), settings.n_bootstrap, rng)
        invariant_rows = [compare_invariants(one, resamples) for one in series]
        invariants = pd.concat(
            [rows for rows in invariant_rows if not rows.empty] or [pd.DataFrame(columns=INVARIANT_COLUMNS)]
        )
    tables = {
        "optima": optima_table(fits),
        "category_contrast": category_contrasts(fits),
        "regret": regret_table(fits, series, settings.reference),
        "fits": fits_table(fits),
        "invariants": invariants.reset_index(drop=True),
        "optimal_lr": optimal_lr_table(surfaces),
        "batch_laws": batch_law_table(surfaces),
        "divergence_frontier": DivergenceFrontier.of(frame).table(),
        "noise": noise_table(frame, fits),
    }
    files = [
        write_atomically(output / f"{name}.csv", lambda path, table=table: table.to_csv(path, index=False))
        for name, table in tables.items()
    ]
    with _timed(timings, "plots"):
        files += write_plots(frame, fits, surfaces, tables, output / "plots")
    with _timed(timings, "report"):
        warnings = collect_warnings(frame, series, fits, tables)
        answer = answer_text(fits, tables, frame.groupby("task")["category"].first())
        relative = [path.relative_to(output) for path in files]
        text = render_report(frame, fits, tables, answer, warnings, relative)
        files.append(write_text_atomically(output / "report.md", text))
    result = AnalysisResult(
        results=frame, **tables, answer=answer, warnings=warnings, output_dir=output, files=files, timings=timings
    )
    return _Analysed(result, tables, fits, series)


def _analyze_study(
    frame: pd.DataFrame,
    conditions: list[Condition],
    output: Path,
    settings: _Settings,
    predict_sizes: Sequence[float],
    timings: dict[str, float],
) -> AnalysisResult:
    """Each condition in its own sub-folder, then the comparison (tables, figures, report.md) at the top; the
    returned tables stack the conditions' own, with a leading `condition` column."""
    analysed = {one.label: _analysed(one.table, output / one.folder, settings) for one in conditions}
    fitted = [
        ConditionFit(one.label, one.parameters, analysed[one.label].fits, analysed[one.label].series)
        for one in conditions
    ]
    results = {label: one.result for label, one in analysed.items()}
    compared = compare_conditions(
        fitted,
        conditions,
        output,
        predict_sizes,
        answers={label: result.answer for label, result in results.items()},
        warnings={label: result.warnings for label, result in results.items()},
    )
    names = next(iter(analysed.values())).tables
    stacked = {
        name: pd.concat(
            [one.tables[name].assign(condition=label) for label, one in analysed.items()], ignore_index=True
        ).pipe(lambda table: table[["condition", *table.columns.drop("condition")]])
        for name in names
    }
    stages = dict.fromkeys(stage for result in results.values() for stage in result.timings)
    return AnalysisResult(
        results=frame,
        **stacked,
        answer=compared.answer,
        warnings=compared.warnings,
        output_dir=output,
        files=compared.files + [path for result in results.values() for path in result.files],
        timings=timings
        | {stage: sum(result.timings.get(stage, 0.0) for result in results.values()) for stage in stages},
        conditions=results,
        comparison=compared.tables,
    )


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = time.perf_counter() - start
