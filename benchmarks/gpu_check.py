"""The GPU path of a trial in one command: SmolLM2-135M's architecture trained by the real trial code on one GPU.

Speed does not depend on the weights, so the model is SmolLM2-135M's config (`benchmarks/assets/smollm2-135m`) with
random weights, saved once as a local folder, plus SmolLM2's tokenizer and chat template. The data is synthetic
chat conversations of 100-2048 tokens (log-uniform, in SmolLM2's tokens), tokenized by `trials.prepare`. Each trial
is `trials.trial.run_trial` (no Ray, no W&B) under the 135M SFT recipe's settings (fp32 weights, bf16 autocast, sdpa,
micro-batch 8, fused AdamW, `resources.cpus`), with a step budget, and lm-eval's HF backend scores it on two local
demo tasks (one multiple choice, one generation). Every trial runs in its own spawned process, pinned to one GPU
(`--smoke`: forked from one server that imported the trial's libraries once, `Scale.start_method`):

  padded          one trial with `training.padding_free: false`
  padding_free    one trial as the recipe trains it: the one-at-a-time baseline
  shared x2, x4   2 and 4 padding-free trials started together on the same GPU (the recipe's `resources.gpus: 0.25`)

Per trial: train tokens/s (the trial's own `train_tokens_per_second`: non-padding tokens over the seconds of
`trainer.train()`, the trainer's setup and first steps included), peak memory (`torch.cuda.max_memory_allocated`
and `max_memory_reserved`, training and scoring; peak RSS on a CPU) and scoring seconds. A group's aggregate
tokens/s is all its tokens over the span from the first training start to the last training end; its speedup is
that over the padding-free trial alone.

MFU = tokens/s x FLOPs per token / the GPU's dense bf16 peak, with FLOPs per token = 6·N + 12·L·d·s̄: N parameters
(tied embeddings counted once: the LM head's matmul), L layers, d hidden size, s̄ = Σs²/Σs the token-weighted mean
length of the training conversations. 12·L·d·s is the PaLM/nanoGPT attention term (QKᵀ and AV, forward and
backward, over the full s x s scores: the masked half of causal attention is counted). Padding counts nothing: a
padded run's MFU is its useful work. The peak comes from the device name (`PEAK_BF16_TFLOPS`) or `--peak-tflops`.

    python benchmarks/gpu_check.py            # one H100/H200: a few minutes (budget: < 8)
    python benchmarks/gpu_check.py --smoke    # the same code on the CPU with the demo's tiny model, seconds

Side by side: the matched plain TRL script (`benchmarks/trial_throughput.py`'s variants: plain TRL with bf16 and
checkpointing as the trial sets them, padded and padding-free, beside the trial with the spec's defaults and with
`padding_free: true`) on the same model folder and conversations, each variant in its own warm process pinned to
the GPU, in interleaved rounds (`benchmarks/rounds.py`: rotating order, the ratio within each round, its median with
a 95% CI over rounds); then one more run of the trial and of the matched script counting, per step, the tensor ->
Python reads (each a wait for the device), those asked for by `trials/` outside the trainer's logging (must be 0:
the trial reads its token count when the trainer logs), and the CUDA synchronisations the torch profiler records.

A bare GPU machine lacks TRL, datasets and lm-eval: `benchmarks/gpu_wheels.py` brings their wheels. The last line:
tokens_per_s= (padding-free trial) mfu= padding_free_speedup= shared4_speedup= peak_gib_per_trial= (allocated, max
over the four shared trials) eval_s= (scoring seconds of the padding-free trial) speedup_vs_matched_trl= (the
side-by-side's median ratio, trial ÷ matched padded script).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RECIPE = REPO / "search_spaces" / "smoltulu_135m_sft.yaml"
NEEDED = ("torch", "transformers", "accelerate", "trl", "datasets", "lm_eval", "pandas", "pydantic", "yaml")
PEAK_BF16_TFLOPS = (("H200", 989.4), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.4), ("A100", 312.0))
"""Dense bf16 tensor-core peaks from NVIDIA's spec sheets, matched in order against the device name (the SXM H100
is "NVIDIA H100 80GB HBM3")."""
CPU_NOMINAL_TFLOPS = 1.0
"""A CPU has no entry: `--smoke` divides by this nominal figure, so MFU's arithmetic runs, not to rate the CPU."""
README_ESTIMATE_GB = 15.0
"""README, "Four trials per GPU": one 135M trial at its longest micro-batch (8 x 2048 tokens)."""
TASKS = (
    {"task": "demo_continuation_mc", "category": "pattern", "metric": "acc"},
    {"task": "demo_addition", "category": "reasoning", "metric": "exact_match", "filter": "strict-match"},
)
GROUPS = (("padded", 1, False), ("padding_free", 1, True), ("shared x2", 2, True), ("shared x4", 4, True))
PRELOAD = ("__main__", "contract.spec", "lm_eval.evaluator", "lm_eval.models.huggingface", "trl.trainer.sft_trainer")
"""What the forkserver imports once for every trial it forks: the trial's libraries (torch, transformers, datasets,
peft, TRL, lm-eval) and the spec its job unpickles."""


