"""Analysis of a learning-rate × batch-size sweep: how each task's and category's score depends on lr/bs.

`analyze(source, output_dir)` is the whole API (the CLI's `sweeper analyze` calls it); `load_results` reads any
results source into the tidy frame of ARCHITECTURE.md. Depends on pandas, numpy, scipy and matplotlib only, never
on torch, Ray (except lazily, to read a Ray experiment) or `trials/`.

The rooms, in the order the data flow through them: the results format and its sources (schema.py, load.py,
wandb_source.py), `estimates/` (every estimate and its CI), `design/` (the follow-up `sweeper plan` proposes),
`figures/` and `report/` (the CSVs, figures and report.md that `analyze` writes).

The two are imported on first use (PEP 562), so `import analysis.schema` or a CLI that merely mentions the package
does not pay for matplotlib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.load import load_results
    from analysis.report import AnalysisResult, analyze

__all__ = ["AnalysisResult", "analyze", "load_results"]
_HOMES = {"AnalysisResult": "analysis.report", "analyze": "analysis.report", "load_results": "analysis.load"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
