"""The one seam between the spec's trials and Ray Tune: trials become Tune configs here, and come back here.

Out: `param_space` turns the spec's trials into Tune's search space (a grid of cells, or Optuna's ranges), and
`trainable` is the function each Tune trial runs: it turns its config back into `TrialParams` (`params_of`) and
calls `trials.trial.run_trial`, which never sees Ray's config shape. Back: `StoreCallback` writes each trial's
`TrialResult` to the results store the moment Tune hears of its end, and `results_of` reads Tune's `ResultGrid`
for what the callback may have missed.

A grid cell ({learning_rate, batch_size, seed}) is one trial. An Optuna sample (a learning rate or lr/bs ratio, and
a batch size) is one trial per seed: seeds are replicates of a point, not a parameter to search, and Optuna
optimises `SEARCH_OBJECTIVE`, the search metric averaged over the point's seeds, in the metric's own direction.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ray import tune

from contract.spec import BASELINE_TRIAL_ID, SweepSpec, TrialParams, learning_rate_at
from contract.store import ResultsStore, TrialResult, TrialStatus, trial_identity, unscored

if TYPE_CHECKING:
    from ray.tune import ResultGrid

    from trials.prepare import PreparedSweep

log = logging.getLogger("ratio_sweeper.tune")
BASELINE_CELL = {"baseline": True}
"""The grid entry that scores the untrained model: the grid's last trial, in a worker that is already warm."""
SEARCH_OBJECTIVE = "objective"
"""The reported value Optuna optimises: `search.metric` averaged over a sampled point's seeds."""
OnResult = Callable[[TrialResult], None]
OnStart = Callable[[str], None]  # called with a trial's id when it starts


def param_space(spec: SweepSpec, num_examples: int, baseline: bool) -> dict[str, Any]:
    """Grid search: one entry per trial (grid cell × seed: axes, ratio grid or exact points alike), longest first,
    then the baseline: the shortest job goes last, to the slot that frees first. Optuna: log-uniform over the
    learning-rate (or ratio) axis and a choice of batch sizes."""
    grid = spec.grid
    if spec.search.algorithm == "optuna":
        axis, values = grid.rate_axis()
        return {axis: tune.loguniform(min(values), max(values)), "batch_size": tune.choice(grid.batch_size)}
    trials = sorted(spec.trials(), key=lambda params: _expected_cost(spec, params, num_examples), reverse=True)
    cells = [{"learning_rate": t.learning_rate, "batch_size": t.batch_size, "seed": t.seed} for t in trials]
    return {"cell": tune.grid_search(cells + ([BASELINE_CELL] if baseline else []))}


def _expected_cost(spec: SweepSpec, params: TrialParams, num_examples: int) -> tuple[int, int]:
    """Longest-first order, so the sweep does not end with one long trial running alone: more optimizer steps
    cost more (each pays a fixed overhead), then a bigger batch at equal steps."""
    return spec.train_steps(params.batch_size, num_examples) or 0, params.batch_size


def search_algorithm(spec: SweepSpec) -> Any:
    """Optuna's sampler behind Tune's concurrency cap, or None for the grid."""
    if spec.search.algorithm != "optuna":
        return None
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    search = OptunaSearch(metric=SEARCH_OBJECTIVE, mode=spec.search_mode(), seed=spec.training.seeds[0])
    return ConcurrencyLimiter(search, max_concurrent=spec.search.max_concurrent_trials or 2)


def is_baseline(config: dict[str, Any]) -> bool:
    return bool(config.get("cell", {}).get("baseline"))


def params_of(config: dict[str, Any], spec: SweepSpec) -> list[TrialParams]:
    """A Tune config → the trials it stands for: one for a grid cell, one per seed for an Optuna sample."""
    point = config.get("cell", config)
    batch_size = int(point["batch_size"])
    rate = point.get("learning_rate") or learning_rate_at(point["lr_bs_ratio"], batch_size)
    seeds = [point["seed"]] if "seed" in point else spec.training.seeds
    return [spec.trial_params(float(rate), batch_size, int(seed)) for seed in seeds]


def trial_name(spec: SweepSpec) -> Callable[[Any], str]:
    """Tune's name (and folder) of a trial: its trial id, or the point's id for an Optuna sample of several seeds."""

    def name(trial: Any) -> str:
        if is_baseline(trial.config):
            return BASELINE_TRIAL_ID
        first, *others = params_of(trial.config, spec)
        return first.point_id if others else first.trial_id

    return name