@dataclass(frozen=True)
class Scale:
    """What the check runs: the GPU's SmolLM2-135M or the CPU's tiny demo model."""

    assets: Path
    lengths: tuple[int, int]
    """Conversation lengths in tokens, drawn log-uniformly."""
    max_length: int
    steps: int
    batch: int
    micro_batch: int
    eval_limit: int | None
    cpus: int | None
    """Torch threads per trial; None: the recipe's `resources.cpus`."""
    side_steps: int
    side_rounds: int
    side_warmup: int
    """Steps per round, rounds and discarded warm-up rounds of the side-by-side with the matched plain TRL script."""
    start_method: str
    """How each trial's process starts. `spawn` on the GPU: a fresh interpreter per trial, its own CUDA context and
    peak. `forkserver` on the CPU: every trial forked from one server that imported the libraries once (`PRELOAD`),
    since the imports (~8 s of CPU per process) would otherwise take most of a smoke run: 8 trial processes, 4 steps
    each."""


GPU = Scale(
    REPO / "benchmarks" / "assets" / "smollm2-135m", (100, 2048), 2048, 60, 32, 8, None, None, 20, 6, 1, "spawn"
)
SMOKE = Scale(REPO / "trials" / "demo" / "base_model", (16, 160), 192, 4, 4, 2, 8, 1, 2, 2, 0, "forkserver")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="the CPU, the demo's tiny model, a few steps")
    parser.add_argument("--steps", type=int, help=f"optimizer steps per trial (default {GPU.steps})")
    parser.add_argument("--batch", type=int, help=f"effective batch in conversations (default {GPU.batch})")
    parser.add_argument("--micro-batch", type=int, help=f"per-device batch (default {GPU.micro_batch}, the recipe's)")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak (default: from its name)")
    parser.add_argument("--gpu", type=int, default=0, help="the GPU every trial is pinned to")
    args = parser.parse_args()
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        fail(
            f"{', '.join(missing)} not installed. On a bare GPU machine: the wheel bundles that "
            "`python benchmarks/gpu_wheels.py` makes bring trl, datasets, lm-eval and what they import"
        )
    overrides = {"steps": args.steps, "batch": args.batch, "micro_batch": args.micro_batch}
    scale = replace(SMOKE if args.smoke else GPU, **{key: value for key, value in overrides.items() if value})
    offline = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    for name, value in offline.items():  # inherited by the trials' processes
        os.environ.setdefault(name, value)
    device, peak_tflops = _device(args)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as workdir:
        try:
            setup = prepare(scale, Path(workdir), gpu=not args.smoke)
        except Exception as error:  # this machine's library versions, most likely: say where, then stop
            fail(f"preparing the model and data failed: {describe(error)}")
        gpu = None if args.smoke else args.gpu
        groups = {
            name: run_group(setup, count, padding_free, gpu, scale.start_method, Path(workdir), name)
            for name, count, padding_free in GROUPS
        }
        beside = side_by_side(scale, Path(workdir), gpu)
    report(scale, setup, groups, beside, device, peak_tflops, time.perf_counter() - started)


