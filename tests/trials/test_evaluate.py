"""Scoring in a trial worker: no process is forked (a fork is where Ray's SIGTERM can get lost), and each score
carries its metric's direction."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from contract.spec import spec_from_dict
from tests.conftest import micro_spec_dict
from tests.standins import TINY_LLAMA
from trials.demo.data import pretraining_corpus
from trials.demo.tokenizer import train_demo_tokenizer
from trials.evaluate import evaluate_model
from trials.model import build_tiny_llama

FORK_EVENTS = {"os.fork", "os.forkpty", "os.posix_spawn", "os.system", "subprocess.Popen"}
_forks: list[str] = []
_watching = False


def _count_forks(event: str, args: tuple) -> None:
    if _watching and event in FORK_EVENTS:
        _forks.append(f"{event} {args[:2]}")


sys.addaudithook(_count_forks)  # audit hooks cannot be removed; it counts only while `_watching`


@pytest.fixture(scope="module")
def tiny_model():
    tokenizer = train_demo_tokenizer(pretraining_corpus(300, seed=0), vocab_size=300)
    torch.manual_seed(0)
    return build_tiny_llama(TINY_LLAMA, len(tokenizer)), tokenizer


def test_scoring_forks_no_process(tmp_path: Path, tiny_model) -> None:
    global _watching
    model, tokenizer = tiny_model
    # lm-eval's bootstrap stderr (a process pool) runs only when bootstrap_iters > 0: keep it on here
    spec = spec_from_dict(micro_spec_dict(tmp_path, **{"evaluation.limit": 4, "evaluation.bootstrap_iters": 100}))
    _watching = True
    try:
        scores = evaluate_model(model, tokenizer, spec.evaluation)
    finally:
        _watching = False
    assert len(scores) == len(spec.evaluation.tasks)
    assert _forks == [], f"scoring forked: {_forks}"


def test_each_score_carries_its_metrics_direction(tmp_path: Path, tiny_model) -> None:
    model, tokenizer = tiny_model
    tasks = [
        {"task": "demo_addition", "category": "reasoning", "metric": "exact_match", "filter": "strict-match"},
        {"task": "demo_number_mc", "category": "pattern", "metric": "acc"},
    ]
    spec = spec_from_dict(micro_spec_dict(tmp_path, **{"evaluation.tasks": tasks, "evaluation.limit": 4}))
    assert [score.higher_is_better for score in evaluate_model(model, tokenizer, spec.evaluation)] == [True, True]
    lower = spec.with_metric_directions({"demo_number_mc": False})  # as a perplexity-like metric is resolved
    assert [score.higher_is_better for score in evaluate_model(model, tokenizer, lower.evaluation)] == [True, False]


def test_a_direction_neither_the_spec_nor_lm_eval_states_is_recorded_as_unknown() -> None:
    from contract.spec import TaskSpec
    from trials.evaluate import _score

    task = TaskSpec(task="custom", category="reasoning", metric="my_score", filter="none")
    score = _score(task, {"my_score,none": 0.4, "my_score_stderr,none": 0.02}, {})
    assert (score.score, score.stderr, score.higher_is_better) == (0.4, 0.02, None)
