"""Run a sweep with Ray Tune: one Tune trial per grid cell × seed, results stored as each trial finishes.

The driver prepares the sweep once (base model + tokenized data, `trials.prepare`), starts or joins Ray,
hands Tune the trial function with per-trial resources, and writes every finished trial into the results
store from a Tune callback in this process. When `fit` returns, the store is reconciled with Tune's own
`ResultGrid`, so a result that reached Tune is stored even if the callback never saw it (e.g. a driver killed
between the two); the store is keyed by trial id, so this never duplicates a row.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import ray
from ray import tune

from sweeper.checks import check_spec
from sweeper.errors import OutputDirError, SweepInterrupted
from sweeper.spec import SweepSpec, TrialParams, dump_spec, load_spec
from sweeper.store import BASELINE_TRIAL_ID, ResultsStore, TrialResult, TrialStatus
from trials.tracking import log_sweep_summary, resolve_wandb_mode, sweep_id
from trials.trial import (
    BASELINE_CELL,
    SEARCH_OBJECTIVE,
    evaluate_baseline,
    is_baseline,
    params_from_config,
    trial_identity,
    tune_trainable,
    unscored,
)

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger("ratio_sweeper.driver")
SPEC_FILE = "spec.yaml"
TUNE_DIR = "tune"
# Quiet workers: no progress bars or info logs from the libraries inside trials.
WORKER_ENV = {
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
}
OnResult = Callable[[TrialResult], None]
OnStart = Callable[[str], None]  # called with a trial's id when it starts


def run_sweep(
    spec: SweepSpec,
    *,
    overwrite: bool = False,
    address: str | None = None,
    verbose: bool = False,
    analyze: bool = True,
    on_result: OnResult | None = None,
    on_start: OnStart | None = None,
) -> pd.DataFrame:
    """Run every trial of `spec` and return the tidy results table (also on disk in the output dir).

    With `analyze`, the analysis (plots, fits, report.md) is written into the output dir as well.
    """
    report = check_spec(spec, address=address)
    output_dir = spec.resolved_output_dir()
    spec = _for_workers(spec.with_metric_directions(report.higher_is_better), output_dir)
    if (output_dir / SPEC_FILE).exists():
        if not overwrite:
            raise OutputDirError(
                f"{output_dir} already holds a sweep; continue it with `sweeper resume {output_dir}`, "
                "or pass --overwrite, or choose another --output-dir"
            )
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / SPEC_FILE).write_text(dump_spec(spec))
    return _fit(spec, output_dir, address, verbose, analyze, on_result, on_start)


def resume_sweep(
    output_dir: Path,
    *,
    address: str | None = None,
    verbose: bool = False,
    analyze: bool = True,
    on_result: OnResult | None = None,
    on_start: OnStart | None = None,
) -> pd.DataFrame:
    """Continue a sweep whose driver was killed: finished trials are kept and not trained again."""
    output_dir = Path(output_dir).resolve()
    if not (output_dir / SPEC_FILE).exists():
        raise OutputDirError(f"{output_dir} holds no sweep (no {SPEC_FILE}); start one with `sweeper run SPEC`")
    spec = load_spec(output_dir / SPEC_FILE)
    report = check_spec(spec, address=address)
    spec = _for_workers(spec.with_metric_directions(report.higher_is_better), output_dir)
    return _fit(spec, output_dir, address, verbose, analyze, on_result, on_start)


def _for_workers(spec: SweepSpec, output_dir: Path) -> SweepSpec:
    """Ray workers run in their trial folders, so every path they see is absolute; WANDB_MODE is resolved here,
    once, so every trial logs the same way whatever its worker's environment says."""
    wandb = spec.wandb.model_copy(update={"mode": resolve_wandb_mode(spec)})
    storage = spec.storage_path
    if storage is not None and "://" not in storage:
        storage = str(Path(storage).expanduser().resolve())
    return spec.model_copy(update={"output_dir": str(output_dir), "wandb": wandb, "storage_path": storage})


