"""The figure tests draw from one planted analysis, made once per session."""

from __future__ import annotations

import pytest

from tests.analysis.figures.planted import Analysed, planted_analysis


@pytest.fixture(scope="session")
def analysed() -> Analysed:
    return planted_analysis()
