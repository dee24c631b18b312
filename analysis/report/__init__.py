"""The report: `analyze` (analyze.py) writes every table, figure and report.md; tables.py builds the CSVs of the
fits, findings.py puts each estimate in words, text.py writes report.md (the Answer first)."""

from analysis.report.analyze import AnalysisResult, analyze

__all__ = ["AnalysisResult", "analyze"]
