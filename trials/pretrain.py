"""The demo's base model: a tiny Llama pretrained briefly on the synthetic corpus, built once per config.

The result is cached under `cache_dir/<hash>/` (a normal `save_pretrained` folder with the tokenizer), keyed by
everything that shapes it; a file lock makes concurrent trials wait for one build instead of racing, and the
folder appears atomically (written to a temp dir, then `os.replace`), so a crash never leaves half a model.

Pretraining is a plain PyTorch loop (nanoGPT-style random windows over the token stream, AdamW, warmup then
cosine decay): at 0.1M parameters a Trainer's per-step overhead would cost more than the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from trials.demo_data import DEMO_DATA_VERSION, pretraining_corpus
from trials.model import build_tiny_llama
from trials.tokenizer import train_demo_tokenizer

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

log = logging.getLogger("ratio_sweeper.pretrain")
PRETRAIN_CODE_VERSION = 1  # bump when the loop below changes what it produces
TOKENIZER_CORPUS_SIZE = 20000  # BPE needs far fewer sentences than pretraining; keeps it ~2 s


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
    """The folder of the pretrained demo model + tokenizer, built on first use (once, even across processes).

    `model_config`: `LlamaConfig` fields (`vocab_size` is the tokenizer's target size); `pretrain_config`:
    `max_steps`, `batch_size`, `seq_len`, `learning_rate`, `warmup_steps`.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / demo_base_model_key(model_config, pretrain_config, corpus_size, seed)
    if target.is_dir():  # complete by construction: it only ever appears through os.replace
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.is_dir():  # another process built it while we waited
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
        try:
            info = _build(staging, model_config, pretrain_config, corpus_size, seed)
            os.replace(staging, target)
            log.info("demo base model ready in %.0f s (loss %.3f): %s", info["seconds"], info["final_loss"], target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _build(
    folder: Path, model_config: dict[str, Any], pretrain_config: dict[str, Any], corpus_size: int, seed: int
) -> dict[str, Any]:
    import torch

    started = time.perf_counter()
    corpus = pretraining_corpus(corpus_size, seed)
    tokenizer = train_demo_tokenizer(corpus[:TOKENIZER_CORPUS_SIZE], vocab_size=model_config["vocab_size"])
    threads = torch.get_num_threads()
    torch.set_num_threads(len(os.sched_getaffinity(0)))  # a one-off build: use the whole machine
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
