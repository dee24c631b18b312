"""The demo's lm-eval tasks: one YAML per task over bundled jsonl data, loadable from any working directory.

Use with `lm_eval.tasks.TaskManager(include_path=str(DEMO_TASKS_DIR), include_defaults=False)`. The tag
`demo` selects all six; `demo_reasoning` and `demo_pattern` select a category.
"""

from pathlib import Path

DEMO_TASKS_DIR = Path(__file__).resolve().parent
DEMO_DATA_DIR = DEMO_TASKS_DIR / "data"
DEMO_TASK_CATEGORIES: dict[str, str] = {
    "demo_addition": "reasoning",
    "demo_word_problems": "reasoning",
    "demo_number_mc": "reasoning",
    "demo_sequence": "pattern",
    "demo_format": "pattern",
    "demo_continuation_mc": "pattern",
}
