"""Shared fixtures: a micro version of the demo spec that runs the whole real stack in seconds."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
DEMO_SPEC = REPO / "search_spaces" / "demo.yaml"

# One BLAS thread, here and in the sweeps tests start: the analysis' GPs solve many small systems, where a second
# thread only spins, and on a machine busy with other tests it waits for a core (a designer test: 162 s with
# OpenBLAS's threads, 27 s with one, at load 5). A plugin has loaded numpy before this file, so this process is
# limited through threadpoolctl; the environment reaches the subprocesses.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
threadpool_limits(1, user_api="blas")
# Offline, quiet, and a cache of our own so tests never touch (or depend on) the user's cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["RATIO_SWEEPER_CACHE"] = str(tmp_path_factory.mktemp("cache"))


def demo_dict() -> dict[str, Any]:
    return yaml.safe_load(DEMO_SPEC.read_text())


def micro_spec_dict(output_dir: Path, **changes: Any) -> dict[str, Any]:
    """The demo spec shrunk to seconds: 20 pretraining steps, 32 training examples, 16 eval docs per task."""
    raw = copy.deepcopy(demo_dict())
    raw["name"] = "micro"
    raw["output_dir"] = str(output_dir)
    raw["model"]["tiny"]["pretrain"].update({"max_steps": 20, "corpus_size": 500, "batch_size": 8})
    raw["data"]["num_examples"] = 64
    raw["grid"] = {"learning_rate": [1.0e-3, 3.0e-3], "batch_size": [4, 8]}
    raw["training"].update({"train_examples": 32, "logging_steps": 2})
    raw["evaluation"].update({"limit": 16, "bootstrap_iters": 0})
    raw["wandb"] = {"mode": "disabled"}
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return raw


@pytest.fixture
def micro_spec_file(tmp_path: Path):
    """Write a micro spec YAML (with optional dotted-key changes) and return its path."""

    def write(**changes: Any) -> Path:
        path = tmp_path / "micro.yaml"
        path.write_text(yaml.safe_dump(micro_spec_dict(tmp_path / "run", **changes)))
        return path

    return write
