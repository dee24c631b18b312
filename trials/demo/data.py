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
`python -m trials.demo.data --write-eval-data`.
"""

from __future__ import annotations

import argparse
import functools
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

# fmt: off
NAMES = ["Sam", "Mia", "Tom", "Ana", "Leo", "Ben", "Eva", "Max", "Zoe", "Ivy",
         "Kim", "Joe", "Lia", "Ray", "Amy", "Dan", "Sue", "Tim", "Ada", "Bob"]
THINGS = ["pens", "apples", "coins", "books", "cards", "shells", "stamps", "marbles", "cookies", "stickers"]
WORDS = ["jar", "cat", "lamp", "door", "tree", "fish", "bird", "cup", "hat", "box", "sun", "moon", "star",
         "rain", "road", "ship", "coat", "ring", "bell", "drum", "milk", "bread", "salt", "rock", "leaf", "seed",
         "nest", "kite", "boat", "frog", "duck", "goat", "wolf", "bear", "lion", "rose", "corn", "rice", "egg",
         "fork", "spoon", "desk", "chair", "bed", "wall", "roof", "farm", "town", "king", "hill", "lake", "sand",
         "snow", "wind", "fire", "gold", "iron", "wood", "wool", "silk", "card", "map", "pen", "ink", "book",
         "song", "game", "ball", "toy", "coin", "key", "lock", "bag", "sock", "shoe", "rope"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
COLORS = ["red", "blue", "green", "yellow", "black", "white", "brown", "pink", "gray", "purple"]
# HellaSwag in miniature: every object has its own fixed order of actions (world knowledge, the same for every
# seed). Objects are Zipf-frequent in training and uniform in eval, so the long tail is what is measured.
OBJECTS = ["cup", "lamp", "box", "chair", "table", "door", "bag", "hat", "coat", "shoe", "bowl", "plate", "jar",
           "vase", "clock", "kite", "ball", "drum", "bell", "key", "lock", "rope", "sock", "desk", "bed", "fork",
           "spoon", "pot", "pan", "bike", "cart", "fan", "mug", "tray", "rug", "sign", "map", "card", "boat", "sled"]
ACTIONS = ["buys", "cleans", "paints", "dries", "checks", "fixes", "moves", "opens", "closes", "fills", "wraps",
           "lifts"]
# fmt: on
SCRIPT_LENGTH = 5
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
    uses: tuple[str, ...] = ()  # keys of other skills' items inside this one (a word problem's sums)


def _pick_sorted(rng: random.Random, population: list, k: int) -> list:
    return sorted(rng.sample(population, k), key=population.index)


def _number(rng: random.Random, digits: int) -> int:
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


def _sum_key(a: int, b: int) -> str:
    """One key per unordered sum, shared by every skill that states it ("47 plus 23 is 70")."""
    return f"sum {min(a, b)} {max(a, b)}"


def _addition(rng: random.Random, for_eval: bool) -> Item:
    a, b = _number(rng, 2), _number(rng, 2)
    total = a + b
    wrong = total + rng.choice([-10, -1, 1, 10])
    return Item(
        key=_sum_key(a, b),
        statement=f"{a} plus {b} is {total}.",
        question=f"What is {a} plus {b}?",
        answer=str(total),
        wrong=str(wrong),
    )


def _word_problems(rng: random.Random, for_eval: bool) -> Item:
    """A two-step problem answered with a worked solution whose last number is the answer, as in GSM8K."""
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    count = start = rng.randint(10, 50)
    phrases, work, signature, sums = [], [], [], []
    for _ in range(2):  # each step is a 2-digit addition or subtraction, carries and borrows included
        amount = rng.randint(2, 19)
        previous = count
        if count - amount >= 0 and (rng.random() < 0.5 or count + amount > 99):
            count -= amount
            phrases.append(f"{rng.choice(['gives away', 'loses', 'sells'])} {amount}")
            work.append(f"{previous} minus {amount} is {count}.")
            signature.append(-amount)
            sums.append(_sum_key(count, amount))
        else:
            count += amount
            phrases.append(f"{rng.choice(['buys', 'finds', 'gets'])} {amount} more")
            work.append(f"{previous} plus {amount} is {count}.")
            signature.append(amount)
            sums.append(_sum_key(previous, amount))
    story = f"{name} has {start} {thing}, {phrases[0]} and {phrases[1]}."
    solution = " ".join(work)
    slip = count + rng.choice([-1, 1])  # the last step miscalculated
    wrong = " ".join([*work[:-1], work[-1].rsplit(" ", 1)[0] + f" {slip}."])
    return Item(
        key=f"problem {start} {signature}",
        statement=f"{story} {solution} So {name} has {count} {thing}.",
        uses=tuple(sums),
        question=f"{story} How many now?",
        answer=solution,
        wrong=wrong,
    )


def _number_mc(rng: random.Random, for_eval: bool) -> Item:
    kind = rng.choice(["largest", "smallest", "even", "sum"])
    if kind == "sum":
        a, b = _number(rng, 2), _number(rng, 2)
        answer = a + b
        options = [answer, *rng.sample([answer - 10, answer - 1, answer + 1, answer + 10], 3)]
        question, statement = f"Which number is {a} plus {b}?", f"{a} plus {b} is {answer}."
        key = _sum_key(a, b)
    else:
        tens = rng.sample(range(1, 10), 2)  # close numbers: shared tens digits
        while True:
            options = [10 * rng.choice(tens) + rng.randint(0, 9) for _ in range(4)]
            if len(set(options)) == 4 and (kind != "even" or sum(n % 2 == 0 for n in options) == 1):
                break
        answer = {"largest": max, "smallest": min, "even": lambda ns: next(n for n in ns if n % 2 == 0)}[kind](options)
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


def _sequence(rng: random.Random, for_eval: bool) -> Item:
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


def _format(rng: random.Random, for_eval: bool) -> Item:
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


@functools.cache
def script(noun: str) -> tuple[str, ...]:
    """The fixed order of actions done to `noun`: world knowledge, the same for every seed."""
    return tuple(random.Random(f"script|{noun}").sample(ACTIONS, SCRIPT_LENGTH))


def _continuation_mc(rng: random.Random, for_eval: bool) -> Item:
    noun = rng.choice(OBJECTS) if for_eval else rng.choices(OBJECTS, _ZIPF_WEIGHTS)[0]
    actions, name, color = script(noun), rng.choice(NAMES), rng.choice(COLORS)
    done = rng.randint(1, SCRIPT_LENGTH - 1)
    told = [f"{actions[0]} the {color} {noun}", *(f"{action} it" for action in actions[1:])]
    context = ", ".join(told[: done - 1]) + (" and " if done > 1 else "") + told[done - 1]
    # Close distractors: what follows the last action for other objects, and this object's other actions.
    elsewhere = {
        script(other)[script(other).index(actions[done - 1]) + 1]
        for other in OBJECTS
        if actions[done - 1] in script(other)[:-1]
    } - set(actions)
    distractors = rng.sample(sorted(elsewhere), min(1, len(elsewhere)))
    distractors += rng.sample([a for a in actions if a != actions[done]], 3 - len(distractors))
    choices = [f"{action} it" for action in [actions[done], *distractors]]
    wrong = choices[1]
    rng.shuffle(choices)
    return Item(
        key=f"story {noun} {color} {name}",
        statement=f"{name} {', '.join(told[:-1])} and {told[-1]}.",
        question=f"{name} {context}. What does {name} do next?",
        answer=f"{actions[done]} it",
        wrong=wrong,
        choices=tuple(choices),
    )


SKILLS: dict[str, Callable[[random.Random, bool], Item]] = {
    "addition": _addition,
    "word_problems": _word_problems,
    "number_mc": _number_mc,
    "sequence": _sequence,
    "format": _format,
    "continuation_mc": _continuation_mc,
}
TASKS = {f"demo_{skill}": skill for skill in SKILLS}  # lm-eval task name -> skill
# Shares of each skill. Pretraining leans on arithmetic: a 2-layer model needs ~1500 steps of mostly-addition
# data before it finds the carrying algorithm; the pattern skills need far less.
PRETRAIN_MIX = {"addition": 3, "word_problems": 2, "number_mc": 1, "sequence": 1, "format": 1, "continuation_mc": 1}
SFT_MIX = dict.fromkeys(SKILLS, 1)
_ZIPF_WEIGHTS = [1 / rank for rank in range(1, len(OBJECTS) + 1)]


def is_held_out(key: str) -> bool:
    """Whether a content key belongs to the eval set: a fixed hash of it, the same for every seed."""
    digest = hashlib.sha256(f"{DEMO_DATA_VERSION}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < HELD_OUT_FRACTION * 2**64


def _draw(skill: str, rng: random.Random, held_out: bool) -> Item:
    """An eval item (held-out key) or a training item (neither its key nor any key it uses is held out)."""
    while True:
        item = SKILLS[skill](rng, held_out)
        if held_out and is_held_out(item.key):
            return item
        if not held_out and not any(map(is_held_out, (item.key, *item.uses))):
            return item


def _training_items(n: int, seed: int, purpose: str, mix: dict[str, int]) -> list[tuple[str, Item]]:
    """`n` training items from one seeded stream, skills interleaved in the exact proportions of `mix`."""
    rng = random.Random(f"{purpose}|{seed}")
    cycle = [skill for skill, share in mix.items() for _ in range(share)]
    return [(cycle[i % len(cycle)], _draw(cycle[i % len(cycle)], rng, held_out=False)) for i in range(n)]


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def pretraining_corpus(n_texts: int, seed: int) -> list[str]:
    """Plain sentences of every skill (no Q/A format), for the tokenizer and the base model."""
    return [item.statement for _, item in _training_items(n_texts, seed, "pretrain", PRETRAIN_MIX)]


def sft_examples(n: int, seed: int) -> list[dict]:
    """Conversational prompt-completion examples (TRL's format), with the skill they teach."""
    return [
        {"prompt": _user(item.question), "completion": _assistant(item.answer), "skill": skill}
        for skill, item in _training_items(n, seed, "sft", SFT_MIX)
    ]


def preference_examples(n: int, seed: int) -> list[dict]:
    """Conversational preference pairs (TRL's format): the right answer chosen, a plausible wrong one rejected."""
    return [
        {"prompt": _user(item.question), "chosen": _assistant(item.answer), "rejected": _assistant(item.wrong)}
        for _, item in _training_items(n, seed, "preference", SFT_MIX)
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
    from trials.demo.tasks import DEMO_DATA_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-eval-data", action="store_true", help=f"regenerate {DEMO_DATA_DIR}")
    args = parser.parse_args()
    if not args.write_eval_data:
        parser.error("nothing to do; pass --write-eval-data")
    for path in write_eval_data(DEMO_DATA_DIR):
        print(path)


if __name__ == "__main__":
    main()
