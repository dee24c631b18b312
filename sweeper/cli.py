"""`sweeper`: the command line. Parsing only; every command calls a library function that tests call too.

User errors (`SweeperError`) print one line and exit 2, never a traceback. Heavy imports (Ray, torch, the
analysis stack) happen inside the commands, so `sweeper --help` starts fast.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from sweeper.errors import SweeperError
from sweeper.spec import SweepSpec, load_spec

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Sweep learning rate x batch size for LLM post-training and find the best lr/bs ratio per task.\n\n"
    "Example: sweeper run search_spaces/demo.yaml --output-dir runs/demo",
)
# Not a terminal (CI, a log file, a pipe): no wrapping, so a row per trial stays a row a script can grep.
console = Console(width=None if sys.stdout.isatty() else 240)
err_console = Console(stderr=True)

SpecArg = Annotated[str, typer.Argument(help="A spec YAML path, or a packaged spec name such as `demo`.")]
QuietOption = Annotated[bool, typer.Option(help="No live view: one plain line per finished trial.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a spec field, e.g. --set training.train_examples=2000 (repeatable)."),
]


@app.command()
def run(
    spec: SpecArg,
    output_dir: Annotated[Path | None, typer.Option(help="Where results go (default: the spec's).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a sweep already in the output dir.")] = False,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (default: $RAY_ADDRESS or local).")] = None,
    verbose: Annotated[bool, typer.Option(help="Show Ray's and the trials' logs.")] = False,
    quiet: QuietOption = False,
    analyze: Annotated[bool, typer.Option(help="Write plots and the analysis report when done.")] = True,
    set_: SetOption = None,
) -> None:
    """Run a sweep: every lr x batch-size cell is trained, evaluated and stored as it finishes.

    Example: sweeper run search_spaces/demo.yaml --output-dir runs/demo
    """
    from sweeper.driver import run_sweep

    sweep = _load(spec, set_, output_dir)
    _execute(sweep, quiet, lambda report, started: run_sweep(
        sweep, overwrite=overwrite, address=address, verbose=verbose, analyze=analyze, on_result=report,
        on_start=started,
    ))  # fmt: skip


@app.command()
def resume(
    directory: Annotated[Path, typer.Argument(help="The output dir of a sweep that was interrupted.")],
    address: Annotated[str | None, typer.Option(help="Ray cluster address (default: $RAY_ADDRESS or local).")] = None,
    verbose: Annotated[bool, typer.Option(help="Show Ray's and the trials' logs.")] = False,
    quiet: QuietOption = False,
    analyze: Annotated[bool, typer.Option(help="Write plots and the analysis report when done.")] = True,
) -> None:
    """Continue an interrupted sweep; finished trials are kept and not trained again.

    Example: sweeper resume runs/demo
    """
    from sweeper.driver import SPEC_FILE, resume_sweep

    if not (directory / SPEC_FILE).exists():
        raise SweeperError(f"{directory}: holds no sweep (no {SPEC_FILE}); start one with `sweeper run SPEC`")
    sweep = load_spec(directory / SPEC_FILE, {"output_dir": str(directory.resolve())})
    _execute(sweep, quiet, lambda report, started: resume_sweep(
        directory, address=address, verbose=verbose, analyze=analyze, on_result=report, on_start=started
    ))  # fmt: skip


def _execute(sweep: SweepSpec, quiet: bool, start: Any) -> None:
    """Run or resume with a live view (a terminal) or a line per finished trial, then the results table."""
    from rich.live import Live

    from sweeper.progress import sweep_view, trial_line
    from sweeper.store import ResultsStore, pivot_by_trial

    output = sweep.resolved_output_dir()
    store = ResultsStore(output)
    total = len(sweep.trials()) if sweep.search.algorithm == "grid" else sweep.search.num_samples
    live = None if quiet or not console.is_terminal else Live(console=console, refresh_per_second=2)
    done: list[Any] = []
    running: dict[str, float] = {}

    def report(result: Any) -> None:
        done.append(result)
        running.pop(result.trial_id, None)
        if live is None:
            console.print(trial_line(result, len(done), total), highlight=False)
        else:
            live.update(sweep_view(sweep.name, total, store.load(), running=running))

    def started(trial_id: str) -> None:
        running[trial_id] = time.time()
        if live is not None:
            live.update(sweep_view(sweep.name, total, store.load(), running=running))

    console.print(f"[bold]{sweep.name}[/]: {total} trials -> {output}")
    # SIGTERM (a scheduler pre-empting the job) stops like Ctrl-C (the driver re-installs this once Ray is up).
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
    try:
        if live is None:
            table = start(report, started)
            _print_table(pivot_by_trial(table))
        else:
            with live:
                table = start(report, started)
                live.update(sweep_view(sweep.name, total, table))  # the last frame stays: the final table
    except KeyboardInterrupt:
        err_console.print(f"interrupted: finished trials are saved; continue with `sweeper resume {output}`")
        raise typer.Exit(130) from None
    failed = table[table["status"] == "failed"].drop_duplicates("trial_id")
    for row in failed.itertuples():
        err_console.print(f"failed: {row.trial_id}: {row.error.splitlines()[-1] if row.error else '?'}")
    console.print(f"results: {output / 'results.csv'}  {output / 'results.parquet'}")
    if (output / "plots").exists():
        console.print(f"analysis: {output / 'report.md'}  plots: {output / 'plots'}")


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
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        script.write_text(text)
        console.print(f"wrote {script}; submit it with: sbatch {script}")


@app.command()
def status(directory: Annotated[Path, typer.Argument(help="A sweep's output dir (running or finished).")]) -> None:
    """Show a sweep's progress, trials by status and scores, from what is on disk.

    Example: sweeper status runs/demo
    """
    from sweeper.driver import SPEC_FILE
    from sweeper.progress import sweep_view
    from sweeper.store import ResultsStore

    if not (directory / SPEC_FILE).exists():
        raise SweeperError(f"{directory}: holds no sweep (no {SPEC_FILE}); give a sweep's output dir")
    sweep = load_spec(directory / SPEC_FILE)
    total = len(sweep.trials()) if sweep.search.algorithm == "grid" else sweep.search.num_samples
    console.print(sweep_view(sweep.name, total, ResultsStore(directory).load()))


@app.command()
def results(
    directory: Annotated[Path, typer.Argument(help="A sweep's output dir.")],
    csv: Annotated[Path | None, typer.Option(help="Also write the tidy table as CSV here.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Also write the tidy table as parquet here.")] = None,
) -> None:
    """Print a sweep's results, one row per trial (lr, bs, lr/bs, status, a column per task).

    Example: sweeper results runs/demo --csv demo.csv
    """
    from sweeper.store import ResultsStore, pivot_by_trial

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
    source: Annotated[str, typer.Argument(help="A sweep dir, a results .csv/.parquet, a Ray experiment dir.")],
    output_dir: Annotated[Path, typer.Option(help="Where the plots, tables and report.md go.")] = Path("analysis"),
    reference_ratio: Annotated[
        str | None,
        typer.Option(help="A default lr/bs whose regret is reported: a number or 'lr/bs', e.g. 5e-6/128 (Tulu 3)."),
    ] = None,
) -> None:
    """Fit score vs log10(lr/bs) per task and category, find optimal ratios with honest CIs, test invariants and
    batch-size laws, measure the regret of a shared ratio, plot.

    Example: sweeper analyze runs/demo --output-dir runs/demo/analysis --reference-ratio 5e-6/128
    """
    _analyze(source, output_dir, reference_ratio)


@app.command()
def validate(spec: SpecArg, set_: SetOption = None) -> None:
    """Check a spec without running anything and print its trial table.

    Example: sweeper validate search_spaces/smoltulu_135m_sft.yaml
    """
    from rich.table import Table

    from sweeper.checks import check_spec

    sweep = _load(spec, set_, None)
    report = check_spec(sweep, for_this_machine=False)
    table = Table("trial", "lr", "bs", "lr/bs", "micro-batch x accum", "steps", "examples")
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
            f"{params.per_device_batch_size} x {params.gradient_accumulation_steps}",
            "per epoch" if steps is None else str(steps),
            "-" if examples is None else f"{examples:,}",
        )
    console.print(table)
    for line in report.unchecked:
        console.print(f"[yellow]not checked[/]: {line}", highlight=False)
    budget = f", {total_examples:,} training sequences in all" if total_examples else ""
    tokens = f" (<= {total_examples * sweep.training.max_length:,} tokens at max_length)" if total_examples else ""
    console.print(f"[green]ok[/]: {sweep.name} is valid: {len(sweep.trials())} trials{budget}{tokens}")


def _load(spec: str, overrides: list[str] | None, output_dir: Path | None) -> SweepSpec:
    values = dict(_parse_override(item) for item in overrides or [])
    if output_dir is not None:
        values["output_dir"] = str(output_dir)
    return load_spec(spec, values)


def _parse_override(item: str) -> tuple[str, Any]:
    key, separator, value = item.partition("=")
    if not separator:
        raise SweeperError(f"--set {item}: expected key=value, e.g. --set training.train_examples=2000")
    return key, yaml.safe_load(value)


def _analyze(source: Any, output_dir: Path, reference_ratio: str | None) -> None:
    from analysis import analyze as run_analysis
    from analysis.errors import AnalysisInputError

    try:
        run_analysis(source, output_dir, reference_ratio=reference_ratio)
    except AnalysisInputError as error:  # analysis has no dependency on sweeper, so its input error is mapped here
        raise SweeperError(str(error)) from None
    console.print(f"analysis: {Path(output_dir) / 'report.md'}  plots: {Path(output_dir) / 'plots'}")


def _print_table(wide: Any) -> None:
    from sweeper.progress import results_table

    console.print(results_table(wide))


def main() -> None:
    """Entry point: user errors exit 2 with one line, no traceback."""
    try:
        app(standalone_mode=False)
    except SweeperError as error:
        err_console.print(f"error: {error}", highlight=False, soft_wrap=True)
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
