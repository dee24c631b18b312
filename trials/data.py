"""Training data, loaded and tokenized once per sweep, cached by content hash, read by every trial.

Tokenizing in each trial would repeat the same CPU work (minutes for Tulu 3) N times and let trials disagree
on preprocessing. So the driver calls `prepare_data` once; the result is an Arrow folder (memory-mapped by
every trial, shared through the page cache) under a key that hashes everything that shapes it: the data spec,
the tokenizer's files and chat template, `max_length` and the demo generator's version. A resumed or repeated
sweep finds it and skips the work.

Loss masking follows Tulu 3 / TRL: with prompt-completion data the loss covers the completion only; with
`messages` data it covers the assistant turns only. Both are found the same way: render the conversation with
the chat template, find the character spans of the trainable parts by rendering prefixes, and label exactly
the tokens whose offsets fall inside them. No reliance on `{% generation %}` markers, which most hub
templates (SmolLM2's included) lack.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract.errors import SweeperError
from trials.cache import build_once

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from contract.spec import DataSpec

log = logging.getLogger("ratio_sweeper.data")
IGNORE_INDEX = -100
PAIR_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")
"""A preference pair's token columns, as `prepare_data` writes them for DPO."""
CACHE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class PreparedData:
    """A tokenized training set on disk (columns `input_ids`, `labels`) and its size."""

    path: Path
    num_examples: int
    num_tokens: int


def load_raw_dataset(data: DataSpec, method: str) -> Dataset:
    """The untokenized examples: the demo generator, a local file/folder, or a hub dataset; shuffled, cut."""
    from datasets import Dataset, load_dataset, load_from_disk

    if data.source == "demo":
        from trials.demo import data as demo_data

        count = data.num_examples or 20000
        make = demo_data.preference_examples if method == "dpo" else demo_data.sft_examples
        return Dataset.from_list(make(count, data.seed))
    path = Path(data.source).expanduser()
    if path.is_dir() and (path / "dataset_info.json").exists():
        dataset = load_from_disk(str(path))
    elif path.exists():
        suffix = path.suffix if path.is_file() else _folder_format(path)
        loader = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}[suffix]
        files = str(path) if path.is_file() else str(path / f"**/*{suffix}")
        dataset = load_dataset(loader, data_files={data.split: files}, split=data.split)
    else:
        dataset = load_dataset(data.source, data.config_name, split=data.split)
    dataset = dataset.shuffle(seed=data.seed)
    if data.num_examples is not None:
        dataset = dataset.select(range(min(data.num_examples, len(dataset))))
    return dataset


def _folder_format(folder: Path) -> str:
    for suffix in (".parquet", ".jsonl", ".json", ".csv"):
        if any(folder.rglob(f"*{suffix}")):
            return suffix
    raise SweeperError(f"data.source: {folder} holds no .parquet/.jsonl/.json/.csv files; point it at the data")


def prepare_data(
    data: DataSpec, method: str, tokenizer: PreTrainedTokenizerBase, max_length: int, cache_root: Path
) -> PreparedData:
    """Tokenize the training data once (chat template applied, masks built, truncated) and cache it.

    SFT rows become `input_ids` + `labels`; DPO rows become `prompt_ids` + `chosen_ids` + `rejected_ids`.
    """

    def tokenize_into(folder: Path) -> None:
        raw = load_raw_dataset(data, method)
        _check_columns(raw.column_names, data.source, method)
        tokenize, keep = (_tokenize_pairs, _has_completion) if method == "dpo" else (_tokenize_batch, _has_labels)
        tokenized = raw.map(
            tokenize,
            batched=True,
            remove_columns=raw.column_names,
            fn_kwargs={"tokenizer": tokenizer, "max_length": max_length},
            desc="Tokenizing",
        )
        tokenized = tokenized.filter(keep, batched=True)
        tokenized.save_to_disk(str(folder))
        log.info("tokenized %d examples", len(tokenized))

    target = build_once(cache_root / "data" / _cache_key(data, method, tokenizer, max_length), tokenize_into)
    from datasets import load_from_disk

    dataset = load_from_disk(str(target))
    columns = PAIR_COLUMNS if method == "dpo" else ("input_ids",)
    tokens = sum(sum(row_lengths(dataset, column)) for column in columns)
    return PreparedData(target, len(dataset), tokens)


def row_lengths(dataset: Dataset, column: str) -> list[int]:
    """Each row's token count in `column`, read from the Arrow list lengths without decoding a row (the cached
    prepare runs at every sweep's start)."""
    import pyarrow.compute

    return pyarrow.compute.list_value_length(dataset.with_format("arrow")[column]).to_pylist()


def _has_labels(batch: dict[str, list[Any]]) -> list[bool]:
    """Truncation can leave an example with no trainable token; it would only dilute the batch."""
    return [any(token != IGNORE_INDEX for token in labels) for labels in batch["labels"]]


def _has_completion(batch: dict[str, list[Any]]) -> list[bool]:
    return [bool(chosen) and bool(rejected) for chosen, rejected in zip(batch["chosen_ids"], batch["rejected_ids"])]


