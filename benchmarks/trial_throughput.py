"""Does a sweeper trial train faster than the TRL script a user would write? The same SFT run, done four ways:

  plain_trl_matched         `SFTTrainer` as TRL's docs show it (prompt/completion conversations, the model's folder,
                            `SFTConfig` defaults: fused AdamW, logging every 10 steps, its NaN filter) with bf16 and
                            gradient checkpointing set as the trial sets them (TRL defaults both on; bf16 is emulated
                            on this CPU and checkpointing recomputes the forward: `--with-trl-defaults` adds that run).
  plain_trl_matched_padding_free  the same script with `padding_free=True` (and `max_length=None`, which TRL asks
                            for without packing): the strongest script a user would write.
  plain_trl_matched_batch_rebalance  (`--with-batch-rebalance`) the matched script with transformers'
                            `train_sampling_strategy="batch_rebalance"` (5.25+): each step's examples regrouped by
                            length into micro-batches of varying size, the library's own answer to padding.
  sweeper_trial             `trials.data.prepare_data` (tokenized once, masks built, cached) then
                            `trials.train.build_trainer` + `train`, the path of `trials.trial.run_trial`, with the
                            spec's defaults (fused AdamW; padding-free only with flash-attention, so padded on a CPU;
                            the loss scored on labelled positions only, `trials.sft_loss`; each step's examples dealt
                            into its micro-batches by length, `trials.micro_batches`).
  sweeper_trial_padding_free  the same with `training.padding_free: true`: each micro-batch one concatenated row with
                            position_ids, no FLOP on padding, the batch still counts examples.

Same model weights (saved once, loaded from disk in every round), same examples, same steps, same effective batch
(micro-batch × accumulation), one torch thread (as a trial with `resources.cpus: 1`).

How load is kept out of the ratios (`benchmarks/rounds.py`): each variant lives in its own process, kept warm and fed
one round at a time over a pipe (never two at once); a round builds the variant's model and trainer afresh and
trains `--steps` steps; the variants take turns within a round in a rotating order, a first round is discarded
(first-call costs), and each round gives the ratio sweeper ÷ matched script of that round's train tokens/s. Printed:
per variant the median of its rounds (tokens/s, train and setup seconds, peak memory), each ratio's median with its
95% CI over rounds, the load average while measuring, and last

    speedup_vs_matched_trl=X [lo, hi] speedup_vs_matched_padding_free_trl=Y [lo, hi] load=Z

(sweeper_trial ÷ plain_trl_matched, sweeper_trial_padding_free ÷ plain_trl_matched_padding_free; load: the mean
1-minute load average).
Tokens are non-padding tokens (TRL's `num_tokens`), train seconds those of `trainer.train()`; setup seconds are
model load and trainer build (TRL's tokenization for the plain scripts; the trial's is cached per sweep).

    python benchmarks/trial_throughput.py --quick              # CPU, small Llama, ~1 minute
    python benchmarks/trial_throughput.py                      # CPU, 40 rounds of 20 steps: 8 min at load 5, 18 at 8.6
    python benchmarks/trial_throughput.py --under-load         # the same while one core spins (a CPU burner)
    python benchmarks/trial_throughput.py --profile sweeper_trial   # host cost per step of each part of the loop
    python benchmarks/trial_throughput.py --model runs/smollm2-135m --steps 20 --batch 32   # GPU, SmolLM2-135M
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.rounds import LoadMonitor, Worker, cpu_burner, interleave, median_ci, round_ratios, serve  # noqa: E402

# A small Llama for CPU runs (~0.5M parameters): big enough that a step is not all Python, small enough for many rounds.
SMALL_LLAMA = {"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 2, "num_attention_heads": 4,
               "num_key_value_heads": 4, "max_position_embeddings": 512, "tie_word_embeddings": True}  # fmt: skip
VARIANTS = ("plain_trl_matched", "plain_trl_matched_padding_free", "sweeper_trial", "sweeper_trial_padding_free")
EXTRA_VARIANTS = {"with_trl_defaults": "plain_trl", "with_batch_rebalance": "plain_trl_matched_batch_rebalance"}
"""Baselines run only when their flag is given."""
ALL_VARIANTS = (*VARIANTS, *EXTRA_VARIANTS.values())
RATIOS = (
    ("speedup_vs_matched_trl", "sweeper_trial", "plain_trl_matched"),
    ("speedup_vs_matched_padding_free_trl", "sweeper_trial_padding_free", "plain_trl_matched_padding_free"),
    ("speedup_padding_free_vs_matched_trl", "sweeper_trial_padding_free", "plain_trl_matched"),
    ("speedup_vs_trl_defaults", "sweeper_trial", "plain_trl"),
    ("speedup_vs_batch_rebalance_trl", "sweeper_trial", "plain_trl_matched_batch_rebalance"),
)
LEARNING_RATE = 1e-4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 rounds of 8 steps (~1 minute on 2 cores)")
    parser.add_argument("--under-load", action="store_true", help="keep one core busy with a CPU burner meanwhile")
    parser.add_argument("--with-trl-defaults", action="store_true", help="add plain TRL with its own defaults")
    parser.add_argument("--with-batch-rebalance", action="store_true",
                        help="add the matched script with transformers' batch_rebalance sampler")  # fmt: skip
    parser.add_argument("--model", type=Path, help="a local model folder (e.g. SmolLM2-135M from trials.gguf)")
    parser.add_argument("--examples", type=Path, help="a jsonl of SFT examples (default: the demo generator's)")
    parser.add_argument("--steps", type=int, help="optimizer steps per round")
    parser.add_argument("--rounds", type=int, help="measured rounds (a warm-up round comes first)")
    parser.add_argument("--batch", type=int, default=16, help="effective batch size in sequences")
    parser.add_argument("--micro-batch", type=int, default=8, help="per-device batch (accumulation = batch / micro)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (CPU)")
    parser.add_argument("--max-length", type=int, default=1024, help="tokens per sequence (longer are truncated)")
    parser.add_argument("--profile", choices=ALL_VARIANTS, help="one round of this variant under cProfile")
    parser.add_argument("--serve", choices=ALL_VARIANTS, help=argparse.SUPPRESS)  # a variant's warm process
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.steps = args.steps or (8 if args.quick else 20)
    args.rounds = args.rounds or (6 if args.quick else 40)
    if args.serve:
        serve(Variant(args.serve, args).run_round)
        return
    with tempfile.TemporaryDirectory(prefix="trial-throughput-") as workdir:
        args.workdir = Path(workdir)
        setup = prepare_inputs(args)
        if args.profile:
            profile(args)
            return
        names = (*VARIANTS, *(name for flag, name in EXTRA_VARIANTS.items() if getattr(args, flag)))
        workers = {name: Worker(child_command(name, args), args.workdir / f"{name}.log") for name in names}
        started = time.perf_counter()
        with LoadMonitor() as load, cpu_burner(args.under_load, limit_seconds=3600):
            answers = interleave(workers, args.rounds, {"steps": args.steps})
        for worker in workers.values():
            worker.close()
    report(answers, setup, args, load, time.perf_counter() - started)


def prepare_inputs(args: argparse.Namespace) -> dict:
    """Save the starting model + tokenizer once and write the examples every variant reads."""
    import torch

    from trials.demo import data as demo_data

    model_dir = args.workdir / "model"
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
    args.model = model_dir
    if args.examples:
        return {"model": description, "examples": len(args.examples.read_text().splitlines())}
    examples = demo_data.sft_examples(args.steps * args.batch, seed=0)
    args.examples = args.workdir / "examples.jsonl"
    args.examples.write_text("\n".join(json.dumps(e) for e in examples))
    return {"model": description, "examples": len(examples)}


def child_command(name: str, args: argparse.Namespace) -> list[str]:
    sizes = ["--steps", args.steps, "--batch", args.batch, "--micro-batch", args.micro_batch, "--threads", args.threads,
             "--max-length", args.max_length]  # fmt: skip
    paths = ["--workdir", args.workdir, "--model", args.model, "--examples", args.examples]
    return [sys.executable, __file__, "--serve", name, *map(str, paths + sizes)]


class Variant:
    """One variant in its own process: what it loads once (the libraries, the data), then one round per request."""

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        import os

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import datasets
        import torch
        import transformers

        torch.set_num_threads(args.threads)
        datasets.disable_progress_bars()
        transformers.utils.logging.set_verbosity_error()
        self.name, self.args = name, args
        self.gpu = torch.cuda.is_available()
        self.accumulation = args.batch // args.micro_batch
        self.build = self._sweeper_trial if name.startswith("sweeper_trial") else self._plain_trl
        self.data = self._sweeper_data() if name.startswith("sweeper_trial") else self._plain_data()

    def run_round(self, request: dict) -> dict:
        import torch

        started = time.perf_counter()
        trainer = self.build(request["round"])
        setup = time.perf_counter() - started
        if request.get("count_reads"):
            return count_host_reads(trainer)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        tokens = max(entry.get("num_tokens", 0) for entry in trainer.state.log_history)
        peak = (
            torch.cuda.max_memory_allocated() / 2**30
            if self.gpu
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        )
        return {"tokens": int(tokens), "train_seconds": seconds, "tokens_per_second": tokens / seconds,
                "setup_seconds": setup, "peak_gib": peak}  # fmt: skip

    def _plain_data(self):
        from datasets import load_dataset

        dataset = load_dataset("json", data_files=str(self.args.examples), split="train")
        return dataset.remove_columns([name for name in dataset.column_names if name == "skill"])  # the demo's label

    def _plain_trl(self, round_index: int):
        from trl import SFTConfig, SFTTrainer

        options = {}
        if self.name != "plain_trl":
            options = {"bf16": self.gpu, "gradient_checkpointing": False, "max_length": self.args.max_length}
        if self.name.endswith("padding_free"):
            options |= {"padding_free": True, "max_length": None}
        if self.name.endswith("batch_rebalance"):
            options |= {"train_sampling_strategy": "batch_rebalance"}
        config = SFTConfig(
            output_dir=str(self.args.workdir / f"out-{self.name}"),
            learning_rate=LEARNING_RATE,
            per_device_train_batch_size=self.args.micro_batch,
            gradient_accumulation_steps=self.accumulation,
            max_steps=self.args.steps,
            use_cpu=not self.gpu,
            report_to="none",
            **options,
        )
        return SFTTrainer(model=str(self.args.model), args=config, train_dataset=self.data)

    def _sweeper_data(self):
        from datasets import load_from_disk
        from transformers import AutoTokenizer

        from contract.spec import spec_from_dict
        from trials.data import prepare_data

        # flash-attention's varlen kernels where installed (a GPU): what padding-free needs for its full gain.
        attention = "flash_attention_2" if self.gpu and importlib.util.find_spec("flash_attn") else "sdpa"
        training = {"max_steps": self.args.steps, "max_length": self.args.max_length, "bf16": self.gpu,
                    "logging_steps": 10, "max_per_device_batch": self.args.micro_batch}  # fmt: skip
        if self.name.endswith("padding_free"):
            training["padding_free"] = True
        self.spec = spec_from_dict(
            {
                "name": "throughput",
                "model": {"name_or_path": str(self.args.model), "torch_dtype": "float32",
                          "attn_implementation": attention},
                "data": {"source": str(self.args.examples)},
                "grid": {"learning_rate": [LEARNING_RATE], "batch_size": [self.args.batch]},
                "training": training,
                "categories": ["throughput"],
                "evaluation": {"tasks": [{"task": "none", "category": "throughput", "metric": "acc"}]},
            }
        )  # fmt: skip
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.args.model))
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        cache = self.args.workdir / f"cache-{self.name}"
        prepared = prepare_data(self.spec.data, "sft", self.tokenizer, self.spec.training.max_length, cache)
        return load_from_disk(str(prepared.path))

    def _sweeper_trial(self, round_index: int):
        from trials.model import load_model
        from trials.train import build_trainer

        params = self.spec.trial_params(LEARNING_RATE, self.args.batch, 0)
        assert params.gradient_accumulation_steps == self.accumulation
        model = load_model(str(self.args.model), self.spec.model)
        output = self.args.workdir / f"out-{self.name}"
        trainer, *_ = build_trainer(self.spec, params, model, self.tokenizer, self.data, output)
        return trainer


DEVICE_READS = ("item", "tolist", "numpy", "__float__", "__int__", "__bool__", "__index__")
"""Tensor -> Python conversions: on a GPU each one makes the host wait for the device."""


def count_host_reads(trainer) -> dict:
    """One training run (not timed) with every tensor -> Python conversion counted: per optimizer step, all of them,
    and those asked for by this project's `trials/` code outside the trainer's logging (the innermost caller outside
    torch; 0 expected: the trial reads its token count when the trainer logs, never per step; the rest are TRL's and
    transformers' own); on a GPU also the CUDA synchronisations the torch profiler records (`cuda*Synchronize`)."""
    import traceback

    import torch
    from torch.profiler import ProfilerActivity, profile

    ours, library = str(REPO / "trials"), str(Path(torch.__file__).parent)
    reads = {"all": 0, "trials": 0}

    def counted(original):
        def read(tensor, *args, **kwargs):
            stack = traceback.extract_stack()[:-1]
            caller = next(f for f in reversed(stack) if not f.filename.startswith(library))
            logging = any(frame.name == "log" and frame.filename.startswith(ours) for frame in stack)
            reads["all"] += 1
            reads["trials"] += caller.filename.startswith(ours) and not logging
            return original(tensor, *args, **kwargs)

        return read

    originals = {name: getattr(torch.Tensor, name) for name in DEVICE_READS}
    activities = [ProfilerActivity.CUDA] if torch.cuda.is_available() else [ProfilerActivity.CPU]
    for name, original in originals.items():
        setattr(torch.Tensor, name, counted(original))
    try:
        with profile(activities=activities) as profiler:
            trainer.train()
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)
    steps = max(1, trainer.state.global_step)
    syncs = [event for event in profiler.events() if event.name.startswith("cuda") and "Synchronize" in event.name]
    return {"reads_per_step": reads["all"] / steps, "reads_from_trials_per_step": reads["trials"] / steps,
            "syncs_per_step": len(syncs) / steps}  # fmt: skip


