"""The offline demo's assets: synthetic data, tokenizer, cached base model, and the bundled lm-eval tasks."""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from trials.demo import data as demo_data
from trials.demo.tasks import DEMO_DATA_DIR, DEMO_TASK_CATEGORIES, DEMO_TASKS_DIR

TINY_MODEL = {
    "vocab_size": 384,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    "tie_word_embeddings": True,
}
TINY_PRETRAIN = {"max_steps": 30, "batch_size": 4, "seq_len": 64, "learning_rate": 3e-3, "warmup_steps": 5}


@pytest.fixture(scope="module")
def base_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trials.demo.pretrain import ensure_demo_base_model

    return ensure_demo_base_model(tmp_path_factory.mktemp("cache"), TINY_MODEL, TINY_PRETRAIN, 2000, seed=0)


def _task_yaml(task: str) -> dict:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    return yaml.load((DEMO_TASKS_DIR / f"{task}.yaml").read_text(), Loader=Loader)


def _bundled_docs(task: str) -> list[dict]:
    from trials.demo.tasks.utils import load_demo_data

    return list(load_demo_data(task)["test"])


def test_generators_are_deterministic_per_seed() -> None:
    for make in (demo_data.pretraining_corpus, demo_data.sft_examples, demo_data.preference_examples):
        assert make(60, 0) == make(60, 0)
        assert make(60, 0) != make(60, 1)
    for task in demo_data.TASKS:
        assert demo_data.eval_items(task, 20, 0) == demo_data.eval_items(task, 20, 0)
        assert demo_data.eval_items(task, 20, 0) != demo_data.eval_items(task, 20, 1)


def test_examples_are_in_trl_conversational_formats() -> None:
    sft = demo_data.sft_examples(60, 0)
    assert {example["skill"] for example in sft} == set(demo_data.SKILLS)
    for example in sft:
        assert [m["role"] for m in example["prompt"]] == ["user"]
        assert [m["role"] for m in example["completion"]] == ["assistant"]
    for pair in demo_data.preference_examples(60, 0):
        assert [m["role"] for m in pair["prompt"]] == ["user"]
        assert pair["chosen"][0]["role"] == pair["rejected"][0]["role"] == "assistant"
        assert pair["chosen"][0]["content"] != pair["rejected"][0]["content"]
    assert not any("Q:" in text or "?" in text for text in demo_data.pretraining_corpus(600, 0))


def test_eval_items_never_appear_in_training() -> None:
    prompts = {
        example["prompt"][0]["content"]
        for make in (demo_data.sft_examples, demo_data.preference_examples)
        for example in make(4000, 0)
    }
    corpus = "\n".join(demo_data.pretraining_corpus(8000, 0))
    fingerprints = {  # the part of an eval doc that the pretraining sentence of the same item would contain
        "demo_addition": lambda doc: doc["question"].removeprefix("What is ").removesuffix("?") + " is",
        "demo_word_problems": lambda doc: doc["question"].split(" How many")[0],
        "demo_number_mc": lambda doc: (
            doc["question"].removeprefix("Which number is ").removesuffix("?") + " is"
            if " plus " in doc["question"]
            else "Of " + doc["question"].split(": ")[1].replace(" or ", " and ").removesuffix("?") + ","
        ),
        "demo_sequence": lambda doc: doc["question"].removeprefix("Continue the sequence: ") + " " + doc["answer"],
        "demo_format": lambda doc: doc["question"].replace("Write the word", "The word").removesuffix(".") + " is",
        "demo_continuation_mc": lambda doc: doc["question"].split(" and ")[0].split(".")[0].split(",")[0],
    }
    for task in demo_data.TASKS:
        docs = _bundled_docs(task)
        assert len({doc["question"] for doc in docs}) == len(docs) == demo_data.EVAL_ITEMS_PER_TASK
        assert not prompts & {doc["question"] for doc in docs}, task
        assert not [doc for doc in docs if fingerprints[task](doc) in corpus], task


