"""Dataset loading and the format checker of the demo tasks (loaded by lm-eval through `!function`).

lm-eval resolves a YAML's `data_files` against the current directory, so the tasks load their bundled jsonl
through `custom_dataset` instead: lm-eval calls it with the task's `metadata` and `dataset_kwargs` as keyword
arguments, and the path is resolved next to this file, whatever the working directory.

Self-contained on purpose (lm-eval imports this file by path, outside any package): the checker verifies each
instruction on its own, like IFEval's, rather than comparing to the generator's reference string.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets

DATA_DIR = Path(__file__).resolve().parent / "data"


def load_demo_data(task: str, **_metadata) -> dict[str, datasets.Dataset]:
    """The bundled eval docs of `task` as lm-eval's split → Dataset mapping."""
    lines = (DATA_DIR / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return {"test": datasets.Dataset.from_list([json.loads(line) for line in lines])}


def follows_instruction(instruction: str, word: str, response: str) -> bool:
    """Whether `response` is `word` written as `instruction` asks (and nothing but that word)."""
    words = re.findall(r"[A-Za-z]+", response)
    if not words or any(found.lower() != word for found in words):
        return False
    core = response.removesuffix("!")
    checks = {
        "uppercase": lambda: all(found == word.upper() for found in words),
        "capital": lambda: all(found == word.capitalize() for found in words),
        "twice": lambda: len(words) == 2,
        "three_times": lambda: len(words) == 3,
        "quotes": lambda: len(core) > 2 and core[0] == core[-1] == '"',
        "brackets": lambda: len(core) > 2 and core[0] == "[" and core[-1] == "]",
        "exclamation": lambda: response.endswith("!"),
    }
    return checks[instruction]()


def process_format(doc: dict, results: list[str]) -> dict:
    """IFEval's two strict scores: all instructions followed (per prompt), and each one (per instruction)."""
    response = results[0].strip()
    followed = [follows_instruction(name, doc["word"], response) for name in doc["instructions"]]
    return {"prompt_level_strict_acc": all(followed), "inst_level_strict_acc": followed}


def agg_inst_level_acc(items: list[list[bool]]) -> float:
    """Mean over all instructions of all prompts (IFEval's instruction-level aggregation)."""
    flat = [followed for per_prompt in items for followed in per_prompt]
    return sum(flat) / len(flat)
