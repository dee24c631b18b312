"""The results table: tidy rows, round-trip through Ray's flat metrics, atomic idempotent writes."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from analysis.schema import COLUMNS, validate_results
from contract.spec import BASELINE_PARAMS, TrialParams, load_spec, spec_from_dict
from contract.store import (
    ResultsStore,
    TaskScore,
    TrialResult,
    TrialStatus,
    best_trial,
    pivot_by_trial,
    trial_identity,
    unscored,
)

PARAMS = TrialParams.make(1e-3, 4, 0, max_per_device_batch=2)


def _result(trial_id: str = "lr1e-03_bs4_s0", status: TrialStatus = TrialStatus.OK, score: float = 0.5):
    return TrialResult(
        sweep="s", trial_id=trial_id, method="sft", params=PARAMS, status=status,
        scores=(TaskScore("add", "reasoning", "exact_match", score, 0.05),
                TaskScore("seq", "pattern", "acc", score / 2, math.nan)),
        train_loss=1.25, train_steps=10, train_seconds=3.0, eval_seconds=1.0, train_tokens_per_second=100.0,
        loss_history=(2.0, 1.25),
    )  # fmt: skip


def test_rows_are_tidy_one_per_task_with_the_schema() -> None:
    rows = _result().rows()
    assert len(rows) == 2
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["lr_bs_ratio"] == pytest.approx(1e-3 / 4)
    assert {(r["task"], r["category"]) for r in rows} == {("add", "reasoning"), ("seq", "pattern")}


def test_metrics_round_trip_flat_and_nested() -> None:
    result = _result()
    flat = result.to_metrics()
    assert flat["tasks/add/score"] == 0.5 and flat["status"] == "ok"
    assert TrialResult.from_metrics(flat).rows() == result.rows()
    assert flat["sweep_trial_id"] == "lr1e-03_bs4_s0" and "trial_id" not in flat, "Ray owns `trial_id`"
    nested = {k: v for k, v in flat.items() if not k.startswith("tasks/")}
    nested["tasks"] = {s.task: {"score": s.score, "stderr": s.stderr, "metric": s.metric, "category": s.category}
                       for s in result.scores}  # fmt: skip
    assert TrialResult.from_metrics(nested).rows() == result.rows()


def test_the_metrics_keep_the_keys_and_order_sweeps_have_always_reported() -> None:
    """Ray keeps each result as reported (result.json, progress.csv): a resumed sweep's new trials report alike."""
    metrics = _result().to_metrics()
    assert list(metrics) == [
        "sweep", "method", "learning_rate", "batch_size", "per_device_batch_size", "gradient_accumulation_steps",
        "seed", "status", "world_size", "train_loss", "train_steps", "train_tokens", "train_seconds", "eval_seconds",
        "train_tokens_per_second", "started_at", "finished_at", "error", "lr_bs_ratio", "sweep_trial_id", "model",
        "model_parameters", "adapter", "lora_rank", "trainable_parameters", "loss_history", "tasks/add/score",
        "tasks/add/stderr", "tasks/add/metric", "tasks/add/category",
        "tasks/add/higher_is_better", "tasks/seq/score", "tasks/seq/stderr", "tasks/seq/metric", "tasks/seq/category",
        "tasks/seq/higher_is_better", "score/reasoning", "score/pattern", "score/mean",
    ]  # fmt: skip
    assert (metrics["learning_rate"], metrics["batch_size"], metrics["seed"]) == (1e-3, 4, 0)
    assert (metrics["per_device_batch_size"], metrics["gradient_accumulation_steps"], metrics["world_size"]) == (
        2,
        2,
        1,
    )
    assert metrics["lr_bs_ratio"] == 1e-3 / 4 == PARAMS.lr_bs_ratio


