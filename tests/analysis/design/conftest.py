"""The designer's tests share one planted study per module."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.analysis.design.helpers import planted_study


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    """The planted study with its optimum at BEST, nothing diverged."""
    return planted_study()
