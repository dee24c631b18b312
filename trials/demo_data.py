"""Deterministic synthetic data for the offline demo: a pretraining corpus, SFT and preference data, eval items.

Six skills, each the miniature of a benchmark the paper reports: reasoning (`addition` ~ arithmetic,
`word_problems` ~ GSM8K, `number_mc` ~ ARC) and pattern (`sequence` ~ pattern continuation, `format` ~ IFEval,
`continuation_mc` ~ HellaSwag). Every skill draws an item from a seeded `random.Random` (never global state);
the same item yields a plain sentence for pretraining ("47 plus 23 is 70.": no Q/A format, or the base model
already knows the task and SFT changes nothing), a chat Q/A pair for SFT, a chosen/rejected pair for DPO and
an lm-eval doc.

Train/eval disjointness does not depend on seeds: every item has a content key (the operands, the pattern,
the word and instructions, the story's object) and a fixed hash of that key puts it either in the held-out
eval set or in the training set, for every seed. Eval items are therefore never seen in pretraining or SFT,
only the skills are (an unseen sum, a new pattern, a known word under a new instruction mix, a known script
with a new object).

Regenerate the bundled lm-eval data after changing anything here (and bump `DEMO_DATA_VERSION`):
`python -m trials.demo_data --write-eval-data`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEMO_DATA_VERSION = "1"
EVAL_ITEMS_PER_TASK = 200
EVAL_SEED = 0
HELD_OUT_FRACTION = 0.1

NAMES = "Sam Mia Tom Ana Leo Ben Eva Max Zoe Ivy Kim Joe Lia Ray Amy Dan Sue Tim Ada Bob".split()
THINGS = "pens apples coins books cards shells stamps marbles cookies stickers".split()
WORDS = (
    "jar cat lamp door tree fish bird cup hat box sun moon star rain road ship coat ring bell drum milk "
    "bread salt rock leaf seed nest kite boat frog duck goat wolf bear lion rose corn rice egg fork spoon "
    "desk chair bed wall roof farm town king hill lake sand snow wind fire gold iron wood wool silk card "
    "map pen ink book song game ball toy coin key lock bag sock shoe rope"
).split()
LETTERS = "abcdefghijklmnopqrstuvwxyz"
COLORS = "red blue green yellow black white brown pink gray purple".split()
# Everyday scripts (ordered steps); `{o}` is the object, e.g. "the red cup". HellaSwag in miniature: the
# order is world knowledge from pretraining, the object must be carried over from the context.
SCRIPTS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("cup", "bowl", "plate", "glass"), ("picks up {o}", "washes {o}", "dries {o}", "puts {o} on the shelf")),
    (("plant", "flower", "cactus"), ("buys {o}", "carries {o} home", "puts {o} in a pot", "waters {o}")),
    (("letter", "note", "card"), ("writes {o}", "folds {o}", "puts {o} in an envelope", "mails {o}")),
    (("bike", "scooter"), ("finds {o}", "pumps the tires of {o}", "rides {o} to the park", "locks {o}")),
    (("cake", "pie", "bread"), ("mixes the dough for {o}", "bakes {o}", "lets {o} cool", "cuts {o}")),
    (("shirt", "dress", "coat", "scarf"), ("washes {o}", "hangs {o} to dry", "irons {o}", "puts on {o}")),
    (("book", "map", "notebook"), ("takes {o} from the shelf", "opens {o}", "reads {o}", "closes {o}")),
    (("car", "van", "truck"), ("opens the door of {o}", "starts {o}", "drives {o} to town", "parks {o}")),
    (("gift", "box", "parcel"), ("buys {o}", "wraps {o}", "ties a ribbon on {o}", "gives {o} to a friend")),
    (("fence", "door", "gate"), ("cleans {o}", "sands {o}", "paints {o}", "lets {o} dry")),
    (("tent", "hut"), ("carries {o} to the field", "sets up {o}", "sleeps in {o}", "packs up {o}")),
    (("kite", "ball"), ("takes {o} outside", "throws {o} up", "chases {o}", "brings {o} back inside")),
]
FORMAT_INSTRUCTIONS = {  # instruction id -> (phrase, group); at most one instruction per group
    "uppercase": ("in uppercase", "case"),
    "capital": ("with a capital first letter", "case"),
    "twice": ("twice", "repeat"),
    "three_times": ("three times", "repeat"),
    "quotes": ("in double quotes", "wrap"),
    "brackets": ("in square brackets", "wrap"),
    "exclamation": ("followed by an exclamation mark", "end"),
}


@dataclass(frozen=True)
class Item:
    """One instance of a skill, in every form the demo needs."""

    key: str  # content identity: decides the train/eval split for every seed
    statement: str  # plain sentence for pretraining
    question: str
    answer: str
    wrong: str  # a plausible wrong answer (DPO's rejected, MC distractor, checker negative)
    choices: tuple[str, ...] = ()  # multiple choice only: answer and distractors, shuffled
    extra: dict[str, Any] = field(default_factory=dict)  # additional lm-eval doc fields


def _pick_sorted(rng: random.Random, population: list, k: int) -> list:
    return sorted(rng.sample(population, k), key=population.index)


def _number(rng: random.Random, digits: int) -> int:
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


def _addition(rng: random.Random) -> Item:
    a_digits, b_digits = rng.choice([(2, 2), (2, 2), (3, 2), (3, 3)])
    a, b = _number(rng, a_digits), _number(rng, b_digits)
    total = a + b
    wrong = total + rng.choice([-10, -1, 1, 10])
    return Item(
        key=f"sum {min(a, b)} {max(a, b)}",
        statement=f"{a} plus {b} is {total}.",
        question=f"What is {a} plus {b}?",
        answer=str(total),
        wrong=str(wrong),
    )


def _word_problems(rng: random.Random) -> Item:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    count = rng.randint(2, 20)
    start, steps, signature = count, [], []
    for _ in range(rng.choice([2, 3])):
        amount = rng.randint(1, 9)
        if count - amount >= 0 and rng.random() < 0.5:
            count -= amount
            verb = rng.choice(["gives away", "loses", "sells"])
            steps.append(f"{verb} {amount}")
            signature.append(-amount)
        else:
            count += amount
            verb = rng.choice(["buys", "finds", "gets"])
            steps.append(f"{verb} {amount} more")
            signature.append(amount)
    story = f"{name} has {start} {thing}. {name} {steps[0]}." + "".join(
        f" Then {name} {step}." for step in steps[1:]
    )
    wrong = count - signature[-1]  # forgot the last step
    return Item(
        key=f"problem {start} {signature}",
        statement=f"{story} Now {name} has {count} {thing}.",
        question=f"{story} How many {thing} does {name} have now?",
        answer=str(count),
        wrong=str(wrong),
    )


def _number_mc(rng: random.Random) -> Item:
    kind = rng.choice(["largest", "smallest", "even", "sum"])
    if kind == "sum":
        a, b = _number(rng, 2), _number(rng, 2)
        answer = a + b
        options = [answer, *rng.sample([answer - 10, answer - 1, answer + 1, answer + 10], 3)]
        question, statement = f"Which number is {a} plus {b}?", f"{a} plus {b} is {answer}."
        key = f"sum {min(a, b)} {max(a, b)}"
    else:
        tens = rng.sample(range(1, 10), 2)  # close numbers: shared tens digits
        while True:
            options = [10 * rng.choice(tens) + rng.randint(0, 9) for _ in range(4)]
            if len(set(options)) == 4 and (kind != "even" or sum(n % 2 == 0 for n in options) == 1):
                break
        answer = {"largest": max, "smallest": min, "even": lambda ns: next(n for n in ns if n % 2 == 0)}[kind](
            options
        )
        rng.shuffle(options)
        listed = ", ".join(map(str, options[:3]))
        property_ = "even" if kind == "even" else f"the {kind}"
        question = f"Which number is {property_}: {listed} or {options[3]}?"
        statement = f"Of {listed} and {options[3]}, {property_ if kind != 'even' else 'the even one'} is {answer}."
        key = f"{kind} {sorted(options)}"
    choices = [str(n) for n in options]
    rng.shuffle(choices)
    wrong = rng.choice([c for c in choices if c != str(answer)])
    return Item(key, statement, question, str(answer), wrong, tuple(choices))


def _sequence(rng: random.Random) -> Item:
    period = rng.randint(3, 8)
    while True:  # a primitive pattern (not a repetition of a shorter one), letters may repeat inside it
        pattern = [rng.choice(LETTERS[: period + 3]) for _ in range(period)]
        if all(pattern != pattern[p:] + pattern[:p] for p in range(1, period)):
            break
    shown = 2 * period + rng.randint(0, period - 1)
    sequence = [pattern[i % period] for i in range(shown + 4)]
    canonical = min(" ".join(pattern[p:] + pattern[:p]) for p in range(period))
    answer = " ".join(sequence[shown:])
    wrong = " ".join(pattern[(shown + 1 + i) % period] for i in range(4))  # skipped one item
    return Item(
        key=f"pattern {canonical}",
        statement=" ".join(sequence) + ".",
        question=f"Continue the sequence: {' '.join(sequence[:shown])}",
        answer=answer,
        wrong=wrong,
    )


def render_format(word: str, instructions: list[str]) -> str:
    """The response that follows every instruction: case, then repetition, then wrapping, then the ending."""
    text = word.upper() if "uppercase" in instructions else word
    text = text.capitalize() if "capital" in instructions else text
    text = " ".join([text] * (3 if "three_times" in instructions else 2 if "twice" in instructions else 1))
    text = f'"{text}"' if "quotes" in instructions else f"[{text}]" if "brackets" in instructions else text
    return text + "!" if "exclamation" in instructions else text


def _format(rng: random.Random) -> Item:
    word = rng.choice(WORDS)
    groups: dict[str, list[str]] = {}
    for name, (_, group) in FORMAT_INSTRUCTIONS.items():
        groups.setdefault(group, []).append(name)
    chosen_groups = _pick_sorted(rng, list(groups), rng.randint(1, 3))
    instructions = [rng.choice(groups[group]) for group in chosen_groups]
    phrase = ", ".join(FORMAT_INSTRUCTIONS[name][0] for name in instructions)
    dropped = rng.choice(instructions)  # the rejected answer ignores one instruction
    return Item(
        key=f"format {word} {instructions}",
        statement=f"The word {word} {phrase} is {render_format(word, instructions)}",
        question=f"Write the word {word} {phrase}.",
        answer=render_format(word, instructions),
        wrong=render_format(word, [name for name in instructions if name != dropped]),
        extra={"word": word, "instructions": instructions},
    )


def _continuation_mc(rng: random.Random) -> Item:
    script_index = rng.randrange(len(SCRIPTS))
    objects, steps = SCRIPTS[script_index]
    noun, color, other_color = rng.choice(objects), *rng.sample(COLORS, 2)
    name = rng.choice(NAMES)
    done = rng.randint(1, len(steps) - 1)
    told = [step.format(o=f"the {color} {noun}") for step in steps]
    mentioned = [steps[0].format(o=f"the {color} {noun}")] + [step.format(o="it") for step in steps[1:done]]
    context = ", ".join(mentioned[:-1]) + (" and " if done > 1 else "") + mentioned[-1]
    answer = told[done]
    distractors = [
        steps[done].format(o=f"the {other_color} {noun}"),  # right step, wrong object
        told[done + 1] if done + 1 < len(steps) else told[done - 1],  # skips a step / repeats one
        rng.choice([t for i, t in enumerate(told) if i not in (done, done + 1)]),  # out of order
    ]
    distractors = list(dict.fromkeys(d for d in distractors if d != answer))
    while len(distractors) < 3:  # pad with a step of another script, same object
        other_steps = SCRIPTS[(script_index + len(distractors) + 1) % len(SCRIPTS)][1]
        candidate = rng.choice(other_steps).format(o=f"the {color} {noun}")
        if candidate not in distractors and candidate != answer:
            distractors.append(candidate)
    choices = [answer, *distractors]
    rng.shuffle(choices)
    return Item(
        key=f"story {script_index} {color} {noun}",
        statement=f"{name} {', '.join(told[:-1])} and {told[-1]}.",
        question=f"{name} {context}. What does {name} do next?",
        answer=answer,
        wrong=distractors[0],
        choices=tuple(choices),
    )


SKILLS: dict[str, Callable[[random.Random], Item]] = {
    "addition": _addition,
    "word_problems": _word_problems,
    "number_mc": _number_mc,
    "sequence": _sequence,
    "format": _format,
    "continuation_mc": _continuation_mc,
}
TASKS = {f"demo_{skill}": skill for skill in SKILLS}  # lm-eval task name -> skill


def is_held_out(item: Item) -> bool:
    """Whether an item belongs to the eval set: a fixed hash of its content key, the same for every seed."""
    digest = hashlib.sha256(f"{DEMO_DATA_VERSION}|{item.key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < HELD_OUT_FRACTION * 2**64


def _draw(skill: str, rng: random.Random, held_out: bool) -> Item:
    while True:
        item = SKILLS[skill](rng)
        if is_held_out(item) == held_out:
            return item


def _training_items(n: int, seed: int, purpose: str) -> list[tuple[str, Item]]:
    """`n` training items, skills in equal shares, interleaved (skill i % 6), from one seeded stream."""
    rng = random.Random(f"{purpose}|{seed}")
    skills = list(SKILLS)
    return [(skills[i % len(skills)], _draw(skills[i % len(skills)], rng, held_out=False)) for i in range(n)]


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def pretraining_corpus(n_texts: int, seed: int) -> list[str]:
    """Plain sentences of every skill (no Q/A format), for the tokenizer and the base model."""
    return [item.statement for _, item in _training_items(n_texts, seed, "pretrain")]


def sft_examples(n: int, seed: int) -> list[dict]:
    """Conversational prompt-completion examples (TRL's format), with the skill they teach."""
    return [
        {"prompt": _user(item.question), "completion": _assistant(item.answer), "skill": skill}
        for skill, item in _training_items(n, seed, "sft")
    ]


def preference_examples(n: int, seed: int) -> list[dict]:
    """Conversational preference pairs (TRL's format): the right answer chosen, a plausible wrong one rejected."""
    return [
        {"prompt": _user(item.question), "chosen": _assistant(item.answer), "rejected": _assistant(item.wrong)}
        for _, item in _training_items(n, seed, "preference")
    ]


def eval_items(task: str, n: int, seed: int) -> list[dict]:
    """`n` distinct held-out lm-eval docs of a demo task (`demo_addition`, ...), never seen in training."""
    if task not in TASKS:
        raise ValueError(f"unknown demo task {task!r}; expected one of {sorted(TASKS)}")
    rng = random.Random(f"eval|{task}|{seed}")
    docs: dict[str, dict] = {}
    while len(docs) < n:
        item = _draw(TASKS[task], rng, held_out=True)
        doc = {"question": item.question, "answer": item.answer, **item.extra}
        if item.choices:
            doc |= {"choices": list(item.choices), "label": item.choices.index(item.answer)}
        docs.setdefault(item.question, doc)
    return list(docs.values())


def write_eval_data(folder: Path) -> list[Path]:
    """Write the bundled eval set, one `<task>.jsonl` per task, byte-for-byte reproducible."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for task in TASKS:
        path = folder / f"{task}.jsonl"
        docs = eval_items(task, EVAL_ITEMS_PER_TASK, EVAL_SEED)
        path.write_text("".join(json.dumps(doc, sort_keys=True) + "\n" for doc in docs), encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    from trials.demo_tasks import DEMO_DATA_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-eval-data", action="store_true", help=f"regenerate {DEMO_DATA_DIR}")
    args = parser.parse_args()
    if not args.write_eval_data:
        parser.error("nothing to do; pass --write-eval-data")
    for path in write_eval_data(DEMO_DATA_DIR):
        print(path)


if __name__ == "__main__":
    main()