def _fit(
    spec: SweepSpec,
    output_dir: Path,
    address: str | None,
    verbose: bool,
    analyze: bool,
    on_result: OnResult | None,
    on_start: OnStart | None,
) -> pd.DataFrame:
    from trials.prepare import prepare_sweep

    sweep_id(output_dir)  # minted here, once, before trials race to read it
    prepared = prepare_sweep(spec)
    store = ResultsStore(output_dir)
    # Ray's restore re-runs a trial whose end it had not yet checkpointed when the driver died; the results
    # store may already hold it (it is written the moment the trial reports). Trials look themselves up here
    # and report the stored result instead of training again, so nothing is paid for twice.
    finished = {
        result.trial_id: result.to_metrics()
        for result in _stored_results(store)
        if result.status in {TrialStatus.OK, TrialStatus.DIVERGED, TrialStatus.BASELINE}
    }
    StoreCallback.store, StoreCallback.listener, StoreCallback.starter = store, on_result, on_start
    _start_ray(address, verbose)
    needs_baseline = spec.evaluation.baseline and BASELINE_TRIAL_ID not in store.trial_ids()
    baseline = None
    if needs_baseline and spec.search.algorithm == "optuna":
        # Optuna's search algorithm makes the configs, so the baseline cannot be one: it runs beside as a Ray task.
        remote = ray.remote(num_cpus=spec.resources.cpus, num_gpus=spec.resources.gpus)(evaluate_baseline)
        baseline = remote.remote(spec, prepared)

    trainable = tune.with_resources(
        tune.with_parameters(tune_trainable, spec=spec, prepared=prepared, finished=finished),
        {"cpu": spec.resources.cpus, "gpu": spec.resources.gpus},
    )
    storage = spec.storage_path or str(output_dir)
    tune_path = f"{storage.rstrip('/')}/{TUNE_DIR}"
    if tune.Tuner.can_restore(tune_path):
        tuner = tune.Tuner.restore(
            tune_path, trainable, resume_unfinished=True, resume_errored=False, restart_errored=True
        )
    else:
        tuner = _new_tuner(spec, trainable, storage, StoreCallback(spec), prepared.num_examples, needs_baseline)
    grid = tuner.fit()
    stored = store.trial_ids()
    missing = []
    for result in grid:
        if result.metrics and "status" in result.metrics:
            missing.append(TrialResult.from_metrics(result.metrics))
        elif result.error is not None and not is_baseline(result.config):
            error = str(result.error)
            missing += [failed_result(spec, params, error) for params in params_from_config(result.config, spec)]
    store.add([result for result in missing if result.trial_id not in stored])
    # Tune stops gracefully on SIGINT and returns what it has; with lazily generated trials (a concurrency cap)
    # the ones never started are not even in its grid, so count against the spec, not against Tune's results.
    expected = spec.num_trials()
    done = len(store.trial_ids() - {BASELINE_TRIAL_ID})
    if done < expected:
        raise SweepInterrupted(
            f"interrupted with {expected - done} of {expected} trials unfinished; the finished ones are saved in "
            f"{output_dir}; continue with `sweeper resume {output_dir}`"
        )
    if baseline is not None:
        store.add([ray.get(baseline)])
    table = store.load()
    if analyze:
        from analysis import analyze as write_analysis

        write_analysis(table, output_dir)
    log_sweep_summary(spec, table, output_dir / "plots")
    return table


def _new_tuner(
    spec: SweepSpec, trainable: Any, storage: str, callback: tune.Callback, num_examples: int, baseline: bool
) -> tune.Tuner:
    name_trial = _trial_namer(spec)
    return tune.Tuner(
        trainable,
        param_space=_param_space(spec, num_examples, baseline),
        tune_config=tune.TuneConfig(
            num_samples=spec.search.num_samples if spec.search.algorithm == "optuna" else 1,
            search_alg=_search_algorithm(spec),
            max_concurrent_trials=spec.search.max_concurrent_trials,
            reuse_actors=spec.search.reuse_actors,
            trial_name_creator=name_trial,
            trial_dirname_creator=name_trial,
        ),
        run_config=tune.RunConfig(
            name=TUNE_DIR,
            storage_path=storage,
            callbacks=[callback],
            failure_config=tune.FailureConfig(max_failures=spec.search.max_failures),
            verbose=0,
        ),
    )


def _stored_results(store: ResultsStore) -> list[TrialResult]:
    table = store.load()
    return [TrialResult.from_rows(rows) for _, rows in table.groupby("trial_id", sort=False)]


def _start_ray(address: str | None, verbose: bool) -> None:
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")  # finished trials survive a SIGKILL of the driver
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if not verbose:
        os.environ.setdefault("WANDB_SILENT", "true")  # W&B's banners would interleave with the live view
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    # Local workers inherit this process's environment (HF_*, WANDB_API_KEY, ...). Only the quieting variables go
    # through runtime_env, which Ray records: secrets must never be written anywhere.
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.ERROR,
        "runtime_env": {"env_vars": WORKER_ENV},
    }
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=os.cpu_count(), **options)
    if threading.current_thread() is threading.main_thread():
        # Ray's core worker installs a SIGTERM handler that aborts the driver. A scheduler pre-empting the job
        # sends SIGTERM: make it a Ctrl-C, which Tune handles by ending trials and saving its state.
        signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))


