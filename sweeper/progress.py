"""What a sweep looks like in a terminal: progress with ETA, trials by status, the finished trials' scores.

One renderer serves the live view of `sweeper run` (redrawn as each trial finishes) and `sweeper status DIR`
(drawn once from what is on disk), so both show the same thing. Without a terminal (CI, nohup) the run
prints one plain line per finished trial instead.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import pandas as pd

    from contract.store import TrialResult

STATUS_STYLE = {"ok": "green", "diverged": "yellow", "failed": "red", "baseline": "dim"}
HEADERS = {"trial_id": "trial", "learning_rate": "lr", "batch_size": "bs", "lr_bs_ratio": "lr/bs", "train_loss": "loss"}


def sweep_view(
    name: str,
    total: int,
    table: pd.DataFrame,
    started_at: float | None = None,
    running: dict[str, float] | None = None,
) -> Group:
    """Progress bar + counts + ETA over the trials of `table` (the tidy results), the trials running now (id →
    start time, known only to the process driving the sweep), and the finished trials' pivot table."""
    from contract.store import pivot_by_trial

    wide = pivot_by_trial(table)
    trials = wide[wide["status"] != "baseline"]
    done = len(trials)
    counts = trials["status"].value_counts().to_dict()
    summary = Text(f"{name}: {done}/{total} trials  ")
    for status in ("ok", "diverged", "failed"):
        summary.append(f"{status} {counts.get(status, 0)}  ", style=STATUS_STYLE[status])
    first_start = started_at if started_at is not None else _first_start(table)
    if 0 < done < total and first_start is not None:
        elapsed = time.time() - first_start
        summary.append(f"ETA {_duration(elapsed / done * (total - done))}", style="bold")
    filled = round(40 * done / max(total, 1))
    bar = Text("█" * filled, style="green") + Text("░" * (40 - filled), style="dim")
    parts = [summary, bar]
    if running:
        since = ", ".join(f"{trial_id} (since {time.strftime('%H:%M:%S', time.localtime(start))})"
                          for trial_id, start in sorted(running.items(), key=lambda item: item[1]))  # fmt: skip
        parts.append(Text(f"running: {since}", style="cyan"))
    return Group(*parts, results_table(wide))


def results_table(wide: pd.DataFrame) -> Table:
    """The one-row-per-trial table (`store.pivot_by_trial`), formatted for people."""
    table = Table(show_lines=False)
    for column in wide.columns:
        if column in {"trial_id", "status"}:  # never truncated: the id is what a user greps for
            longest = max([len(str(value)) for value in wide[column]] + [len(HEADERS.get(column, column))])
            table.add_column(HEADERS.get(column, column), justify="left", no_wrap=True, min_width=longest)
        else:  # task names are long: their headers fold onto two lines rather than vanish
            table.add_column(HEADERS.get(column, str(column)), justify="right", overflow="fold")
    for row in wide.itertuples(index=False):
        cells = [_cell(value) for value in row]
        status = getattr(row, "status", "")
        table.add_row(*cells, style=STATUS_STYLE.get(status))
    return table


def trial_line(result: TrialResult, done: int, total: int) -> str:
    """The plain line printed per finished trial when there is no terminal to redraw."""
    scores = " ".join(f"{score.task}={score.score:.3f}" for score in result.scores)
    ratio = f"lr/bs={result.params.lr_bs_ratio:.3g}"
    return f"[{done}/{total}] {result.trial_id} {ratio} {result.status.value} {scores}".rstrip()


def _first_start(table: pd.DataFrame) -> float | None:
    starts = table.loc[table["status"] != "baseline", "started_at"].dropna()
    return float(starts.min()) if len(starts) else None


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.3g}"
    return str(value)