def fail(message: str) -> None:
    print(f"gpu_check: {message}", file=sys.stderr)
    raise SystemExit(2)


def describe(error: BaseException) -> str:
    """One line for the table: the error and the innermost line that raised it."""
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    place = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200] + place


def _device(args: argparse.Namespace) -> tuple[str, float]:
    import torch

    if args.smoke:
        return "CPU", args.peak_tflops or CPU_NOMINAL_TFLOPS
    if not torch.cuda.is_available():
        fail("no CUDA device is visible; `--smoke` runs the same code on the CPU")
    name = torch.cuda.get_device_name(args.gpu)
    peak = args.peak_tflops or next((tflops for key, tflops in PEAK_BF16_TFLOPS if key in name), None)
    if peak is None:
        fail(f"no bf16 peak known for '{name}'; pass --peak-tflops (its dense bf16 TFLOP/s)")
    return name, peak


@dataclass(frozen=True)
class Setup:
    """The saved model, the prepared data and the spec each group's trials share."""

    raw_spec: dict[str, Any]
    prepared: Any
    parameters: int
    flops_per_token: float
    attention_flops_per_token: float
    lengths: tuple[int, float, float, int]
    """min, mean, token-weighted mean (Σs²/Σs) and max tokens of a training conversation."""


def prepare(scale: Scale, workdir: Path, gpu: bool) -> Setup:
    """Save the random-weight model once, write the conversations, and prepare the sweep as the driver would."""
    import numpy as np
    import torch
    import yaml
    from datasets import load_from_disk
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from contract.spec import spec_from_dict
    from trials.prepare import prepare_sweep

    os.environ["RATIO_SWEEPER_CACHE"] = str(workdir / "cache")
    config = AutoConfig.from_pretrained(scale.assets)
    tokenizer = AutoTokenizer.from_pretrained(scale.assets)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    parameters = sum(parameter.numel() for parameter in model.parameters())  # tied embeddings once
    model.save_pretrained(workdir / "model")
    tokenizer.save_pretrained(workdir / "model")
    del model
    examples = scale.steps * scale.batch  # one epoch per trial
    write_conversations(tokenizer, examples, scale.lengths, workdir / "conversations.jsonl")

    raw = yaml.safe_load(RECIPE.read_text())
    raw.update(
        name="gpu_check",
        output_dir=str(workdir / "sweep"),
        categories=["reasoning", "pattern"],
        data={"source": str(workdir / "conversations.jsonl"), "seed": 0},
        grid={"learning_rate": [1e-4], "batch_size": [scale.batch]},
        wandb={"mode": "disabled"},
    )
    raw["model"]["name_or_path"] = str(workdir / "model")
    training = raw["training"]
    del training["num_train_epochs"]
    # The last step must log: a trial counts its tokens from TRL's logged `num_tokens`.
    logging_steps = min(training["logging_steps"], scale.steps)
    training.update(
        max_steps=math.ceil(scale.steps / logging_steps) * logging_steps,
        logging_steps=logging_steps,
        max_length=scale.max_length,
        max_per_device_batch=scale.micro_batch,
        seeds=[0],
        checkpoint_steps=None,
        save_model=False,
    )
    if not gpu:
        training.update(bf16=False, optim="adamw_torch")
    raw["evaluation"].update(tasks=list(TASKS), limit=scale.eval_limit)
    raw["resources"]["cpus"] = scale.cpus or raw["resources"]["cpus"]
    spec = spec_from_dict(raw)
    prepared = prepare_sweep(spec)

    lengths = np.array([len(ids) for ids in load_from_disk(prepared.data_path)["input_ids"]], dtype=np.float64)
    weighted = float((lengths**2).sum() / lengths.sum())
    attention = 12 * config.num_hidden_layers * config.hidden_size * weighted
    return Setup(
        raw,
        prepared,
        parameters,
        6 * parameters + attention,
        attention,
        (int(lengths.min()), float(lengths.mean()), weighted, int(lengths.max())),
    )