def test_bundled_eval_data_matches_the_generator(tmp_path: Path) -> None:
    for path in demo_data.write_eval_data(tmp_path):
        fix = "regenerate with: python -m trials.demo.data --write-eval-data"
        assert path.read_bytes() == (DEMO_DATA_DIR / path.name).read_bytes(), fix


def test_task_files_match_the_categories_and_answer_lengths() -> None:
    assert sorted(DEMO_TASK_CATEGORIES) == sorted(demo_data.TASKS)
    for task, category in DEMO_TASK_CATEGORIES.items():
        config = _task_yaml(task)
        assert config["task"] == task
        assert f"demo_{category}" in config["tag"]
        if config["output_type"] == "generate_until":
            # byte-level BPE never needs more tokens than ASCII characters: + leading space + </s>
            longest = max(len(doc["answer"]) for doc in _bundled_docs(task))
            assert config["generation_kwargs"]["max_gen_toks"] >= longest + 2, task


def test_format_checker_scores_each_instruction() -> None:
    from trials.demo.tasks.utils import process_format

    doc = {"word": "jar", "instructions": ["uppercase", "twice", "quotes"]}
    assert process_format(doc, [' "JAR JAR"']) == {
        "prompt_level_strict_acc": True,
        "inst_level_strict_acc": [True, True, True],
    }
    assert process_format(doc, ["JAR JAR"])["inst_level_strict_acc"] == [True, True, False]
    assert process_format(doc, ['"jar"'])["inst_level_strict_acc"] == [False, False, True]
    assert not process_format(doc, ['"CAT CAT"'])["prompt_level_strict_acc"]
    for doc in _bundled_docs("demo_format"):
        assert process_format(doc, [" " + doc["answer"]])["prompt_level_strict_acc"], doc


def test_tokenizer_splits_digits_and_renders_the_chat_template() -> None:
    from trials.demo.tokenizer import train_demo_tokenizer

    tokenizer = train_demo_tokenizer(demo_data.pretraining_corpus(2000, 0), vocab_size=384)
    assert len(tokenizer) == 384
    assert [t for t in tokenizer.tokenize("1234 plus 56") if t.strip("Ġ").isdigit()] == list("123456")
    text = "Write the word jar in uppercase. JAR! 47 plus 23 is 70."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text

    prompt = [{"role": "user", "content": "What is 2 plus 3?"}]
    conversation = [*prompt, {"role": "assistant", "content": "5"}]
    assert tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True) == (
        "Q: What is 2 plus 3?\nA:"
    )
    assert tokenizer.apply_chat_template(conversation, tokenize=False) == "Q: What is 2 plus 3?\nA: 5</s>\n"
    prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_dict=True)["input_ids"]
    full = tokenizer.apply_chat_template(conversation, return_dict=True, return_assistant_tokens_mask=True)
    assert full["input_ids"][: len(prompt_ids)] == prompt_ids
    assistant = [i for i, m in zip(full["input_ids"], full["assistant_masks"]) if m]
    assert tokenizer.decode(assistant) == " 5</s>"


def test_base_model_is_built_once_and_loads_with_auto_classes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trials.demo.pretrain import ensure_demo_base_model

    with caplog.at_level(logging.INFO, logger="ratio_sweeper.pretrain"):
        path = ensure_demo_base_model(tmp_path, TINY_MODEL, TINY_PRETRAIN, 2000, seed=0)
    assert len([r for r in caplog.records if "pretrain step" in r.message]) == 10
    started = time.perf_counter()
    assert ensure_demo_base_model(tmp_path, TINY_MODEL, TINY_PRETRAIN, 2000, seed=0) == path
    assert time.perf_counter() - started < 0.05
    assert ensure_demo_base_model(tmp_path, TINY_MODEL, TINY_PRETRAIN, 2000, seed=1) != path
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == sorted(
        [path.name, ensure_demo_base_model(tmp_path, TINY_MODEL, TINY_PRETRAIN, 2000, seed=1).name]
    )  # no staging folders left behind

    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.hidden_size == 32 and model.config.vocab_size == len(tokenizer)
    assert model.config.eos_token_id == tokenizer.eos_token_id
    assert tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    ) == ("Q: hi\nA:")