def trainable(
    config: dict[str, Any], spec: SweepSpec, prepared: PreparedSweep, finished: dict[str, dict[str, Any]]
) -> None:
    """The function each Tune trial runs: its trials one after another, each reported as it ends (with
    `SEARCH_OBJECTIVE` so far). A trial already in the results store reports its stored result instead of training
    again: Ray's restore re-runs what it had not checkpointed when the driver died."""
    if is_baseline(config):
        tune.report(finished.get(BASELINE_TRIAL_ID) or _baseline_metrics(spec, prepared))
        return
    trial_dir = Path(tune.get_context().get_trial_dir())
    objective: list[float] = []
    for params in params_of(config, spec):
        metrics = finished.get(params.trial_id) or _trial_metrics(spec, prepared, params, trial_dir)
        objective.append(metrics.get(spec.search.metric, math.nan))
        finite = [value for value in objective if math.isfinite(value)]
        tune.report({**metrics, SEARCH_OBJECTIVE: sum(finite) / len(finite) if finite else math.nan})


def _trial_metrics(spec: SweepSpec, prepared: PreparedSweep, params: TrialParams, trial_dir: Path) -> dict[str, Any]:
    """One trial's result metrics: trained in this process, or by its Ray Train workers (`resources.workers`)."""
    from trials.trial import run_trial

    if spec.resources.workers > 1:
        from sweeper.ray_train import train_on_workers

        return train_on_workers(spec, prepared, params, trial_dir)
    return run_trial(spec, prepared, params, trial_dir).to_metrics()


def _baseline_metrics(spec: SweepSpec, prepared: PreparedSweep) -> dict[str, Any]:
    from trials.trial import evaluate_baseline

    if spec.resources.workers > 1:
        from sweeper.ray_train import evaluate_on_a_worker

        return evaluate_on_a_worker(spec, prepared)
    return evaluate_baseline(spec, prepared).to_metrics()


def failed_result(spec: SweepSpec, params: TrialParams, error: str) -> TrialResult:
    """The record of a trial that crashed (after Ray's retries): NaN scores, the error's last lines."""
    tail = "\n".join(error.strip().splitlines()[-5:])
    return TrialResult(**trial_identity(spec, params), status=TrialStatus.FAILED, scores=unscored(spec), error=tail)


def results_of(grid: ResultGrid, spec: SweepSpec) -> list[TrialResult]:
    """Every trial Tune's results know of: each one's last report, or a failed record for one that errored."""
    results = []
    for result in grid:
        if result.metrics and "status" in result.metrics:
            results.append(TrialResult.from_metrics(result.metrics))
        elif result.error is not None and not is_baseline(result.config):
            results += [failed_result(spec, params, str(result.error)) for params in params_of(result.config, spec)]
    return results


class StoreCallback(tune.Callback):
    """Writes each trial to the results store the moment Tune hears of its end (result or final error), and tells
    the live view when one starts.

    Tune pickles its callbacks into the experiment and brings them back on `Tuner.restore`, so an instance holds
    only the spec; the store and the live view's hooks belong to the driver process running now (`attach`).
    """

    store: ClassVar[ResultsStore | None] = None
    on_result: ClassVar[OnResult | None] = None
    on_start: ClassVar[OnStart | None] = None

    def __init__(self, spec: SweepSpec) -> None:
        self.spec = spec

    @classmethod
    def attach(cls, store: ResultsStore, on_result: OnResult | None, on_start: OnStart | None) -> None:
        cls.store, cls.on_result, cls.on_start = store, on_result, on_start

    def on_trial_start(self, iteration, trials, trial, **info):
        if StoreCallback.on_start is not None and not is_baseline(trial.config):
            for params in params_of(trial.config, self.spec):
                StoreCallback.on_start(params.trial_id)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if "status" in result:
            self._store(TrialResult.from_metrics(result))

    def on_trial_error(self, iteration, trials, trial, **info):
        error = _error_of(trial)
        if is_baseline(trial.config):  # the sweep goes on; the analysis draws no baseline line
            log.warning("the baseline evaluation failed: %s", error)
            return
        stored = StoreCallback.store.trial_ids()
        for params in params_of(trial.config, self.spec):
            if params.trial_id not in stored:  # an Optuna point's seeds that ended before the error are kept
                self._store(failed_result(self.spec, params, error))

    def _store(self, result: TrialResult) -> None:
        StoreCallback.store.add([result])
        if StoreCallback.on_result is not None and result.status is not TrialStatus.BASELINE:
            StoreCallback.on_result(result)


def _error_of(trial: Any) -> str:
    """A failed trial's errors as Tune wrote them, the last one at the end. Tune writes them into the driver's staging
    copy of the trial's folder (`trial.error_file`) and copies that to storage later, so `trial.get_error()`, which
    reads storage, is still None when `on_trial_error` hears of a trial that failed at its first try. A trial
    without a folder has no file (`error_file` is None): then what storage holds, if anything."""
    if trial.error_file is not None and Path(trial.error_file).is_file():
        return Path(trial.error_file).read_text()
    return str(trial.get_error() or "Tune gave no error text (the trial has no folder to write it in)")