def write_conversations(tokenizer: Any, count: int, lengths: tuple[int, int], path: Path) -> None:
    """`count` one-turn chats of random vocabulary: a user turn of 10-40 % and an assistant answer of the rest of a
    length drawn log-uniformly from `lengths` (Tulu 3's spread, from a line to a long answer). Tokens that decode
    to partial characters are left out, so a text re-tokenizes to about its drawn length."""
    rng = random.Random(0)
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    pieces = [token for token in range(len(tokenizer)) if token not in special]
    pieces = [token for token in pieces if "\ufffd" not in (text := tokenizer.decode([token])) and text.strip()]

    def text(tokens: int) -> str:
        return tokenizer.decode(rng.choices(pieces, k=max(1, tokens)))

    low, high = lengths
    with path.open("w") as rows:
        for _ in range(count):
            length = round(math.exp(rng.uniform(math.log(low), math.log(high))))
            prompt = round(length * rng.uniform(0.1, 0.4))
            turns = [{"role": "user", "content": text(prompt)}, {"role": "assistant", "content": text(length - prompt)}]
            rows.write(json.dumps({"messages": turns}) + "\n")


def run_group(
    setup: Setup, count: int, padding_free: bool, gpu: int | None, start_method: str, workdir: Path, name: str
) -> list[dict]:
    """`count` trials started together, each in a process of its own (on the GPU a spawned one: a fresh CUDA context,
    its own peak)."""
    from contract.spec import spec_from_dict

    raw = {**setup.raw_spec, "training": {**setup.raw_spec["training"], "padding_free": padding_free}}
    spec = spec_from_dict(raw)
    jobs = [
        (
            spec,
            setup.prepared,
            spec.trial_params(1e-4, spec.grid.batch_size[0], seed),
            workdir / "trials" / f"{name.replace(' ', '')}-{seed}",
            gpu,
        )
        for seed in range(count)
    ]
    context = get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload(list(PRELOAD))
    try:
        with ProcessPoolExecutor(count, mp_context=context, max_tasks_per_child=1) as pool:
            return list(pool.map(_trial_process, jobs))
    except BrokenProcessPool as error:  # a trial's process died (a crash in CUDA or a kernel, the OOM killer)
        return [{"error": describe(error)}] * count


def _trial_process(job: tuple) -> dict:
    """One trial in this (spawned) process: its figures, or the error that stopped it (the device's library versions
    may refuse a step the CPU took: reported in the table, not as a traceback)."""
    spec, prepared, params, trial_dir, gpu = job
    if gpu is not None:  # before CUDA starts in this process; `gpu` counts the devices the parent sees
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        os.environ["CUDA_VISIBLE_DEVICES"] = visible.split(",")[gpu] if visible else str(gpu)
    import torch

    try:
        from trials.trial import run_trial

        result = run_trial(spec, prepared, params, trial_dir)
    except Exception as error:
        return {"error": describe(error)}
    if result.status.value != "ok":
        return {"error": f"{result.status.value}: {result.error}"[:200]}
    if torch.cuda.is_available():
        peak, reserved = torch.cuda.max_memory_allocated() / 2**30, torch.cuda.max_memory_reserved() / 2**30
    else:
        peak, reserved = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, math.nan
    # The seconds of `trainer.train()` behind the trial's own tokens/s (trainer setup included), ending where scoring
    # starts: the interval a group's aggregate is measured over.
    train_end = result.finished_at - result.eval_seconds
    train_seconds = result.train_tokens / result.train_tokens_per_second
    return {
        "tokens": result.train_tokens,
        "tokens_per_second": result.train_tokens_per_second,
        "train_start": train_end - train_seconds,
        "train_end": train_end,
        "eval_seconds": result.eval_seconds,
        "peak_gib": peak,
        "reserved_gib": reserved,
    }