PROFILED = (
    ("training_step (forward, loss, backward)", "transformers/trainer.py", "training_step"),
    ("  compute_loss (TRL's: forward, loss, metrics)", "trl/trainer/sft_trainer.py", "compute_loss"),
    ("  compute_loss (the trial's: forward, loss)", "trials/sft_loss.py", "compute_loss"),
    ("    LM head, forward (TRL's chunked log-probs)", "trl/kernels/chunked_logprob.py", "forward"),
    ("  backward", "accelerate/accelerator.py", "backward"),
    ("    LM head, backward", "trl/kernels/chunked_logprob.py", "backward"),
    ("collator (TRL)", "trl/trainer/sft_trainer.py", "torch_call"),
    ("gradient clipping", "accelerate/accelerator.py", "clip_grad_norm_"),
    ("optimizer step (AdamW)", "accelerate/optimizer.py", "step"),
    ("lr scheduler step", "torch/optim/lr_scheduler.py", "step"),
    ("logging (_maybe_log_save_evaluate)", "transformers/trainer.py", "_maybe_log_save_evaluate"),
    ("callbacks, all (CallbackHandler.call_event)", "transformers/trainer_callback.py", "call_event"),
    ("  ours (trials/train.py: guard, clock)", "trials/train.py", "on_"),
)
"""What `--profile` reports per optimizer step: label, file (its tail), function name (its start)."""


