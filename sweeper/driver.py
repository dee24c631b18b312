"""Run a sweep: check the spec, prepare once, start or join Ray, let Tune run every trial, store, analyse.

The driver prepares the sweep once (base model + tokenized data, `trials.prepare`), starts or joins Ray, and
hands Tune the trials through `sweeper.tune_trials`, the one seam between the spec's trials and Tune's configs.
Every finished trial is written to the results store from a Tune callback in this process. When Tune returns, the
store is reconciled with Tune's own `ResultGrid`, so a result that reached Tune is stored even if the callback
never saw it (e.g. a driver killed between the two); the store is keyed by trial id, so this never duplicates a
row. `run_sweep` and `resume_sweep` differ only in where the spec comes from.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray import tune

from contract.errors import AnalysisFailed, OutputDirError, SweeperError, SweepInterrupted
from contract.spec import BASELINE_TRIAL_ID, SPEC_FILE, SweepSpec, dump_spec, load_sweep_spec
from contract.store import ResultsStore, TrialResult, TrialStatus, best_trial
from sweeper.checks import check_spec
from sweeper.ray_train import tune_trial_resources
from sweeper.tune_trials import (
    OnResult,
    OnStart,
    StoreCallback,
    param_space,
    results_of,
    search_algorithm,
    trainable,
    trial_name,
)
from trials.prepare import saved_model_dir
from trials.tracking import log_sweep_summary, resolve_wandb_mode, sweep_id

if TYPE_CHECKING:
    import pandas as pd
    from typing_extensions import TypedDict, Unpack

    class SweepOptions(TypedDict, total=False):
        """How a sweep runs, new or resumed: the Ray to join, logs, the analysis at the end, the live view's hooks."""

        address: str | None
        verbose: bool
        analyze: bool
        on_result: OnResult | None
        on_start: OnStart | None


log = logging.getLogger("ratio_sweeper.driver")
STOP_GRACE_SECONDS = 30
TUNE_DIR = "tune"
# Every worker's environment (Ray's runtime_env): no progress bars or info logs from the libraries inside trials,
# and no W&B service but its own.
WORKER_ENV = {
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
    # Empty: each trial process starts a W&B service of its own, which dies with it. One inherited from whatever
    # started the driver (a test runner, a notebook: any process that used W&B) outlives a killed trial with the
    # trial's run still open in it, and refuses the resumed trial's run, same id, as "run ID ... is in use".
    "WANDB_SERVICE": "",
}


def run_sweep(spec: SweepSpec, *, overwrite: bool = False, **options: Unpack[SweepOptions]) -> pd.DataFrame:
    """Run every trial of `spec` and return the tidy results table (also on disk in the output dir).

    With `analyze` (the default), the analysis (plots, fits, report.md) is written into the output dir as well; if it
    fails, `AnalysisFailed` is raised once the results are stored and the W&B summary run is logged.
    """
    output_dir = spec.resolved_output_dir()
    if (output_dir / SPEC_FILE).exists() and not overwrite:
        raise OutputDirError(
            f"{output_dir} already holds a sweep; continue it with `sweeper resume {output_dir}`, "
            "or pass --overwrite, or choose another --output-dir"
        )
    return _sweep(spec, output_dir, fresh=True, **options)


def resume_sweep(output_dir: Path, **options: Unpack[SweepOptions]) -> pd.DataFrame:
    """Continue a sweep whose driver was killed: finished trials are kept and not trained again."""
    output_dir = Path(output_dir).resolve()
    return _sweep(load_sweep_spec(output_dir), output_dir, fresh=False, **options)


