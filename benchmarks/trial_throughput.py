"""Does a sweeper trial train as fast as the TRL script a user would write? The same SFT run, done three ways:

  plain TRL      `SFTTrainer` as TRL's docs show it: a dataset of prompt/completion conversations, the model's
                 folder, `SFTConfig` defaults except learning rate, batch, max_steps, use_cpu and report_to (so
                 TRL's defaults bf16=True and gradient_checkpointing=True stay on).
  plain TRL, matched   the same script with bf16 and gradient checkpointing set as the trial sets them, to show
                 what is left once those two defaults are equal.
  sweeper trial  `trials.data.prepare_data` (tokenized once, masks built, cached) then `trials.train.train`, the
                 training path of `trials.trial.run_trial`, with the TrainingSpec a recipe would give.
  sweeper trial, padding-free   the same with `training.padding_free: true`: each micro-batch is one concatenated
                 row with position_ids, so no FLOP goes to padding while the batch still counts examples.

Same model weights (saved once, loaded from disk by each), same examples, same steps, same effective batch
(micro-batch × accumulation), one torch thread (as a trial with `resources.cpus: 1`), each variant in its own
process (fair peak memory, no shared warm state), the variants in turns, best of the repeats (on a shared machine
the fastest run is the least disturbed one). Printed per variant: train tokens/s (non-padding tokens over the
seconds of `trainer.train()`), peak memory (RSS on CPU, `torch.cuda.max_memory_allocated` on GPU), wall time
(data + model + trainer setup + training), and last `speedup_vs_plain_trl=X.XX` (sweeper trial tokens/s ÷ plain
TRL tokens/s).

    python benchmarks/trial_throughput.py --quick              # CPU, small Llama, < 3 minutes
    python benchmarks/trial_throughput.py                      # CPU, longer, 3 repeats
    python benchmarks/trial_throughput.py --model runs/smollm2-135m --steps 50 --batch 32   # GPU, SmolLM2-135M
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# A small Llama for CPU runs (~1M parameters, 10× the demo's): TRL's CPU defaults (bf16 autocast on a CPU without
# bf16 units, gradient checkpointing) take ~5 s a step even at this size, which bounds what `--quick` can afford.
SMALL_LLAMA = {"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 2, "num_attention_heads": 4,
               "num_key_value_heads": 4, "max_position_embeddings": 512, "tie_word_embeddings": True}  # fmt: skip
VARIANTS = ("plain_trl", "plain_trl_matched", "sweeper_trial", "sweeper_trial_padding_free")
LEARNING_RATE = 1e-4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repeat of a short run (< 3 minutes on 2 cores)")
    parser.add_argument("--model", type=Path, help="a local model folder (e.g. SmolLM2-135M from trials.gguf)")
    parser.add_argument("--steps", type=int, help="optimizer steps per run")
    parser.add_argument("--batch", type=int, default=16, help="effective batch size in sequences")
    parser.add_argument("--micro-batch", type=int, default=8, help="per-device batch (accumulation = batch / micro)")
    parser.add_argument("--repeats", type=int, help="runs per variant (the best is reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (CPU)")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # one child run
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.steps = args.steps or (8 if args.quick else 30)
    args.repeats = args.repeats or (2 if args.quick else 3)
    if args.variant:
        print(json.dumps(run_variant(args)))
        return
    with tempfile.TemporaryDirectory(prefix="trial-throughput-") as workdir:
        setup = prepare_inputs(Path(workdir), args)
        runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
        for _ in range(args.repeats):
            for name in VARIANTS:
                runs[name].append(run_child(name, Path(workdir), args))
    report(runs, setup, args)


def prepare_inputs(workdir: Path, args: argparse.Namespace) -> dict:
    """Save the starting model + tokenizer once and write the examples both scripts read."""
    import torch

    from trials.demo import data as demo_data

    model_dir = workdir / "model"
    if args.model:
        model_dir = args.model.resolve()
        description = f"{model_dir.name} (local folder)"
    else:
        from trials.demo.tokenizer import train_demo_tokenizer
        from trials.model import build_tiny_llama

        tokenizer = train_demo_tokenizer(demo_data.pretraining_corpus(2000, seed=0), vocab_size=512)
        torch.manual_seed(0)
        model = build_tiny_llama(SMALL_LLAMA, len(tokenizer))
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        size = sum(p.numel() for p in model.parameters()) / 1e6
        description = f"small Llama {SMALL_LLAMA['num_hidden_layers']} x {SMALL_LLAMA['hidden_size']} ({size:.1f}M)"
    examples = demo_data.sft_examples(args.steps * args.batch, seed=0)
    (workdir / "examples.jsonl").write_text("\n".join(json.dumps(e) for e in examples))
    return {"model": description, "model_dir": str(model_dir), "examples": len(examples)}


def run_child(name: str, workdir: Path, args: argparse.Namespace) -> dict:
    sizes = ["--steps", args.steps, "--batch", args.batch, "--micro-batch", args.micro_batch, "--threads", args.threads]
    command = [sys.executable, __file__, "--variant", name, "--workdir", str(workdir), *map(str, sizes)]
    if args.model:
        command += ["--model", str(args.model.resolve())]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_variant(args: argparse.Namespace) -> dict:
    """One run in this (child) process: build, train, measure."""
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    model_dir = str(args.model.resolve()) if args.model else str(args.workdir / "model")
    accumulation = args.batch // args.micro_batch
    gpu = torch.cuda.is_available()
    started = time.perf_counter()
    if args.variant.startswith("sweeper_trial"):
        padding_free = args.variant.endswith("padding_free")
        trainer_seconds, tokens = _sweeper_trial(args, model_dir, accumulation, gpu, padding_free)
    else:
        trainer_seconds, tokens = _plain_trl(
            args, model_dir, accumulation, gpu, matched=args.variant.endswith("matched")
        )
    wall = time.perf_counter() - started
    peak = (
        torch.cuda.max_memory_allocated() / 2**30 if gpu else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )
    return {"tokens": tokens, "train_seconds": trainer_seconds, "tokens_per_second": tokens / trainer_seconds,
            "wall_seconds": wall, "peak_gib": peak}  # fmt: skip


def _plain_trl(args, model_dir: str, accumulation: int, gpu: bool, matched: bool) -> tuple[float, int]:
    from datasets import load_dataset
    from trl import SFTConfig, SFTTrainer

    dataset = load_dataset("json", data_files=str(args.workdir / "examples.jsonl"), split="train")
    dataset = dataset.remove_columns("skill")
    options = {"bf16": gpu, "gradient_checkpointing": False} if matched else {}
    config = SFTConfig(
        output_dir=str(args.workdir / f"out-{args.variant}"),
        learning_rate=LEARNING_RATE,
        per_device_train_batch_size=args.micro_batch,
        gradient_accumulation_steps=accumulation,
        max_steps=args.steps,
        use_cpu=not gpu,
        report_to="none",
        **options,
    )
    trainer = SFTTrainer(model=model_dir, args=config, train_dataset=dataset)
    return _timed_train(trainer)


def _sweeper_trial(args, model_dir: str, accumulation: int, gpu: bool, padding_free: bool) -> tuple[float, int]:
    from datasets import load_from_disk

    from contract.spec import spec_from_dict
    from trials.data import prepare_data
    from trials.model import load_model
    from trials.train import build_trainer

    # flash-attention's varlen kernels where installed (a GPU): what padding-free needs for its full gain.
    attention = "flash_attention_2" if gpu and importlib.util.find_spec("flash_attn") else "sdpa"
    spec = spec_from_dict(
        {
            "name": "throughput",
            "model": {"name_or_path": model_dir, "torch_dtype": "float32", "attn_implementation": attention},
            "data": {"source": str(args.workdir / "examples.jsonl")},
            "grid": {"learning_rate": [LEARNING_RATE], "batch_size": [args.batch]},
            "training": {
                "max_steps": args.steps, "max_length": 1024, "bf16": gpu, "logging_steps": 10,
                "padding_free": padding_free, "max_per_device_batch": args.micro_batch,
            },
            "categories": ["throughput"],
            "evaluation": {"tasks": [{"task": "none", "category": "throughput", "metric": "acc"}]},
        }
    )  # fmt: skip
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cache = args.workdir / f"cache-{time.time_ns()}"
    prepared = prepare_data(spec.data, "sft", tokenizer, spec.training.max_length, cache)
    dataset = load_from_disk(str(prepared.path))
    params = spec.trial_params(LEARNING_RATE, args.batch, 0)
    assert params.gradient_accumulation_steps == accumulation
    model = load_model(model_dir, spec.model)
    trainer, *_ = build_trainer(spec, params, model, tokenizer, dataset, args.workdir / "out-sweeper")
    return _timed_train(trainer)


def _timed_train(trainer) -> tuple[float, int]:
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    tokens = max(entry.get("num_tokens", 0) for entry in trainer.state.log_history)
    return seconds, int(tokens)


def report(runs: dict[str, list[dict]], setup: dict, args: argparse.Namespace) -> None:
    import platform

    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or 'cpu'})"
    print(f"model: {setup['model']}; {args.steps} steps x batch {args.batch} ({args.micro_batch} x "
          f"{args.batch // args.micro_batch}); {setup['examples']} examples; {device}, torch threads "
          f"{args.threads}; best of {args.repeats}")  # fmt: skip
    memory = "peak GPU GiB" if torch.cuda.is_available() else "peak RSS GiB"
    print(f"{'variant':<28}{'tokens':>9}{'train s':>9}{'tokens/s':>10}{memory:>14}{'wall s':>9}")
    best = {}
    for name, results in runs.items():
        best[name] = max(results, key=lambda result: result["tokens_per_second"])
        row = best[name]
        print(f"{name:<28}{row['tokens']:>9.0f}{row['train_seconds']:>9.2f}{row['tokens_per_second']:>10.0f}"
              f"{row['peak_gib']:>14.2f}{min(r['wall_seconds'] for r in results):>9.2f}")  # fmt: skip
    spread = {name: statistics.pstdev(r["tokens_per_second"] for r in results) for name, results in runs.items()}
    print("spread of tokens/s over repeats: " + ", ".join(f"{name} ±{value:.0f}" for name, value in spread.items()))
    trial = best["sweeper_trial"]["tokens_per_second"]
    padding_free = best["sweeper_trial_padding_free"]["tokens_per_second"]
    print(f"speedup_padding_free_vs_padded={padding_free / trial:.2f}")
    print(f"speedup_vs_matched_trl={trial / best['plain_trl_matched']['tokens_per_second']:.2f}")
    print(f"speedup_vs_plain_trl={trial / best['plain_trl']['tokens_per_second']:.2f}")


if __name__ == "__main__":
    main()
