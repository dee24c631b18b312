"""The real SmolTulu recipes, run offline: SFT on Tulu-3-shaped chats, then DPO from the SFT sweep's best model; the
LoRA SFT recipe too, then DPO with a LoRA adapter from its best trial's merged model.

Each recipe YAML is loaded as shipped; only what cannot run here is replaced (the hub model and datasets by local
stand-ins of the same schemas, lm-eval's hub tasks by local ones, the budget, the grid, the resources and how many
trials run at once). So the recipes' own choices (SmolLM2-style chat template, loss on assistant turns, bf16, fp32
master weights, fused AdamW, `sigmoid_norm` DPO at beta 5, `save_model`, `from_sweep` on `reasoning`) are what runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from contract.store import best_trial
from sweeper.driver import best_model_of_sweep, run_sweep
from tests.conftest import REPO
from tests.standins import (
    SMOLLM2_CHAT_TEMPLATE,
    save_tiny_chat_model,
    write_local_tasks,
    write_tulu_preference_parquet,
    write_tulu_sft_parquet,
)

RECIPES = REPO / "search_spaces"
BUDGET = {"training.num_train_epochs": None, "training.max_steps": 3, "training.seeds": [0]}
# One trial at a time, so each sweep's trials (the baseline's too) run in one warm worker: a worker's imports (torch,
# TRL, lm-eval: ~8 s of CPU) are most of a trial here, and a second worker would pay them again.
ONE_WORKER = {"search.max_concurrent_trials": 1}


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("standins")
    return {
        "model": save_tiny_chat_model(root / "model"),
        "sft_data": write_tulu_sft_parquet(root / "tulu-3-sft-mixture" / "train.parquet", 48),
        "dpo_data": write_tulu_preference_parquet(root / "preference-mixture" / "train.parquet", 32),
        "tasks": write_local_tasks(root / "tasks"),
        "root": root,
    }


def _spec(recipe: str, output_dir: Path, standins: dict[str, Path], data: Path, **overrides):
    from tests.standins import recipe_spec

    return recipe_spec(RECIPES / recipe, output_dir, standins["tasks"], data, **BUDGET, **ONE_WORKER, **overrides)


def _trials(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.status != "baseline"]


@pytest.mark.parametrize(
    ("sft_recipe", "sft_changes", "dpo_changes"),
    [
        ("smoltulu_135m_sft.yaml", {"grid.learning_rate": [3.0e-4, 3.0e-3]}, {}),
        # The stand-in model has 23k parameters: a rank-64 adapter would outgrow it. DPO then trains an adapter of its
        # own, its reference log-probs scored up front with the adapter disabled.
        ("smoltulu_135m_sft_lora.yaml", {"grid.learning_rate": [3.0e-3, 3.0e-2], "training.lora.rank": 4},
         {"training.lora.rank": 4, "training.precompute_ref_log_probs": True}),
    ],
    ids=["full", "lora"],
)  # fmt: skip
def test_sft_recipe_then_dpo_recipe_from_its_best_model(
    standins: dict[str, Path], sft_recipe: str, sft_changes: dict, dpo_changes: dict
) -> None:
    sft_dir = standins["root"] / "runs" / Path(sft_recipe).stem
    sft = _spec(
        sft_recipe, sft_dir, standins, standins["sft_data"],
        **{"model.name_or_path": str(standins["model"]), "grid.batch_size": [8]}, **sft_changes,
    )  # fmt: skip
    assert sft.training.save_model and sft.training.bf16 and sft.data.chat_template is None
    lora = sft.training.lora
    sft_table = run_sweep(sft, analyze=False)

    trained = _trials(sft_table)
    assert trained.trial_id.nunique() == 2
    assert set(trained.status) == {"ok"}, trained[["trial_id", "status", "error"]]
    assert not trained.score.isna().any()
    assert trained[trained.metric != "perplexity"].score.between(0, 1).all()
    assert set(trained.category) == {"reasoning", "pattern", "other"}
    assert (trained.train_steps == BUDGET["training.max_steps"]).all() and (trained.train_tokens_per_second > 0).all()
    assert set(trained.batch_size) == {8} and set(trained.method) == {"sft"}
    assert set(trained.adapter) == {"lora" if lora else "full"} and set(trained.lora_rank) == {lora.rank if lora else 0}
    assert (trained.trainable_parameters < trained.model_parameters).all() == bool(lora)
    for trial_id in trained.trial_id.unique():
        saved = sft_dir / "models" / trial_id
        # a LoRA trial saves its adapter, and the merged model (lora.save_merged) under merged/
        whole = saved / "merged" if lora else saved
        assert (whole / "config.json").is_file() and (whole / "model.safetensors").is_file()
        assert (saved / "adapter_model.safetensors").is_file() == bool(lora)
        # the tokenizer is saved with the model: the DPO stage gets SmolLM2's template from it, not from the spec
        assert (saved / "chat_template.jinja").read_text() == SMOLLM2_CHAT_TEMPLATE

    dpo_dir = standins["root"] / "runs" / f"dpo_from_{sft.name}"
    dpo = _spec(
        "smoltulu_135m_dpo.yaml", dpo_dir, standins, standins["dpo_data"],
        **{"model.from_sweep.path": str(sft_dir), "grid.learning_rate": [1.0e-6], "grid.batch_size": [8]},
        **dpo_changes,
    )  # fmt: skip
    assert dpo.method == "dpo" and dpo.training.loss_type == ["sigmoid_norm"] and dpo.training.beta == 5.0
    assert dpo.model.from_sweep.best_on == "reasoning"
    dpo_table = run_sweep(dpo, analyze=False)

    preferred = _trials(dpo_table)
    assert set(preferred.status) == {"ok"}, preferred[["trial_id", "status", "error"]]
    assert not preferred.score.isna().any() and set(preferred.method) == {"dpo"}
    assert (preferred.train_steps == BUDGET["training.max_steps"]).all()
    assert preferred.train_loss.map(math.isfinite).all()
    assert set(preferred.adapter) == {"lora" if dpo.training.lora else "full"}
    assert set(dpo_table.model_parameters) == set(trained.model_parameters), "a merged model, no adapter left in it"

    # DPO started from the SFT sweep's best model on `reasoning`: the model it resolved is that trial's folder, and
    # its untrained baseline scores exactly what that SFT trial scored (same weights, same tasks, same eval batch).
    best = best_trial(sft_table, "reasoning")
    assert best_model_of_sweep(str(sft_dir), "reasoning") == sft_dir / "models" / best
    start = dpo_table[dpo_table.status == "baseline"].set_index("task").score
    best_scores = sft_table[sft_table.trial_id == best].set_index("task").score
    pd.testing.assert_series_equal(start.sort_index(), best_scores.sort_index(), check_exact=False, rtol=1e-9)
    perplexity = sft_table[sft_table.task == "recipe_answer_perplexity"].set_index("trial_id").score
    assert perplexity.nunique() == 3, f"baseline and both trials must be different models: {perplexity.to_dict()}"