def _sweep(
    spec: SweepSpec,
    output_dir: Path,
    *,
    fresh: bool,
    address: str | None = None,
    verbose: bool = False,
    analyze: bool = True,
    on_result: OnResult | None = None,
    on_start: OnStart | None = None,
) -> pd.DataFrame:
    """Check, resolve and record the spec (a `fresh` sweep starts from an empty output dir), then run it."""
    report = check_spec(spec, address=address)
    spec = _for_workers(spec.with_metric_directions(report.higher_is_better), output_dir)
    if fresh:
        shutil.rmtree(output_dir, ignore_errors=True)
        output_dir.mkdir(parents=True)
        (output_dir / SPEC_FILE).write_text(dump_spec(spec))
    table = _run_tune(spec, output_dir, address, verbose, on_result, on_start)
    _analyse_and_summarise(spec, table, output_dir, analyze)
    return table


def _analyse_and_summarise(spec: SweepSpec, table: pd.DataFrame, output_dir: Path, analyze: bool) -> None:
    """The analysis at the end of a sweep, then its W&B summary run. A follow-up of a study (`sweeper plan`) is
    analysed with the sweeps before it, into the study's folder. The trials are stored by now: an analysis that fails
    leaves them as they are, the summary is logged without it, and `AnalysisFailed` says how to rerun it."""
    study = Path(spec.study_dir) if spec.study_dir else output_dir
    analysis = failure = None
    if analyze:
        from analysis import analyze as write_analysis

        try:
            analysis = write_analysis(study, study)
        except Exception as error:  # deliberately any: whatever the analysis raises, the finished sweep stands
            failure = error
    log_sweep_summary(spec, table, study / "plots", analysis)
    if failure is not None:
        message = " ".join(str(failure).split())
        cause = f"{type(failure).__name__}: {message}" if message else type(failure).__name__
        raise AnalysisFailed(
            f"the sweep finished and its results are saved in {output_dir}, but the analysis failed: {cause}; "
            f"rerun it with `sweeper analyze {study} --output-dir {study}`"
        ) from failure


def _for_workers(spec: SweepSpec, output_dir: Path) -> SweepSpec:
    """Ray workers run in their trial folders, so every path they see is absolute; WANDB_MODE is resolved here,
    once, so every trial logs the same way whatever its worker's environment says."""
    wandb = spec.wandb.model_copy(update={"mode": resolve_wandb_mode(spec)})
    storage = spec.storage_path
    if storage is not None and "://" not in storage:
        storage = str(Path(storage).expanduser().resolve())
    return spec.model_copy(update={"output_dir": str(output_dir), "wandb": wandb, "storage_path": storage})


def _run_tune(
    spec: SweepSpec,
    output_dir: Path,
    address: str | None,
    verbose: bool,
    on_result: OnResult | None,
    on_start: OnStart | None,
) -> pd.DataFrame:
    """Tune runs every trial not yet stored (a new experiment, or the interrupted one restored); the stored table."""
    from trials.prepare import prepare_sweep
    from trials.trial import evaluate_baseline

    sweep_id(output_dir)  # minted here, once, before trials race to read it
    source = spec.model.from_sweep
    prepared = prepare_sweep(spec, str(best_model_of_sweep(source.path, source.best_on)) if source else None)
    store = ResultsStore(output_dir)
    # Ray's restore re-runs a trial whose end it had not yet checkpointed when the driver died; the results
    # store may already hold it (it is written the moment the trial reports). Trials look themselves up here
    # and report the stored result instead of training again, so nothing is paid for twice.
    finished = {
        result.trial_id: result.to_metrics()
        for result in _stored_results(store)
        if result.status in {TrialStatus.OK, TrialStatus.DIVERGED, TrialStatus.BASELINE}
    }
    StoreCallback.attach(store, on_result, on_start)
    _start_ray(address, verbose)
    needs_baseline = spec.evaluation.baseline and BASELINE_TRIAL_ID not in finished
    baseline = None
    if needs_baseline and spec.search.algorithm == "optuna":
        # Optuna's search algorithm makes the configs, so the baseline cannot be one: it runs beside as a Ray task.
        remote = ray.remote(num_cpus=spec.resources.cpus, num_gpus=spec.resources.gpus)(evaluate_baseline)
        baseline = remote.remote(spec, prepared)

    resourced = tune.with_resources(
        tune.with_parameters(trainable, spec=spec, prepared=prepared, finished=finished), tune_trial_resources(spec)
    )
    storage = spec.storage_path or str(output_dir)
    tune_path = f"{storage.rstrip('/')}/{TUNE_DIR}"
    if tune.Tuner.can_restore(tune_path):
        tuner = tune.Tuner.restore(
            tune_path, resourced, resume_unfinished=True, resume_errored=False, restart_errored=True
        )
    else:
        tuner = _new_tuner(spec, resourced, storage, prepared.num_examples, needs_baseline)
    grid = tuner.fit()
    stored = store.trial_ids()
    store.add([result for result in results_of(grid, spec) if result.trial_id not in stored])
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
    return store.load()


