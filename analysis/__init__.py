"""Analysis of a learning-rate × batch-size sweep: how each task's and category's score depends on lr/bs.

`analyze(source, output_dir)` is the whole API (the CLI's `sweeper analyze` calls it); `load_results` reads any
results source into the tidy frame of ARCHITECTURE.md. Depends on pandas/numpy/scipy/statsmodels/matplotlib
only, never on torch, Ray (except lazily, to read a Ray experiment) or `trials/`.
"""

from analysis.load import load_results
from analysis.report import AnalysisResult, analyze

__all__ = ["AnalysisResult", "analyze", "load_results"]