def side_by_side(scale: Scale, workdir: Path, gpu: int | None) -> dict[str, Any]:
    """The trial beside the matched plain TRL script, on the same model folder and conversations: the variants of
    `benchmarks/trial_throughput.py` (plain TRL matched, padded and padding-free; the trial with the spec's defaults
    and padding-free), each in its own warm process, in interleaved rounds of `scale.side_steps` steps
    (`benchmarks/rounds.py`: rotating order, a ratio per round, its median and 95% CI); then one more run of the
    trial and of the matched script counting host reads and CUDA syncs per step."""
    from benchmarks import trial_throughput as throughput
    from benchmarks.rounds import Worker, interleave, median_ci, round_ratios

    args = argparse.Namespace(
        workdir=workdir / "side_by_side", model=workdir / "model", examples=workdir / "conversations.jsonl",
        steps=scale.side_steps, batch=scale.batch, micro_batch=scale.micro_batch, threads=scale.cpus or 1,
        max_length=scale.max_length,
    )  # fmt: skip
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    pinned = {} if gpu is None else {"CUDA_VISIBLE_DEVICES": visible.split(",")[gpu] if visible else str(gpu)}
    workers = {
        name: Worker(throughput.child_command(name, args), args.workdir / f"{name}.log", pinned)
        for name in throughput.VARIANTS
    }
    try:
        answers = interleave(workers, scale.side_rounds, {"steps": scale.side_steps}, warmup=scale.side_warmup)
        reads = {
            name: workers[name].ask({"round": -1, "count_reads": True})
            for name in ("plain_trl_matched", "sweeper_trial")
        }
    except SystemExit as error:  # a variant's process died: its log's tail, in the table
        return {"error": str(error).splitlines()[-1][:200]}
    finally:
        for worker in workers.values():
            worker.process.kill()
    ratios = {
        label: median_ci(round_ratios(answers, top, bottom, "tokens_per_second"))
        for label, top, bottom in throughput.RATIOS
        if top in answers and bottom in answers
    }
    tokens = {name: statistics.median(r["tokens_per_second"] for r in rounds) for name, rounds in answers.items()}
    return {"tokens_per_second": tokens, "ratios": ratios, "reads": reads}


def summarise(trials: list[dict], single: float, flops_per_token: float, peak_tflops: float) -> dict[str, Any]:
    """A group's row: per-trial mean tokens/s, aggregate tokens/s over the group's training span, speedup, MFU."""
    errors = [trial["error"] for trial in trials if "error" in trial]
    if errors:
        return {"error": errors[0]}
    span = max(trial["train_end"] for trial in trials) - min(trial["train_start"] for trial in trials)
    aggregate = sum(trial["tokens"] for trial in trials) / span
    return {
        "per_trial": sum(trial["tokens_per_second"] for trial in trials) / len(trials),
        "aggregate": aggregate,
        "speedup": aggregate / single,
        "mfu": aggregate * flops_per_token / (peak_tflops * 1e12),
        "peak_gib": max(trial["peak_gib"] for trial in trials),
        "reserved_gib": max(trial["reserved_gib"] for trial in trials),
        "eval_seconds": sum(trial["eval_seconds"] for trial in trials) / len(trials),
    }


