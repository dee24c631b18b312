"""`sweeper`: the command line. Parsing only; every command calls a library function that tests call too.

User errors (`SweeperError`) print one line and exit 2, never a traceback; a sweep whose trials all finished but
whose analysis failed exits 3, naming the error and the `sweeper analyze` command that reruns it. Heavy imports (Ray,
torch, the analysis stack) happen inside the commands, so `sweeper --help` starts fast.
"""

from __future__ import annotations

import math
import os
import sys
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from contract.errors import SweeperError

if TYPE_CHECKING:
    from rich.console import Console

    from contract.spec import SweepSpec

# Plain help (rich_markup_mode=None): typer's rich help formatter alone costs more start-up than the rest of the CLI.
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Sweep learning rate x batch size for LLM post-training and find the best lr/bs ratio per task.\n\n"
    "Example: sweeper run search_spaces/demo.yaml --output-dir runs/demo",
)


@cache
def _out() -> Console:
    """The terminal for results: not a terminal (CI, a log file, a pipe) means no wrapping, so a row per trial stays
    a row a script can grep. Made on first use, as rich is only imported by commands that print."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 240)


@cache
def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True)


SpecArg = Annotated[str, typer.Argument(help="A spec YAML path, or a packaged spec name such as `demo`.")]
AddressOption = Annotated[str | None, typer.Option(help="Ray cluster address (default: $RAY_ADDRESS or local).")]
VerboseOption = Annotated[bool, typer.Option(help="Show Ray's and the trials' logs.")]
QuietOption = Annotated[bool, typer.Option(help="No live view: one plain line per finished trial.")]
AnalyzeOption = Annotated[bool, typer.Option(help="Write plots and the analysis report when done.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a spec field, e.g. --set training.train_examples=2000 (repeatable)."),
]


@app.command()
def run(
    spec: SpecArg,
    output_dir: Annotated[Path | None, typer.Option(help="Where results go (default: the spec's).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a sweep already in the output dir.")] = False,
    address: AddressOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    analyze: AnalyzeOption = True,
    set_: SetOption = None,
) -> None:
    """Run a sweep: every lr x batch-size cell is trained, evaluated and stored as it finishes.

    Example: sweeper run search_spaces/demo.yaml --output-dir runs/demo
    """
    from sweeper.driver import run_sweep

    sweep = _load(spec, set_, output_dir)
    _execute(sweep, quiet, lambda **hooks: run_sweep(
        sweep, overwrite=overwrite, address=address, verbose=verbose, analyze=analyze, **hooks
    ))  # fmt: skip


@app.command()
def resume(
    directory: Annotated[Path, typer.Argument(help="The output dir of a sweep that was interrupted.")],
    address: AddressOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    analyze: AnalyzeOption = True,
) -> None:
    """Continue an interrupted sweep; finished trials are kept and not trained again.

    Example: sweeper resume runs/demo
    """
    from contract.spec import load_sweep_spec
    from sweeper.driver import resume_sweep

    sweep = load_sweep_spec(directory)
    _execute(sweep, quiet, lambda **hooks: resume_sweep(
        directory, address=address, verbose=verbose, analyze=analyze, **hooks
    ))  # fmt: skip


def _execute(sweep: SweepSpec, quiet: bool, start: Any) -> None:
    """Run or resume with a live view (a terminal) or a line per finished trial, then the results table."""
    from rich.live import Live

    from contract.store import ResultsStore, pivot_by_trial
    from sweeper.driver import interrupt_on_sigterm
    from sweeper.progress import sweep_view, trial_line

    output = sweep.resolved_output_dir()
    store = ResultsStore(output)
    total = sweep.num_trials()
    live = None if quiet or not _out().is_terminal else Live(console=_out(), refresh_per_second=2)
    done: list[Any] = []
    running: dict[str, float] = {}
    finished = store.load()  # re-read only when a trial ends, not when one starts

    def redraw() -> None:
        if live is not None:
            live.update(sweep_view(sweep.name, total, finished, running=running))

    def on_result(result: Any) -> None:
        nonlocal finished
        done.append(result)
        running.pop(result.trial_id, None)
        if live is None:
            _out().print(trial_line(result, len(done), total), highlight=False)
        else:
            finished = store.load()
            redraw()

    def on_start(trial_id: str) -> None:
        running[trial_id] = time.time()
        redraw()

    _out().print(f"[bold]{sweep.name}[/]: {total} trials -> {output}")
    interrupt_on_sigterm()  # before Ray is up too (the driver puts it back after Ray's own)
    try:
        if live is None:
            table = start(on_result=on_result, on_start=on_start)
            _print_table(pivot_by_trial(table))
        else:
            with live:
                table = start(on_result=on_result, on_start=on_start)
                live.update(sweep_view(sweep.name, total, table))  # the last frame stays: the final table
    except KeyboardInterrupt:
        _err().print(f"interrupted: finished trials are saved; continue with `sweeper resume {output}`")
        raise typer.Exit(130) from None
    failed = table[table["status"] == "failed"].drop_duplicates("trial_id")
    for row in failed.itertuples():
        _err().print(f"failed: {row.trial_id}: {row.error.splitlines()[-1] if row.error else '?'}")
    _out().print(f"results: {output / 'results.csv'}  {output / 'results.parquet'}")
    if (output / "plots").exists():
        _out().print(f"analysis: {output / 'report.md'}  plots: {output / 'plots'}")


@app.command()
def slurm(
    spec: SpecArg,
    nodes: Annotated[int, typer.Option(min=1, help="Nodes to allocate (one Ray node each).")] = 2,
    cpus_per_node: Annotated[int, typer.Option(min=1, help="CPUs per node.")] = 16,
    gpus_per_node: Annotated[int, typer.Option(min=0, help="GPUs per node.")] = 8,
    time: Annotated[str, typer.Option(help="Wall-time limit, HH:MM:SS.")] = "24:00:00",
    partition: Annotated[str | None, typer.Option(help="SLURM partition.")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Where results go (default: the spec's).")] = None,
    script: Annotated[Path | None, typer.Option(help="Write the script here (default: print it).")] = None,
) -> None:
    """Write an sbatch script: a Ray cluster on the allocated nodes, then the sweep (resumed if requeued).

    Example: sweeper slurm search_spaces/smoltulu_135m_sft.yaml --nodes 4 --gpus-per-node 8 --script sft.sbatch
    """
    from sweeper.slurm import render_sbatch

    sweep = _load(spec, None, output_dir)
    text = render_sbatch(
        sweep, Path(spec), nodes=nodes, cpus_per_node=cpus_per_node, gpus_per_node=gpus_per_node,
        time=time, partition=partition,
    )  # fmt: skip
    if script is None:
        _out().print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        script.write_text(text)
        _out().print(f"wrote {script}; submit it with: sbatch {script}")


@app.command()
def status(directory: Annotated[Path, typer.Argument(help="A sweep's output dir (running or finished).")]) -> None:
    """Show a sweep's progress, trials by status and scores, from what is on disk.

    Example: sweeper status runs/demo
    """
    from contract.spec import load_sweep_spec
    from contract.store import ResultsStore
    from sweeper.progress import sweep_view

    sweep = load_sweep_spec(directory)
    total = sweep.num_trials()
    _out().print(sweep_view(sweep.name, total, ResultsStore(directory).load()))


@app.command()
def results(
    directory: Annotated[Path, typer.Argument(help="A sweep's output dir.")],
    csv: Annotated[Path | None, typer.Option(help="Also write the tidy table as CSV here.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Also write the tidy table as parquet here.")] = None,
) -> None:
    """Print a sweep's results, one row per trial (lr, bs, lr/bs, status, a column per task).

    Example: sweeper results runs/demo --csv demo.csv
    """
    from contract.store import ResultsStore, pivot_by_trial

    store = ResultsStore(directory)
    if not store.parquet_path.exists():
        raise SweeperError(f"{directory}: no results.parquet here; is it a sweep's output dir?")
    table = store.load()
    _print_table(pivot_by_trial(table))
    if csv:
        table.to_csv(csv, index=False)
    if parquet:
        table.to_parquet(parquet, index=False)


@app.command()
def analyze(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="A sweep dir, a study dir, a results .csv/.parquet or a Ray experiment dir; several are one study "
            "whose conditions (model, adapter, method) are compared."
        ),
    ],
    output_dir: Annotated[Path, typer.Option(help="Where the plots, tables and report.md go.")] = Path("analysis"),
    reference_ratio: Annotated[
        str | None,
        typer.Option(help="A default lr/bs whose regret is reported: a number or 'lr/bs', e.g. 5e-6/128 (Tulu 3)."),
    ] = None,
    predict_size: Annotated[
        list[float] | None,
        typer.Option(help="Over 3+ model sizes: each category's optimum at this parameter count, e.g. 1.7e9."),
    ] = None,
) -> None:
    """Fit score vs log10(lr/bs) per task and category, find optimal ratios with honest CIs, test invariants and
    batch-size laws, measure the regret of a shared ratio, plot; across conditions, the shift of each optimum.

    Example: sweeper analyze runs/demo --output-dir runs/demo/analysis --reference-ratio 5e-6/128
    Across conditions: sweeper analyze runs/full runs/lora --output-dir cmp
    """
    _analyze(sources if len(sources) > 1 else sources[0], output_dir, reference_ratio, predict_size or [])


@app.command()
def plan(
    directory: Annotated[Path, typer.Argument(help="A study: a finished sweep's output dir (and its follow-ups).")],
    target_ci: Annotated[float, typer.Option(help="Wanted 95% CI width of each optimum, in decades of lr/bs.")] = 0.2,
    max_trials: Annotated[int | None, typer.Option(help="Plan at most this many trials.")] = None,
    max_gpu_hours: Annotated[
        float | None, typer.Option(help="Plan at most this many GPU-hours (trial-hours on CPUs).")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Settle this category's optimum only.")] = None,
    batch_law: Annotated[bool, typer.Option(help="Settle how the optimal lr moves with batch size instead.")] = False,
    optima_only: Annotated[bool, typer.Option(help="Settle each category's optimum, not whether they differ.")] = False,
) -> None:
    """Plan the smallest next sweep that settles where each category's optimum lies and whether they differ.

    Writes DIRECTORY/next.yaml (run it with `sweeper run`); its results join the study's.
    Example: sweeper plan runs/pilot --target-ci 0.2 --max-trials 12
    """
    from sweeper.plan import plan_study

    focuses = [one for one in (category, "batch_law" if batch_law else None, "optima" if optima_only else None) if one]
    if len(focuses) > 1:
        raise SweeperError("choose one of --category, --batch-law and --optima-only.")
    focus = focuses[0] if focuses else None
    planned = plan_study(
        directory, target_ci=target_ci, max_trials=max_trials, max_gpu_hours=max_gpu_hours, focus=focus
    )
    _print_plan(planned)


def _print_plan(planned: Any) -> None:
    from rich.table import Table

    plan = planned.plan
    if plan.trials:
        table = Table("lr", "bs", "lr/bs", "seed", "why", "predicted s")
        for trial in plan.trials:
            params = planned.follow_up.trial_params(trial.learning_rate, trial.batch_size, trial.seed)
            table.add_row(
                f"{params.learning_rate:.3g}", str(params.batch_size), f"{params.lr_bs_ratio:.3g}", str(params.seed),
                trial.reason, f"{trial.seconds:.0f}",
            )  # fmt: skip
        _out().print(table)
    widths = Table("95% CI width (decades)", "now", "after the follow-up (predicted)")
    for name, now in plan.widths_now.items():
        widths.add_row(name, _width(now), _width(plan.widths_after.get(name, now)))
    _out().print(widths)
    _out().print(plan.message, highlight=False)
    if planned.spec_path is not None:
        _out().print(
            f"{len(plan.trials)} trials, {planned.device_hours:.2f} GPU-hours; run them with: "
            f"sweeper run {planned.spec_path}",
            highlight=False,
        )


def _width(decades: float) -> str:
    """A CI width for people: an open CI bounds nothing (inf), and where no trial has been (past the grid's edge,
    up to the divergence frontier) nothing predicts it (NaN)."""
    if math.isnan(decades):
        return "unknown (no trial has been there yet)"
    return "open" if math.isinf(decades) else f"{decades:.2f}"


@app.command()
def validate(spec: SpecArg, set_: SetOption = None) -> None:
    """Check a spec without running anything and print its trial table.

    Example: sweeper validate search_spaces/smoltulu_135m_sft.yaml
    """
    from rich.table import Table

    from sweeper.checks import check_spec

    sweep = _load(spec, set_, None)
    report = check_spec(sweep, for_this_machine=False)
    table = Table("trial", "lr", "bs", "lr/bs", "micro-batch x accum x workers", "steps", "examples")
    total_examples = 0
    for params in sweep.trials():
        steps = sweep.train_steps(params.batch_size, sweep.data.num_examples)
        examples = None if steps is None else steps * params.batch_size
        total_examples += examples or 0
        table.add_row(
            params.trial_id,
            f"{params.learning_rate:.3g}",
            str(params.batch_size),
            f"{params.lr_bs_ratio:.3g}",
            f"{params.per_device_batch_size} x {params.gradient_accumulation_steps} x {params.world_size}",
            "per epoch" if steps is None else str(steps),
            "-" if examples is None else f"{examples:,}",
        )
    _out().print(table)
    for line in report.unchecked:
        _out().print(f"[yellow]not checked[/]: {line}", highlight=False)
    budget = f", {total_examples:,} training sequences in all" if total_examples else ""
    tokens = f" (<= {total_examples * sweep.training.max_length:,} tokens at max_length)" if total_examples else ""
    _out().print(f"[green]ok[/]: {sweep.name} is valid: {sweep.num_trials()} trials{budget}{tokens}")
    if sweep.study_dir is not None:
        from sweeper.plan import predicted_cost

        seconds, device_hours = predicted_cost(sweep)
        _out().print(
            f"predicted from the study's measured trials: {seconds / 3600:.2f} trial-hours, {device_hours:.2f} "
            f"GPU-hours ({sweep.study_dir})",
            highlight=False,
        )


def _load(spec: str, overrides: list[str] | None, output_dir: Path | None) -> SweepSpec:
    from contract.spec import load_spec

    values = dict(_parse_override(item) for item in overrides or [])
    if output_dir is not None:
        values["output_dir"] = str(output_dir)
    return load_spec(spec, values)


def _parse_override(item: str) -> tuple[str, Any]:
    key, separator, value = item.partition("=")
    if not separator:
        raise SweeperError(f"--set {item}: expected key=value, e.g. --set training.train_examples=2000")
    import yaml

    return key, yaml.safe_load(value)


def _analyze(
    source: Any, output_dir: Path, reference_ratio: str | None, predict_sizes: list[float] | None = None
) -> None:
    from analysis import analyze as run_analysis
    from analysis.errors import AnalysisInputError

    try:
        run_analysis(source, output_dir, reference_ratio=reference_ratio, predict_sizes=predict_sizes or ())
    except AnalysisInputError as error:  # analysis has no dependency on sweeper, so its input error is mapped here
        raise SweeperError(str(error)) from None
    _out().print(f"analysis: {Path(output_dir) / 'report.md'}  plots: {Path(output_dir) / 'plots'}")


def _print_table(wide: Any) -> None:
    from sweeper.progress import results_table

    _out().print(results_table(wide))


def main() -> None:
    """Entry point: user errors exit with one line (`SweeperError.exit_code`), no traceback."""
    # A W&B service inherited from whatever started this command (a test runner, a notebook's subprocess) may be gone,
    # or may outlive a killed sweep with its summary run still open and refuse that run on resume. The command's own
    # service starts on first use and dies with it (the trials' workers do the same: sweeper.driver.WORKER_ENV).
    os.environ.pop("WANDB_SERVICE", None)
    try:
        app(standalone_mode=False)
    except SweeperError as error:
        from rich.markup import escape

        # Plain text, not markup: a message quoting `[columns]` or `[/x]` (an analysis' error) prints as it is.
        _err().print(f"error: {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except Exception as error:
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
