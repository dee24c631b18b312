"""The analysis' one error: its input is not a results table it can read.

`AnalysisInputError` subclasses `ValueError` (bad data, not a bug) and its message always names the columns or
rows at fault and the fix, so the CLI can print it on one line and exit 2.
"""

from __future__ import annotations


class AnalysisInputError(ValueError):
    """The results source is missing, malformed, or breaks the results format of ARCHITECTURE.md."""