def report(
    scale: Scale,
    setup: Setup,
    groups: dict[str, list[dict]],
    beside: dict[str, Any],
    device: str,
    peak_tflops: float,
    wall: float,
) -> None:
    import torch
    import transformers

    alone = groups["padding_free"]
    single = math.nan if "error" in alone[0] else alone[0]["tokens_per_second"]
    rows = {name: summarise(trials, single, setup.flops_per_token, peak_tflops) for name, trials in groups.items()}
    training = setup.raw_spec["training"]
    low, mean, weighted, high = setup.lengths
    print(
        f"model: {scale.assets.name} architecture, {setup.parameters / 1e6:.1f}M parameters, random weights; "
        f"{training['max_steps']} steps x batch {scale.batch} (micro-batch {scale.micro_batch}), max_length "
        f"{scale.max_length}, bf16 {training['bf16']}, {setup.raw_spec['model']['attn_implementation']}"
    )
    peak = "nominal, --smoke" if device == "CPU" else "bf16 dense"
    print(
        f"device: {device}, peak {peak_tflops:g} TFLOP/s ({peak}); "
        f"torch {torch.__version__}, transformers {transformers.__version__}"
    )
    print(
        f"data: {setup.prepared.num_examples} conversations of {low}-{high} tokens (mean {mean:.0f}, token-weighted "
        f"{weighted:.0f}); FLOPs/token {setup.flops_per_token / 1e9:.3g} G "
        f"(attention {setup.attention_flops_per_token / 1e9:.3g} G)"
    )
    memory = "peak RSS GiB" if device == "CPU" else "peak GiB"
    print(
        f"{'run':<14}{'trials':>7}{'tok/s/trial':>13}{'aggregate':>11}{'speedup':>9}{'MFU':>8}{memory:>14}"
        f"{'reserved':>10}{'eval s':>8}"
    )
    for (name, count, _), row in zip(GROUPS, rows.values()):
        if "error" in row:
            print(f"{name:<14}{count:>7}  failed: {row['error']}")
            continue
        print(
            f"{name:<14}{count:>7}{row['per_trial']:>13.0f}{row['aggregate']:>11.0f}{row['speedup']:>9.2f}"
            f"{row['mfu']:>8.1%}{row['peak_gib']:>14.2f}{row['reserved_gib']:>10.2f}{row['eval_seconds']:>8.1f}"
        )
    shared = rows["shared x4"]
    padded = rows["padded"]
    print(
        f"README estimate: {README_ESTIMATE_GB:g} GB ({README_ESTIMATE_GB * 1e9 / 2**30:.1f} GiB) per trial at "
        f"micro-batch 8 x 2048 tokens; measured peak per trial: padded {padded.get('peak_gib', math.nan):.2f} GiB, "
        f"padding-free shared x4 {shared.get('peak_gib', math.nan):.2f} GiB"
    )
    speedup = math.nan
    if "error" in beside:
        print(f"side by side with plain TRL: failed: {beside['error']}")
    else:
        print(
            f"side by side with plain TRL, same model and conversations, {scale.side_steps} steps x batch "
            f"{scale.batch} per round, {scale.side_rounds} rounds (+{scale.side_warmup} warm-up), rotating order; "
            "median tokens/s:"
        )
        for name, tokens in beside["tokens_per_second"].items():
            print(f"  {name:<32}{tokens:>10.0f}")
        for label, ratio in beside["ratios"].items():
            print(f"  {label:<38}{ratio}  (95% CI over rounds, coverage {ratio.confidence:.3f})")
        speedup = beside["ratios"]["speedup_vs_matched_trl"].median
        for name, reads in beside["reads"].items():
            print(
                f"host reads per step ({name}, torch profiler): {reads['reads_per_step']:.1f} device-value reads, "
                f"{reads['reads_from_trials_per_step']:.1f} from trials/ outside logging (must be 0), "
                f"{reads['syncs_per_step']:.1f} CUDA synchronisations"
            )
    print(f"wall {wall:.0f} s")
    figures = {
        "tokens_per_s": single,
        "mfu": rows["padding_free"].get("mfu", math.nan),
        "padding_free_speedup": single / padded.get("per_trial", math.nan),
        "shared4_speedup": shared.get("speedup", math.nan),
        "peak_gib_per_trial": shared.get("peak_gib", math.nan),
        "eval_s": rows["padding_free"].get("eval_seconds", math.nan),
        "speedup_vs_matched_trl": speedup,
    }
    print(" ".join(f"{key}={value:.4g}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