def _check_columns(columns: list[str], source: str, method: str) -> None:
    if method == "dpo":
        if {"chosen", "rejected"} <= set(columns):
            return
        needs = "`chosen` + `rejected` (and optionally `prompt`)"
    else:
        if "messages" in columns or {"prompt", "completion"} <= set(columns):
            return
        needs = "`messages` (chat turns) or `prompt` + `completion`"
    raise SweeperError(f"data.source: {source} has columns {columns}; {method.upper()} needs {needs}")


def _tokenize_pairs(batch: dict[str, list[Any]], tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict:
    """Preference pairs as TRL's DPOTrainer tokenizes them: the prompt, then each answer after the shared prefix.

    Rows whose `prompt` is not a list of messages get the longest common message prefix of `chosen` and
    `rejected` as the prompt, like TRL's `maybe_extract_prompt`: no `prompt` column, or a plain-text one next to
    two whole conversations (Tulu 3's preference mixture: `prompt` is the first user turn's text, and `chosen` /
    `rejected` repeat that turn).
    """
    output: dict[str, list[list[int]]] = {"prompt_ids": [], "chosen_ids": [], "rejected_ids": []}
    prompts = batch.get("prompt") or [None] * len(batch["chosen"])
    encode = _chat_encoder(tokenizer)
    for prompt, chosen, rejected in zip(prompts, batch["chosen"], batch["rejected"]):
        if not isinstance(prompt, list):
            shared = _common_prefix(chosen, rejected)
            prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
        prompt_ids = encode(prompt, add_generation_prompt=True)
        with_chosen, with_rejected = encode(prompt + chosen), encode(prompt + rejected)
        shared_len = min(_common_prefix(prompt_ids, with_chosen), _common_prefix(prompt_ids, with_rejected))
        output["prompt_ids"].append(prompt_ids[:shared_len][-max_length // 2 :])
        output["chosen_ids"].append(with_chosen[shared_len:][:max_length])
        output["rejected_ids"].append(with_rejected[shared_len:][:max_length])
    return output


def _chat_encoder(tokenizer: PreTrainedTokenizerBase) -> Any:
    def encode(messages: list[dict[str, str]], add_generation_prompt: bool = False) -> list[int]:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    return encode


def _common_prefix(first: list[int], second: list[int]) -> int:
    return next((i for i, (a, b) in enumerate(zip(first, second)) if a != b), min(len(first), len(second)))


def _tokenize_batch(batch: dict[str, list[Any]], tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict:
    texts, spans = [], []
    conversations = batch.get("messages") or [p + c for p, c in zip(batch["prompt"], batch["completion"])]
    prompt_turns = [len(p) for p in batch["prompt"]] if "messages" not in batch else None
    for index, messages in enumerate(conversations):
        text, trainable = _render_with_spans(tokenizer, messages, prompt_turns[index] if prompt_turns else None)
        texts.append(text)
        spans.append(trainable)
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, truncation=True,
                        max_length=max_length)  # fmt: skip
    labels = []
    for ids, offsets, trainable in zip(encoded["input_ids"], encoded["offset_mapping"], spans):
        labels.append([
            token if any(start <= begin < end for start, end in trainable) else IGNORE_INDEX
            for token, (begin, _) in zip(ids, offsets)
        ])  # fmt: skip
    return {"input_ids": encoded["input_ids"], "labels": labels}


def _render_with_spans(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], prompt_turns: int | None
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans the loss covers.

    Prompt-completion data (`prompt_turns` given): everything after the prompt's generation prompt. Messages:
    each assistant turn, from after its generation prompt to its end. A template that does not render
    prefixes consistently gets the whole text as one span (loss on everything), like TRL does.
    """
    render = tokenizer.apply_chat_template
    full = render(messages, tokenize=False)
    turns = [prompt_turns] if prompt_turns is not None else [
        index for index, message in enumerate(messages) if message["role"] == "assistant"
    ]  # fmt: skip
    spans = []
    for index in turns:
        start = len(render(messages[:index], tokenize=False, add_generation_prompt=True)) if index else 0
        end_text = render(messages[: index + 1], tokenize=False) if prompt_turns is None else full
        if not full.startswith(end_text[:start]) or not full.startswith(end_text):
            return full, [(0, len(full))]
        spans.append((start, len(end_text)))
    return full, spans


def _cache_key(data: DataSpec, method: str, tokenizer: PreTrainedTokenizerBase, max_length: int) -> str:
    fingerprint = {
        "version": CACHE_FORMAT_VERSION,
        "method": method,
        "data": data.model_dump(mode="json"),
        "max_length": max_length,
        "vocab": hashlib.sha256(json.dumps(tokenizer.get_vocab(), sort_keys=True).encode()).hexdigest(),
        "chat_template": tokenizer.chat_template,
        "special": tokenizer.all_special_tokens,
    }
    if data.source == "demo":
        from trials.demo.data import DEMO_DATA_VERSION

        fingerprint["demo_version"] = DEMO_DATA_VERSION
    return f"{method}-" + hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]