def _baseline() -> TrialResult:
    return TrialResult(
        sweep="s", trial_id=BASELINE_PARAMS.trial_id, method="sft", params=BASELINE_PARAMS,
        status=TrialStatus.BASELINE, scores=(TaskScore("add", "reasoning", "exact_match", 0.1, 0.01),),
        eval_seconds=2.0, started_at=1.0, finished_at=3.0,
    )  # fmt: skip


def test_the_baseline_rows_hold_no_learning_rate_and_no_batch() -> None:
    (row,) = _baseline().rows()
    assert row["trial_id"] == "baseline" and row["status"] == "baseline"
    assert math.isnan(row["learning_rate"]) and math.isnan(row["lr_bs_ratio"])
    assert [row[name] for name in ("batch_size", "per_device_batch_size", "gradient_accumulation_steps")] == [0, 0, 0]
    assert (row["seed"], row["world_size"]) == (-1, 1)


@pytest.mark.parametrize(
    "result",
    [
        _result(),
        replace(_result(), params=TrialParams.make(1e-3, 8, 1, max_per_device_batch=2, world_size=2)),
        _result(status=TrialStatus.FAILED, score=math.nan),
        _baseline(),
    ],
    ids=["ok", "two_workers", "failed", "baseline"],
)
def test_a_trial_round_trips_unchanged_through_metrics_and_rows(result: TrialResult, tmp_path: Path) -> None:
    """Read back as Ray gives its metrics back (through JSON) and as the store reads its table: the same metrics, the
    same rows, the same files (JSON text compares NaN with NaN, and the key order too)."""
    via_ray = TrialResult.from_metrics(json.loads(json.dumps(result.to_metrics())))
    assert json.dumps(via_ray.to_metrics()) == json.dumps(result.to_metrics())
    assert json.dumps(via_ray.rows()) == json.dumps(result.rows())
    store = ResultsStore(tmp_path)
    table = store.add([result])
    written = [store.parquet_path.read_bytes(), (tmp_path / "results.csv").read_bytes()]
    via_table = TrialResult.from_rows(table)
    assert json.dumps(via_table.rows()) == json.dumps(result.rows())
    assert json.dumps(via_table.params.flat()) == json.dumps(result.params.flat())
    store.add([via_table])
    assert [store.parquet_path.read_bytes(), (tmp_path / "results.csv").read_bytes()] == written