def best_model_of_sweep(sweep_dir: str, best_on: str) -> Path:
    """The saved model of an earlier sweep's best trial on a category, task or the mean of all tasks."""
    store = ResultsStore(Path(sweep_dir).expanduser())
    if not store.parquet_path.exists():
        raise SweeperError(f"model.from_sweep.path: {sweep_dir} holds no results.parquet; give a sweep's output dir")
    try:
        trial_id = best_trial(store.load(), best_on)
    except ValueError as error:
        raise SweeperError(f"model.from_sweep.best_on: {error}; use a category or task of that sweep") from None
    folder = saved_model_dir(store.directory, trial_id)
    if not folder.is_dir():
        raise SweeperError(
            f"model.from_sweep: best trial {trial_id} of {sweep_dir} saved no model; "
            "run that sweep with training.save_model: true"
        )
    return folder


def _new_tuner(spec: SweepSpec, resourced: Any, storage: str, num_examples: int, baseline: bool) -> tune.Tuner:
    name = trial_name(spec)
    return tune.Tuner(
        resourced,
        param_space=param_space(spec, num_examples, baseline),
        tune_config=tune.TuneConfig(
            num_samples=spec.search.num_samples if spec.search.algorithm == "optuna" else 1,
            search_alg=search_algorithm(spec),
            max_concurrent_trials=spec.search.max_concurrent_trials,
            reuse_actors=spec.search.reuse_actors,
            trial_name_creator=name,
            trial_dirname_creator=name,
        ),
        run_config=tune.RunConfig(
            name=TUNE_DIR,
            storage_path=storage,
            callbacks=[StoreCallback(spec)],
            failure_config=tune.FailureConfig(max_failures=spec.search.max_failures),
            verbose=0,
        ),
    )


def _stored_results(store: ResultsStore) -> list[TrialResult]:
    table = store.load()
    return [TrialResult.from_rows(rows) for _, rows in table.groupby("trial_id", sort=False)]


def _start_ray(address: str | None, verbose: bool) -> None:
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")  # finished trials survive a SIGKILL of the driver
    # A worker Tune has asked to stop (its trial ended, stored already) that has not exited after this grace is
    # killed, instead of holding its CPUs/GPUs, and the sweep, for Tune's default 10 minutes.
    os.environ.setdefault("TUNE_FORCE_TRIAL_CLEANUP_S", str(STOP_GRACE_SECONDS))
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if not verbose:
        os.environ.setdefault("WANDB_SILENT", "true")  # W&B's banners would interleave with the live view
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    # Local workers inherit this process's environment (HF_*, WANDB_API_KEY, ...). Only WORKER_ENV goes through
    # runtime_env, which Ray records: secrets must never be written anywhere.
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.ERROR,
        "runtime_env": {"env_vars": WORKER_ENV},
    }
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(address="local", num_cpus=os.cpu_count(), **options)  # a Ray of its own, not a `ray start` here
    # Ray's core worker installs a SIGTERM handler that aborts the driver: put ours back.
    interrupt_on_sigterm()


def interrupt_on_sigterm() -> None:
    """SIGTERM (a scheduler pre-empting the job) stops the sweep as Ctrl-C does: Tune ends the trials and saves its
    state, finished trials are stored, and `sweeper resume` goes on from there."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
