"""What the trial tests share: a tiny Llama's config, the demo tokenizer and the demo's SFT data and preference pairs
prepared by it."""

from __future__ import annotations

import pytest
from datasets import load_from_disk

from contract.spec import DataSpec
from trials.data import prepare_data
from trials.demo.data import pretraining_corpus
from trials.demo.tokenizer import train_demo_tokenizer

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 2, "max_position_embeddings": 128, "tie_word_embeddings": True}  # fmt: skip
DEVICE_READS = ("item", "tolist", "numpy", "__float__", "__int__", "__bool__", "__index__")
"""Tensor -> Python conversions: on a GPU each one makes the host wait for the device."""


@pytest.fixture(scope="module")
def tokenizer():
    return train_demo_tokenizer(pretraining_corpus(300, seed=0), vocab_size=300)


@pytest.fixture(scope="module")
def dataset(tokenizer, tmp_path_factory):
    prepared = prepare_data(
        DataSpec(source="demo", num_examples=64), "sft", tokenizer, 64, tmp_path_factory.mktemp("c")
    )
    return load_from_disk(str(prepared.path))


@pytest.fixture(scope="module")
def pairs(tokenizer, tmp_path_factory):
    data = DataSpec(source="demo", num_examples=32)
    prepared = prepare_data(data, "dpo", tokenizer, 64, tmp_path_factory.mktemp("p"))
    return load_from_disk(str(prepared.path))
