"""The demo's base model: a tiny Llama pretrained briefly on the synthetic corpus, built once per config.

The result is cached under `cache_dir/<hash>/` (a normal `save_pretrained` folder with the tokenizer), keyed by
everything that shapes it, and built once (`trials.cache.build_once`). The demo spec's own base model is shipped
with the package (`SHIPPED_BASE_MODEL`), so a first demo does not pretrain at all.

Pretraining is a plain PyTorch loop (nanoGPT-style random windows over the token stream, AdamW, warmup then
cosine decay): at 0.1M parameters a Trainer's per-step overhead would cost more than the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trials.cache import build_once
from trials.demo.data import DEMO_DATA_VERSION, pretraining_corpus
from trials.demo.tokenizer import train_demo_tokenizer
from trials.model import build_tiny_llama

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

log = logging.getLogger("ratio_sweeper.pretrain")
PRETRAIN_CODE_VERSION = 1  # bump when the loop below changes what it produces
TOKENIZER_CORPUS_SIZE = 20000  # BPE needs far fewer sentences than pretraining; keeps it ~2 s
PRETRAIN_THREADS = 2
"""Fixed, so a rebuild on any machine runs the same float reductions as the build that made the shipped model."""
SHIPPED_BASE_MODEL = Path(__file__).resolve().parent / "base_model"
"""The demo's own base model, built by this module (`python -m trials.demo.pretrain`) and shipped with the package, so a
newcomer's first demo skips the ~3.5 min of pretraining. `manifest.json` holds its cache key and file checksums."""
MANIFEST = "manifest.json"


def demo_base_model_key(
    model_config: dict[str, Any], pretrain_config: dict[str, Any], corpus_size: int, seed: int
) -> str:
    """The cache folder name: a hash of everything that shapes the base model."""
    payload = json.dumps(
        [DEMO_DATA_VERSION, PRETRAIN_CODE_VERSION, model_config, pretrain_config, corpus_size, seed],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def ensure_demo_base_model(
    cache_dir: Path, model_config: dict[str, Any], pretrain_config: dict[str, Any], corpus_size: int, seed: int
) -> Path:
    """The folder of the pretrained demo model + tokenizer: the shipped one for the demo spec's own config, else
    built on first use (once, even across processes) and cached under its key.

    `model_config`: `LlamaConfig` fields (`vocab_size` is the tokenizer's target size); `pretrain_config`:
    `max_steps`, `batch_size`, `seq_len`, `learning_rate`, `warmup_steps`.
    """
    key = demo_base_model_key(model_config, pretrain_config, corpus_size, seed)
    if shipped_manifest()["key"] == key:
        return SHIPPED_BASE_MODEL

    def build(folder: Path) -> None:
        info = _build(folder, model_config, pretrain_config, corpus_size, seed)
        log.info("demo base model ready in %.0f s (loss %.3f)", info["seconds"], info["final_loss"])

    return build_once(Path(cache_dir) / key, build)


def _build(
    folder: Path, model_config: dict[str, Any], pretrain_config: dict[str, Any], corpus_size: int, seed: int
) -> dict[str, Any]:
    import torch

    started = time.perf_counter()
    corpus = pretraining_corpus(corpus_size, seed)
    tokenizer = train_demo_tokenizer(corpus[:TOKENIZER_CORPUS_SIZE], vocab_size=model_config["vocab_size"])
    threads = torch.get_num_threads()
    torch.set_num_threads(PRETRAIN_THREADS)
    try:
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(seed)
            model = build_tiny_llama(model_config, vocab_size=len(tokenizer))
            for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
                setattr(model.config, name, getattr(tokenizer, name))
                setattr(model.generation_config, name, getattr(tokenizer, name))
            final_loss = pretrain(model, tokenizer, corpus, pretrain_config, seed)
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    info = {
        "demo_data_version": DEMO_DATA_VERSION,
        "model_config": model_config,
        "pretrain_config": pretrain_config,
        "corpus_size": corpus_size,
        "seed": seed,
        "num_parameters": model.num_parameters(),
        "final_loss": final_loss,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (folder / "pretrain_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def pretrain(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    corpus: list[str],
    config: dict[str, Any],
    seed: int,
) -> float:
    """Causal-LM training on random windows of the corpus (texts joined by `</s>`); returns the last loss."""
    import torch

    stream = torch.tensor([token for ids in tokenizer(corpus)["input_ids"] for token in (*ids, tokenizer.eos_token_id)])
    steps, batch_size, seq_len = config["max_steps"], config["batch_size"], config["seq_len"]
    warmup, peak_lr = config.get("warmup_steps", 0), config["learning_rate"]
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, betas=(0.9, 0.95), weight_decay=0.0)

    def lr_factor(step: int) -> float:  # linear warmup, then cosine down to 10 % of the peak
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    offsets = torch.arange(seq_len)
    model.train()
    started, recent = time.perf_counter(), []
    for step in range(steps):
        starts = torch.randint(0, len(stream) - seq_len, (batch_size, 1), generator=generator)
        loss = model(input_ids=stream[starts + offsets], labels=stream[starts + offsets]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        recent = [*recent[-19:], loss.item()]
        if (step + 1) % max(1, steps // 10) == 0 or step + 1 == steps:
            log.info(
                "pretrain step %d/%d  loss %.3f  lr %.2e  %.0f s",
                step + 1,
                steps,
                sum(recent) / len(recent),
                scheduler.get_last_lr()[0],
                time.perf_counter() - started,
            )
    model.eval()
    return sum(recent) / len(recent)


def shipped_manifest() -> dict[str, Any]:
    """The shipped base model's cache key and the sha256 of each of its files."""
    return json.loads((SHIPPED_BASE_MODEL / MANIFEST).read_text())


def file_checksums(folder: Path) -> dict[str, str]:
    """sha256 of the files that make the model what it is (weights, config, tokenizer), by name."""
    names = ("model.safetensors", "config.json", "tokenizer.json")
    return {name: hashlib.sha256((Path(folder) / name).read_bytes()).hexdigest() for name in names}


def ship_demo_base_model() -> Path:
    """Build the demo spec's base model into `SHIPPED_BASE_MODEL` (run when the demo's model or pretraining changes)."""
    from contract.spec import load_spec

    tiny = load_spec("demo").model.tiny
    pretrain = tiny.pretrain.model_dump(exclude={"corpus_size", "seed"})
    shutil.rmtree(SHIPPED_BASE_MODEL, ignore_errors=True)
    SHIPPED_BASE_MODEL.mkdir(parents=True)
    _build(SHIPPED_BASE_MODEL, tiny.config, pretrain, tiny.pretrain.corpus_size, tiny.pretrain.seed)
    manifest = {
        "key": demo_base_model_key(tiny.config, pretrain, tiny.pretrain.corpus_size, tiny.pretrain.seed),
        "sha256": file_checksums(SHIPPED_BASE_MODEL),
        "built_by": "python -m trials.demo.pretrain",
    }
    (SHIPPED_BASE_MODEL / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return SHIPPED_BASE_MODEL


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(ship_demo_base_model())
