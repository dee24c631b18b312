"""Local stand-ins for what the real recipes name on the hub: a model folder with a SmolLM2-like ChatML tokenizer,
parquet files with the schemas of the Tulu 3 SFT and preference mixtures, and a folder of lm-eval tasks.

Schemas (from the datasets' cards):
- `allenai/tulu-3-sft-mixture`: `id` (str), `messages` (list of {`role`, `content`}: optional `system`, then
  `user` / `assistant` turns, sometimes several), `source` (str).
- `allenai/llama-3.1-tulu-3-8b-preference-mixture`: `id` (str), `prompt` (str: the first user turn's text),
  `chosen` and `rejected` (list of {`role`, `content`}: the whole conversation, user turn included, so the two
  share their first message and differ in the answer), `source` (str).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from contract.spec import load_spec
from trials.demo import data as demo_data
from trials.demo.tasks import DEMO_DATA_DIR

# SmolLM2's chat template, as its tokenizer carries it: ChatML with a default system turn.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TINY_LLAMA = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
              "num_key_value_heads": 2, "max_position_embeddings": 512, "tie_word_embeddings": True}  # fmt: skip
# The local tasks stand in for the recipes' three categories; metrics and filters of the same kinds.
LOCAL_TASKS = {
    "recipe_addition": ("reasoning", "demo_addition", "exact_match", "strict-match"),
    "recipe_continuation": ("pattern", "demo_continuation_mc", "acc_norm", "none"),
    "recipe_number_mc": ("other", "demo_number_mc", "acc", "none"),
    # A continuous score (lower is better) that moves with every weight update: it tells two models apart.
    "recipe_answer_perplexity": ("other", "demo_addition", "perplexity", "none"),
}


def save_tiny_chat_model(folder: Path) -> Path:
    """A tiny random Llama and a ChatML tokenizer (`<|im_start|>` / `<|im_end|>` specials, SmolLM2's template)."""
    import torch

    from trials.demo.tokenizer import train_demo_tokenizer
    from trials.model import build_tiny_llama

    tokenizer = train_demo_tokenizer(demo_data.pretraining_corpus(300, seed=0), vocab_size=400)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    torch.manual_seed(0)
    model = build_tiny_llama(TINY_LLAMA, len(tokenizer))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_tulu_sft_parquet(path: Path, count: int) -> Path:
    """Rows shaped like `allenai/tulu-3-sft-mixture`: single turns, a system turn, and two-turn chats."""
    rows = []
    examples = demo_data.sft_examples(2 * count, seed=1)
    for index in range(count):
        first, second = examples[2 * index], examples[2 * index + 1]
        messages = first["prompt"] + first["completion"]
        if index % 3 == 1:
            messages = [{"role": "system", "content": "Answer with a number."}, *messages]
        elif index % 3 == 2:
            messages = messages + second["prompt"] + second["completion"]
        rows.append({"id": f"sft_{index}", "messages": messages, "source": "standin/demo"})
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["id", "messages", "source"]).to_parquet(path, index=False)
    return path


def write_tulu_preference_parquet(path: Path, count: int) -> Path:
    """Rows shaped like `allenai/llama-3.1-tulu-3-8b-preference-mixture` (string prompt, whole conversations)."""
    rows = []
    for index, pair in enumerate(demo_data.preference_examples(count, seed=2)):
        user = pair["prompt"]
        rows.append({
            "id": f"pref_{index}",
            "prompt": user[0]["content"],
            "chosen": user + pair["chosen"],
            "rejected": user + pair["rejected"],
            "source": "standin/demo",
        })  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["id", "prompt", "chosen", "rejected", "source"]).to_parquet(path, index=False)
    return path


def write_local_tasks(folder: Path, docs: int = 8) -> Path:
    """lm-eval task YAMLs over the first `docs` items of three demo eval files, with absolute data paths."""
    folder.mkdir(parents=True, exist_ok=True)
    for task, (_, source, metric, filter_name) in LOCAL_TASKS.items():
        lines = (DEMO_DATA_DIR / f"{source}.jsonl").read_text().splitlines()[:docs]
        data = folder / f"{task}.jsonl"
        data.write_text("\n".join(lines) + "\n")
        config: dict[str, Any] = {
            "task": task,
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(data)}},
            "test_split": "test",
            "doc_to_text": "Q: {{question}}\nA:",
            "metric_list": [{"metric": metric, "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0},
        }
        if metric == "perplexity":
            config.update(output_type="loglikelihood", doc_to_target=" {{answer}}")
            config["metric_list"][0].update(aggregation="perplexity", higher_is_better=False)
        elif filter_name == "none":
            config.update(output_type="multiple_choice", doc_to_choice="{{choices}}", doc_to_target="label")
        else:
            config.update(
                output_type="generate_until",
                doc_to_target="{{answer}}",
                generation_kwargs={"until": ["\n", "<|im_end|>"], "do_sample": False, "max_gen_toks": 6},
                filter_list=[{"name": filter_name, "filter": [
                    {"function": "regex", "regex_pattern": "(-?[0-9]+)"}, {"function": "take_first"}]}],
            )  # fmt: skip
        (folder / f"{task}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def local_task_overrides(tasks_dir: Path) -> dict[str, Any]:
    return {
        "evaluation.include_path": [str(tasks_dir)],
        "evaluation.tasks": [
            {"task": task, "category": category, "metric": metric, "filter": filter_name}
            for task, (category, _, metric, filter_name) in LOCAL_TASKS.items()
        ],
    }


def recipe_spec(recipe: Path, output_dir: Path, tasks_dir: Path, data: Path, **overrides: Any):
    """A real recipe with only the hub references, the tasks, the budget and the resources replaced."""
    values = {
        "output_dir": str(output_dir),
        "data.source": str(data),
        "resources": {"cpus": 1, "gpus": 0},
        **local_task_overrides(tasks_dir),
        **overrides,
    }
    return load_spec(recipe, values)