def _param_space(spec: SweepSpec, num_examples: int, baseline: bool) -> dict[str, Any]:
    """Grid search: one entry per trial (grid cell × seed: axes, ratio grid or exact points alike), longest first,
    then the baseline: the shortest job goes last, to the slot that frees first, in a worker that is already warm.
    Optuna: log-uniform over the learning-rate (or ratio) axis and a choice of batch sizes; each sampled point is
    trained once per seed (replicates, not a searched parameter)."""
    grid = spec.grid
    if spec.search.algorithm == "optuna":
        axis, values = (
            ("learning_rate", grid.learning_rate) if grid.learning_rate else ("lr_bs_ratio", grid.lr_bs_ratio)
        )
        return {axis: tune.loguniform(min(values), max(values)), "batch_size": tune.choice(grid.batch_size)}
    trials = sorted(spec.trials(), key=lambda params: _expected_cost(spec, params, num_examples), reverse=True)
    cells = [{"learning_rate": t.learning_rate, "batch_size": t.batch_size, "seed": t.seed} for t in trials]
    return {"cell": tune.grid_search(cells + ([BASELINE_CELL] if baseline else []))}


def _expected_cost(spec: SweepSpec, params: TrialParams, num_examples: int) -> tuple[int, int]:
    """Longest-first order, so the sweep does not end with one long trial running alone: more optimizer steps
    cost more (each pays a fixed overhead), then a bigger batch at equal steps."""
    return spec.train_steps(params.batch_size, num_examples) or 0, params.batch_size


def _search_algorithm(spec: SweepSpec) -> Any:
    if spec.search.algorithm != "optuna":
        return None
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    search = OptunaSearch(metric=SEARCH_OBJECTIVE, mode=spec.search_mode(), seed=spec.training.seeds[0])
    return ConcurrencyLimiter(search, max_concurrent=spec.search.max_concurrent_trials or 2)


def _trial_namer(spec: SweepSpec) -> Callable[[Any], str]:
    def name(trial: Any) -> str:
        if is_baseline(trial.config):
            return BASELINE_TRIAL_ID
        first, *others = params_from_config(trial.config, spec)
        return first.point_id if others else first.trial_id  # an Optuna point trains all its seeds

    return name


def failed_result(spec: SweepSpec, params: TrialParams, error: str) -> TrialResult:
    """The record of a trial that crashed (after Ray's retries): NaN scores, the error's last lines."""
    tail = "\n".join(error.strip().splitlines()[-5:])
    return TrialResult(**trial_identity(spec, params), status=TrialStatus.FAILED, scores=unscored(spec), error=tail)


class StoreCallback(tune.Callback):
    """Writes each trial to the results store the moment Tune hears of its end (result or final error), and tells
    the live view when one starts.

    Tune pickles its callbacks into the experiment and brings them back on `Tuner.restore`, so an instance holds
    only the spec; the store and the live view's hooks belong to the driver process running now (set by `_fit`).
    """

    store: ClassVar[ResultsStore | None] = None
    listener: ClassVar[OnResult | None] = None
    starter: ClassVar[OnStart | None] = None

    def __init__(self, spec: SweepSpec) -> None:
        self.spec = spec

    def on_trial_start(self, iteration, trials, trial, **info):
        if StoreCallback.starter is not None and not is_baseline(trial.config):
            for params in params_from_config(trial.config, self.spec):
                StoreCallback.starter(params.trial_id)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if "status" in result:
            self._record(TrialResult.from_metrics(result))

    def on_trial_error(self, iteration, trials, trial, **info):
        if is_baseline(trial.config):  # the sweep goes on; the analysis draws no baseline line
            log.warning("the baseline evaluation failed: %s", trial.get_error())
            return
        stored = StoreCallback.store.trial_ids()
        for params in params_from_config(trial.config, self.spec):
            if params.trial_id not in stored:  # an Optuna point's seeds that ended before the error are kept
                self._record(failed_result(self.spec, params, str(trial.get_error() or "unknown error")))

    def _record(self, result: TrialResult) -> None:
        StoreCallback.store.add([result])
        if StoreCallback.listener is not None and result.status is not TrialStatus.BASELINE:
            StoreCallback.listener(result)
