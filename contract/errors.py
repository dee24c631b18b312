"""The one exception family of ratio-sweeper.

A `SweeperError` is the user's to fix (a bad spec, a missing path, a sweep dir in the way): the CLI prints its
message on one line and exits with its `exit_code` (2; 3 when only the analysis at a sweep's end failed; 130 for an
interrupted sweep), no traceback.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SweeperError(Exception):
    """Base of every error a user can fix from the message alone."""

    exit_code = 2


class SpecError(SweeperError):
    """The sweep spec is invalid; `problems` holds one `field.path: what is wrong; the fix` line each."""

    def __init__(self, problems: list[str], source: str = "spec") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))


class SweepInterrupted(SweeperError):
    """The sweep was stopped (Ctrl-C, SIGTERM) before every trial ended; what finished is saved."""

    exit_code = 130


class AnalysisFailed(SweeperError):
    """Every trial of the sweep finished and is saved, but the analysis at its end raised (its cause is chained):
    the message names the error and the `sweeper analyze` command that reruns the analysis alone."""

    exit_code = 3


class OutputDirError(SweeperError):
    """The output directory holds another sweep, or no sweep where one is expected."""


class BatchSizeMismatch(SweeperError):
    """A trial's optimizer would see another batch than its grid point names (a process that sees several GPUs,
    a worker count the split did not plan for): the trial fails before its first step, recorded `failed`."""