def test_store_replaces_a_trial_instead_of_duplicating(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.add([_result("a", score=0.1), _result("b", score=0.2)])
    table = store.add([_result("a", score=0.9)])
    assert len(table) == 4
    assert table.loc[table.trial_id == "a", "score"].max() == pytest.approx(0.9)
    on_disk_csv = pd.read_csv(tmp_path / "results.csv")
    assert len(on_disk_csv) == 4 and list(on_disk_csv.columns) == list(COLUMNS)
    assert not list(tmp_path.glob(".*tmp")), "no temp files are left behind"


def test_failed_trial_keeps_rows_with_nan_scores(tmp_path: Path) -> None:
    failed = TrialResult(
        sweep="s", trial_id="x", method="sft", params=TrialParams(1.0, 4, 0, 4, 1), status=TrialStatus.FAILED,
        scores=(TaskScore("add", "reasoning", "exact_match"),), error="boom",
    )  # fmt: skip
    table = ResultsStore(tmp_path).add([failed])
    assert table.status.tolist() == ["failed"] and math.isnan(table.score.iloc[0])
    assert table.error.iloc[0] == "boom"


def test_pivot_has_one_row_per_trial_and_keeps_the_baseline(tmp_path: Path) -> None:
    baseline = TrialResult(
        sweep="s", trial_id="baseline", method="sft", params=BASELINE_PARAMS, status=TrialStatus.BASELINE,
        scores=(TaskScore("add", "reasoning", "exact_match", 0.0), TaskScore("seq", "pattern", "acc", 0.1)),
    )  # fmt: skip
    table = ResultsStore(tmp_path).add([_result("a"), baseline])
    wide = pivot_by_trial(table)
    assert len(wide) == 2
    assert list(wide.columns[-2:]) == ["add", "seq"]
    assert wide.iloc[0]["status"] == "baseline", "the baseline sorts first (no learning rate)"
    assert wide.set_index("trial_id").loc["a", "add"] == pytest.approx(0.5)


def test_rows_round_trip_back_to_the_trial(tmp_path: Path) -> None:
    result = _result()
    table = ResultsStore(tmp_path).add([result])
    back = TrialResult.from_rows(table)
    pd.testing.assert_frame_equal(pd.DataFrame(back.rows()), pd.DataFrame(result.rows()))
    assert back.status is TrialStatus.OK and isinstance(back.params.learning_rate, float)


def test_a_lower_is_better_metric_picks_the_lowest_score_as_best(tmp_path: Path) -> None:
    def trial(trial_id: str, perplexity: float) -> TrialResult:
        return TrialResult(
            sweep="s", trial_id=trial_id, method="sft", params=TrialParams(1e-3, 4, 0, 4, 1), status=TrialStatus.OK,
            scores=(TaskScore("wikitext", "pattern", "word_perplexity", perplexity, higher_is_better=False),),
        )  # fmt: skip

    table = ResultsStore(tmp_path).add([trial("low", 12.0), trial("high", 40.0)])
    assert best_trial(table, "pattern") == "low"
    assert best_trial(table, "mean") == "low"


def test_a_sweep_written_before_a_column_existed_loads_with_its_default(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    added_later = ["world_size", "train_tokens", "higher_is_better", "model", "adapter", "lora_rank"]
    store.add([_result("a")]).drop(columns=added_later).to_parquet(store.parquet_path, index=False)
    table = store.add([_result("b")])
    assert list(table.columns) == list(COLUMNS)
    assert set(table["world_size"]) == {1} and set(table["adapter"]) == {"full"} and set(table["lora_rank"]) == {0}
    assert table["higher_is_better"].isna().all()  # no row stated one, and the store invents none
    assert validate_results(table, "old")["higher_is_better"].all()  # exact_match and acc, by lm-eval's registry


def test_an_old_store_without_the_column_resumes_and_analyses_with_the_registrys_direction(tmp_path) -> None:
    def trial(trial_id: str) -> TrialResult:
        scores = (TaskScore("wikitext", "lm", "word_perplexity", 20.0, higher_is_better=False),)
        return TrialResult("s", trial_id, "sft", TrialParams(1e-3, 4, 0, 2, 2), TrialStatus.OK, scores=scores)

    store = ResultsStore(tmp_path)
    store.add([trial("a")]).drop(columns=["higher_is_better"]).to_parquet(store.parquet_path, index=False)
    table = store.add([trial("b")])
    assert table["higher_is_better"].isna().tolist() == [True, False]
    assert validate_results(table, "old")["higher_is_better"].tolist() == [False, False]


def test_a_trial_that_scored_nothing_keeps_an_unresolved_direction_unknown(tmp_path: Path) -> None:
    """A task whose direction the spec could not resolve before the sweep (defined in Python) records none for a
    diverged trial, so the analysis takes lm-eval's registry's or refuses; True is never written in its place."""
    raw = load_spec("demo").model_dump(mode="json")
    raw["evaluation"]["tasks"][0]["higher_is_better"] = False
    spec = spec_from_dict(raw)
    directions = [score.higher_is_better for score in unscored(spec)]
    assert directions == [False, *[None] * (len(spec.evaluation.tasks) - 1)]
    diverged = TrialResult(**trial_identity(spec, PARAMS), status=TrialStatus.DIVERGED, scores=unscored(spec))
    stored = ResultsStore(tmp_path).add([diverged])["higher_is_better"]
    assert stored.iloc[0] == False  # noqa: E712 (a nullable bool, not the `False` singleton)
    assert stored.iloc[1:].isna().all()