def test_every_demo_task_runs_through_lm_eval(base_model_dir: Path) -> None:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    results = lm_eval.simple_evaluate(
        model=HFLM(pretrained=model, tokenizer=tokenizer, batch_size=16),
        tasks=["demo"],  # the tag of all six
        task_manager=TaskManager(include_path=str(DEMO_TASKS_DIR), include_defaults=False),
        limit=6,
        bootstrap_iters=0,
        apply_chat_template=False,
    )["results"]
    metrics = {
        "demo_addition": "exact_match,strict-match",
        "demo_word_problems": "exact_match,strict-match",
        "demo_number_mc": "acc,none",
        "demo_sequence": "exact_match,strict-match",
        "demo_format": "prompt_level_strict_acc,none",
        "demo_continuation_mc": "acc,none",
    }
    for task, metric in metrics.items():
        assert 0.0 <= results[task][metric] <= 1.0, (task, results[task])
    assert 0.0 <= results["demo_format"]["inst_level_strict_acc,none"] <= 1.0
    assert re.fullmatch(r"acc_norm,none", next(k for k in results["demo_number_mc"] if k.startswith("acc_norm")))


def test_an_oracle_scores_one_on_every_demo_task() -> None:
    """The scoring path (targets, filters, regexes, the format checker) gives full marks to right answers."""
    import lm_eval
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    answers, correct_choices = {}, set()
    for task in DEMO_TASK_CATEGORIES:
        for doc in _bundled_docs(task):
            prompt = f"Q: {doc['question']}\nA:"
            answers[prompt] = " " + doc["answer"]  # as HFLM returns it: stop sequence cut off
            if "choices" in doc:
                correct_choices.add((prompt, " " + doc["choices"][doc["label"]]))

    class Oracle(LM):
        def generate_until(self, requests):
            return [answers[request.args[0]] for request in requests]

        def loglikelihood(self, requests):
            return [(0.0 if request.args in correct_choices else -9.0, True) for request in requests]

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

    results = lm_eval.simple_evaluate(
        model=Oracle(),
        tasks=["demo"],
        task_manager=TaskManager(include_path=str(DEMO_TASKS_DIR), include_defaults=False),
        limit=50,
        bootstrap_iters=0,
    )["results"]
    for task in DEMO_TASK_CATEGORIES:
        scores = {k: v for k, v in results[task].items() if "," in k and "stderr" not in k}
        assert scores and all(score == 1.0 for score in scores.values()), (task, scores)


def _demo_base_model_config() -> tuple[dict, dict, int, int]:
    from contract.spec import load_spec

    tiny = load_spec("demo").model.tiny
    pretrain = tiny.pretrain.model_dump(exclude={"corpus_size", "seed"})
    return tiny.config, pretrain, tiny.pretrain.corpus_size, tiny.pretrain.seed


def test_the_shipped_base_model_is_the_one_the_demo_spec_makes_and_is_used_as_is(tmp_path: Path) -> None:
    from trials.demo.pretrain import (
        SHIPPED_BASE_MODEL,
        demo_base_model_key,
        ensure_demo_base_model,
        file_checksums,
        shipped_manifest,
    )

    manifest = shipped_manifest()
    assert manifest["key"] == demo_base_model_key(*_demo_base_model_config()), (
        "the demo's model or pretraining changed: rebuild the shipped model with `python -m trials.demo.pretrain`"
    )
    assert file_checksums(SHIPPED_BASE_MODEL) == manifest["sha256"]
    assert (SHIPPED_BASE_MODEL / "model.safetensors").stat().st_size < 2_000_000
    assert ensure_demo_base_model(tmp_path, *_demo_base_model_config()) == SHIPPED_BASE_MODEL
    assert list(tmp_path.iterdir()) == [], "nothing is pretrained for the demo's own config"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_rebuilding_the_shipped_base_model_gives_the_same_weights(tmp_path: Path) -> None:
    from trials.demo.pretrain import _build, file_checksums, shipped_manifest

    _build(tmp_path, *_demo_base_model_config())
    assert file_checksums(tmp_path) == shipped_manifest()["sha256"]
