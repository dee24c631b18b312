"""The model every trial starts from: a hub id, a local folder, or a tiny Llama built from a config dict."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

    from contract.spec import ModelSpec, SweepSpec

log = logging.getLogger("ratio_sweeper.model")


def build_tiny_llama(config: dict[str, Any], vocab_size: int) -> LlamaForCausalLM:
    """A randomly initialised `LlamaForCausalLM` from `LlamaConfig` fields; `vocab_size` is the tokenizer's.

    The tokenizer's size wins over `config["vocab_size"]` (the requested size), so embeddings always match it.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(**{**config, "vocab_size": vocab_size}))


def load_model(name_or_path: str, model: ModelSpec) -> PreTrainedModel:
    """Load a causal LM from a hub id or a local folder, with the spec's dtype / attention / remote-code choice."""
    from transformers import AutoModelForCausalLM

    if model.trust_remote_code:
        log.warning("trust_remote_code is on for %s: its own Python code will run", name_or_path)
    options: dict[str, Any] = {"dtype": model.torch_dtype, **_source_options(model)}
    if model.attn_implementation:
        options["attn_implementation"] = model.attn_implementation
    return AutoModelForCausalLM.from_pretrained(name_or_path, **options)


def model_skeleton(name_or_path: str, model: ModelSpec) -> PreTrainedModel:
    """The model's architecture without its weights (on the meta device: no memory and a second, however big the
    model): its parameter count and module names, known once per sweep before any trial loads it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(name_or_path, **_source_options(model))
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config, trust_remote_code=model.trust_remote_code)


def _source_options(model: ModelSpec) -> dict[str, Any]:
    """Where the model's files come from: its hub revision (a tiny model has none) and whether its code may run."""
    options: dict[str, Any] = {"trust_remote_code": model.trust_remote_code}
    if model.revision and model.tiny is None:
        options["revision"] = model.revision
    return options


def load_tokenizer(name_or_path: str, spec: SweepSpec) -> PreTrainedTokenizerBase:
    """The tokenizer, with the data spec's chat template (inline Jinja or a .jinja file) and a pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=spec.model.trust_remote_code)
    template = spec.data.chat_template
    if template is not None:
        path = Path(template).expanduser()
        tokenizer.chat_template = path.read_text() if template.endswith(".jinja") else template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def free_gpu_memory() -> None:
    """Return what the collector can reclaim to the GPU: warm workers run many trials, and vLLM preallocates its
    share at start, so nothing of a finished model may linger (transformers#31923)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