def profile(args: argparse.Namespace) -> None:
    """A warm-up round, then one round of `args.profile` under cProfile: the host-side cost per optimizer step of each
    part of the loop (`PROFILED`, cumulative), then the functions that took the most time of their own."""
    import cProfile
    import pstats

    variant = Variant(args.profile, args)
    variant.run_round({"round": 0})
    trainer = variant.build(1)
    profiler = cProfile.Profile()
    profiler.enable()
    trainer.train()
    profiler.disable()
    stats = pstats.Stats(profiler)
    steps = trainer.state.global_step
    total = max(entry[3] for entry in stats.stats.values())
    print(f"{args.profile}: {steps} steps, {1000 * total / steps:.2f} ms per step in trainer.train() (cProfile on)")
    print(f"{'part of the loop':<46}{'calls/step':>11}{'ms/step':>9}{'share':>7}")
    for label, file, function in PROFILED:
        found = [value for (path, _, name), value in stats.stats.items() if file in path and name.startswith(function)]
        calls, seconds = sum(value[1] for value in found), sum(value[3] for value in found)
        print(f"{label:<46}{calls / steps:>11.1f}{1000 * seconds / steps:>9.3f}{seconds / total:>7.1%}")
    stats.sort_stats("tottime").print_stats(15)


def report(answers: dict[str, list[dict]], setup: dict, args: argparse.Namespace, load: LoadMonitor, wall: float):
    import platform

    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or 'cpu'})"
    print(f"model: {setup['model']}; {args.steps} steps x batch {args.batch} ({args.micro_batch} x "
          f"{args.batch // args.micro_batch}) per round; {setup['examples']} examples; {device}, torch threads "
          f"{args.threads}; {args.rounds} rounds (+1 warm-up), rotating order; "
          f"{'one core kept busy by a CPU burner' if args.under_load else 'no burner'}; wall {wall:.0f} s")  # fmt: skip
    memory = "peak GPU GiB" if torch.cuda.is_available() else "peak RSS GiB"
    print(f"{'variant (median of rounds)':<32}{'tokens':>8}{'train s':>9}{'tokens/s':>10}{'setup s':>9}{memory:>14}")
    for name, rounds in answers.items():
        median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        print(f"{name:<32}{median['tokens']:>8.0f}{median['train_seconds']:>9.2f}{median['tokens_per_second']:>10.0f}"
              f"{median['setup_seconds']:>9.2f}{max(r['peak_gib'] for r in rounds):>14.2f}")  # fmt: skip
    results = {}
    for label, numerator, denominator in RATIOS:
        if numerator in answers and denominator in answers:
            results[label] = median_ci(round_ratios(answers, numerator, denominator, "tokens_per_second"))
            ratio = results[label]
            print(f"{label:<38}{ratio}  ({numerator} / {denominator}, per round; CI coverage "
                  f"{ratio.confidence:.3f} over {ratio.count} rounds)")  # fmt: skip
    print(f"load average (1 min) while measuring: {load.summary()}")
    mean_load = statistics.mean(load.samples) if load.samples else float("nan")
    print(" ".join(f"{label}={results[label].median:.2f} [{results[label].low:.2f}, {results[label].high:.2f}]"
                   for label, *_ in RATIOS[:2]) + f" load={mean_load:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
