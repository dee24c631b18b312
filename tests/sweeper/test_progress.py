"""The terminal view: what is done, what is running now, and the finished trials' scores."""

from __future__ import annotations

import time

import pandas as pd
from rich.console import Console

from analysis.schema import COLUMNS, STORE_DTYPES
from contract.spec import TrialParams
from contract.store import TaskScore, TrialResult, TrialStatus
from sweeper.progress import sweep_view


def _table(result: TrialResult) -> pd.DataFrame:
    return pd.DataFrame(result.rows(), columns=list(COLUMNS)).astype(STORE_DTYPES)


def _rendered(**view) -> str:
    console = Console(record=True, width=200)
    console.print(sweep_view(**view))
    return console.export_text()


def test_view_shows_progress_running_trials_and_scores() -> None:
    params = TrialParams.make(1e-3, 4, 0, 8)
    finished = TrialResult(
        sweep="s", trial_id=params.trial_id, method="sft", params=params, status=TrialStatus.OK,
        scores=(TaskScore("demo_addition", "reasoning", "exact_match", 0.5),), started_at=time.time() - 60,
        finished_at=time.time(),
    )  # fmt: skip
    start = time.mktime((2026, 11, 25, 18, 42, 10, 0, 0, -1))
    text = _rendered(name="s", total=3, table=_table(finished), running={"lr3e-03_bs4_s0": start})
    assert "s: 1/3 trials" in text and "ok 1" in text and "ETA" in text
    assert "running: lr3e-03_bs4_s0 (since 18:42:10)" in text
    assert "lr1e-03_bs4_s0" in text and "0.5" in text
    assert "running:" not in _rendered(name="s", total=3, table=_table(finished))
