"""Comparing variants on a machine others use: interleaved rounds, a ratio within each round, its median and CI.

A variant measured in one long turn and another in the next see different neighbours: load that comes and goes
between turns lands on one and not the other, and their ratio moves with it (issue 27: the same code gave 1.01 and
0.79). Here the variants run one after the other in many short rounds, in a rotating order (A B C D, B C D A, ...),
so slow drift reaches every variant of a round alike and no variant always runs first or last; the ratio is taken
within each round and summarised by its median over rounds, with a distribution-free 95% confidence interval (the
binomial order-statistic interval of the median: no normality assumed, a few disturbed rounds cannot move it far).

Each variant runs in its own process (`Worker`), kept warm across rounds and fed one round at a time over a pipe:
the processes never run at once, so no variant competes with another, and each keeps its own memory peak and state;
a round costs only its own work, not the imports and start-up of a fresh process, which is what makes many short
rounds affordable. `serve` is the child's side of that pipe.

`LoadMonitor` samples `os.getloadavg()` during the measurement, and `cpu_burner` keeps one core busy (a spinning
subprocess, bounded in time, killed on exit) to check that a ratio holds under load.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


def rotations(names: Sequence[str], rounds: int) -> Iterator[list[str]]:
    """The order of each round: round r starts at the r-th name (A B C, B C A, C A B, A B C, ...)."""
    for index in range(rounds):
        shift = index % len(names)
        yield [*names[shift:], *names[:shift]]


@dataclass(frozen=True)
class MedianCI:
    median: float
    low: float
    high: float
    confidence: float
    """The interval's exact coverage (≥ the level asked for), from the binomial distribution of ranks."""
    count: int

    def __str__(self) -> str:
        return f"{self.median:.2f} [{self.low:.2f}, {self.high:.2f}]"


def median_ci(values: Sequence[float], level: float = 0.95) -> MedianCI:
    """The median and its distribution-free confidence interval [x_(k), x_(n+1-k)] (sorted values, 1-based): the
    widest k whose coverage 1 - 2·P(Binomial(n, 1/2) < k) is still ≥ `level`. With fewer than 6 values no interval
    reaches 95%, and the range (min, max) is returned with its real coverage."""
    ordered = sorted(values)
    count = len(ordered)
    if count == 0:
        return MedianCI(math.nan, math.nan, math.nan, 0.0, 0)

    def coverage(k: int) -> float:  # P(x_(k) <= median <= x_(n+1-k))
        return 1 - 2 * sum(math.comb(count, i) for i in range(k)) / 2**count

    k = 1
    while k + 1 <= (count + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return MedianCI(statistics.median(ordered), ordered[k - 1], ordered[count - k], coverage(k), count)


class LoadMonitor:
    """The 1-minute load average, sampled every `period` seconds on a thread while the block runs."""

    def __init__(self, period: float = 2.0) -> None:
        self.period = period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.period):
                return

    def __enter__(self) -> LoadMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        if not self.samples:
            return "nan"
        return f"{statistics.mean(self.samples):.2f} (max {max(self.samples):.2f})"


@contextlib.contextmanager
def cpu_burner(active: bool, limit_seconds: float) -> Iterator[None]:
    """With `active`, one process spinning on one core for the block's duration: at most `limit_seconds` (it stops
    itself then, should this process die without killing it), killed when the block ends."""
    if not active:
        yield
        return
    spin = f"import time\nend = time.monotonic() + {limit_seconds}\nwhile time.monotonic() < end:\n    pass\n"
    burner = subprocess.Popen([sys.executable, "-c", spin])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


class Worker:
    """A child process that answers one JSON request per line with one JSON line (its side: `serve`)."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        """The child's stderr (the libraries' chatter) goes to `log`, shown if the child dies; `env` is added to this
        process's environment for it."""
        self.command, self.log = command, log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as stderr:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
                env={**os.environ, **(env or {})},
            )  # fmt: skip

    def ask(self, request: dict) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            raise SystemExit(f"{' '.join(self.command)} died (exit code {code}):\n{self.log.read_text()[-3000:]}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def serve(handle: Callable[[dict], dict]) -> None:
    """The child's loop: one request per stdin line, one JSON answer per line on the real stdout; whatever the
    libraries print goes to stderr, so it cannot corrupt the answers."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        answers.write(json.dumps(handle(json.loads(line))) + "\n")
        answers.flush()


def interleave(workers: dict[str, Worker], rounds: int, request: dict, warmup: int = 1) -> dict[str, list[dict]]:
    """`warmup` rounds first (discarded: first-call costs), then `rounds` rounds in rotating order; each variant's
    answers in round order, so answers[a][r] and answers[b][r] come from the same round."""
    answers: dict[str, list[dict]] = {name: [] for name in workers}
    for index, order in enumerate(rotations(list(workers), warmup + rounds)):
        for name in order:
            answer = workers[name].ask({**request, "round": index})
            if index >= warmup:
                answers[name].append(answer)
    return answers


def round_ratios(answers: dict[str, list[dict]], numerator: str, denominator: str, key: str) -> list[float]:
    """numerator's `key` ÷ denominator's, round by round."""
    return [top[key] / bottom[key] for top, bottom in zip(answers[numerator], answers[denominator])]
