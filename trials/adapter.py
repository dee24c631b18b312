"""LoRA (peft, `training.lora`): the adapter's config, what it trains, and the trained adapter saved and merged.

TRL's trainers wrap the model with the `LoraConfig` of `lora_config` (SFT and DPO alike), so DPO's reference is the
base model itself run with the adapter disabled: no second copy of the model, and `precompute_ref_log_probs` scores
it the same way. After training the adapter is saved first (peft's small artifact), then merged into the base
weights: scoring sees a plain model (in memory, or served by vLLM, which takes no peft model), with no adapter matmul
beside every linear layer. A later sweep (`model.from_sweep`) starts from the merged model (`whole_model`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from contract.errors import SweeperError

if TYPE_CHECKING:
    from peft import LoraConfig
    from torch.nn import Module
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from contract.spec import LoraSpec, ModelSpec

ADAPTER_CONFIG = "adapter_config.json"
"""peft's file in every saved adapter folder: a saved trial whose folder holds it trained an adapter."""
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MERGED_DIR = "merged"
"""Inside a LoRA trial's saved-model folder: the model with the adapter merged in (`training.lora.save_merged`)."""


def lora_config(lora: LoraSpec) -> LoraConfig:
    """peft's config of the spec's adapter, for a causal LM."""
    from peft import LoraConfig

    return LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        use_rslora=lora.rslora,
        task_type="CAUSAL_LM",
    )


def check_targets(model: Module, lora: LoraSpec, model_name: str) -> None:
    """Every name of `target_modules` must name a module of the model (peft's rule: the module's name or its last
    dotted parts), checked once per sweep: peft itself only complains when no name matches at all, so a typo next to
    a right name would silently train fewer layers."""
    if lora.target_modules == "all-linear":
        return
    names = [name for name, _ in model.named_modules()]
    missing = [
        target for target in lora.target_modules if not any(n == target or n.endswith(f".{target}") for n in names)
    ]
    if missing:
        from torch.nn import Linear

        linear = sorted(
            {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, Linear)}
        )
        raise SweeperError(
            f"training.lora.target_modules: {missing} match no module of {model_name}; its linear layers are named "
            f"{linear}: list some of those, or use all-linear"
        )


def trainable_parameters(model: Module) -> int:
    """The parameters the optimizer updates: every one in full fine-tuning, the adapter's with LoRA."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)


def save_trained(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path | None, lora: LoraSpec | None
) -> tuple[PreTrainedModel, Path | None]:
    """Save a trained model (its adapter, with LoRA) and its tokenizer into `folder` (None: `training.save_model` is
    off); give back the model scoring sees (the adapter merged in) and the folder that holds a whole copy of it (the
    trial's folder in full fine-tuning, `merged/` with `lora.save_merged`, else None)."""
    if folder is not None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    if lora is None:
        return model, folder
    merged = model.merge_and_unload()
    if folder is None or not lora.save_merged:
        return merged, None
    merged.save_pretrained(folder / MERGED_DIR)
    tokenizer.save_pretrained(folder / MERGED_DIR)
    return merged, folder / MERGED_DIR


def whole_model(folder: Path, model: ModelSpec, cache_root: Path) -> Path:
    """A saved trial's folder as a folder of a whole model, for `model.from_sweep`: the folder itself (full
    fine-tuning), its `merged/` copy, or else its adapter merged into the base model it was trained on, built once
    into the cache (keyed by the adapter's bytes and the dtype)."""
    from trials.cache import build_once

    folder = Path(folder)
    if not (folder / ADAPTER_CONFIG).is_file():
        return folder
    if (folder / MERGED_DIR).is_dir():
        return folder / MERGED_DIR
    digest = hashlib.sha256(model.torch_dtype.encode())
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        digest.update((folder / name).read_bytes())
    return build_once(cache_root / "merged" / digest.hexdigest()[:16], lambda staging: _merge(folder, model, staging))


def _merge(folder: Path, model: ModelSpec, target: Path) -> None:
    from peft import PeftModel
    from transformers import AutoTokenizer

    from trials.model import load_model

    base = json.loads((folder / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    try:
        base_model = load_model(base, model)
    except OSError as error:
        raise SweeperError(
            f"model.from_sweep: the adapter in {folder} was trained on {base}, which does not load here ({error}); "
            "run that sweep with training.lora.save_merged: true, so its trials keep a merged copy"
        ) from None
    PeftModel.from_pretrained(base_model, folder).merge_and_unload().save_pretrained(target)
    AutoTokenizer.from_pretrained(folder).save_pretrained(target)
