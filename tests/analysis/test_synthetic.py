"""Planted truths: a cliff that follows the learning rate falls at the same rate at every batch size."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.synthetic import PlantedTask


def test_a_cliff_that_follows_the_learning_rate_falls_above_its_rate_at_every_batch_size() -> None:
    smooth = PlantedTask("c", best_z=-5.0, curvature=0.1)
    steep = PlantedTask("c", best_z=-5.0, curvature=0.1, cliff=1.5, cliff_above_lr=1e-3)
    for batch_size in (4.0, 64.0):
        rates = np.array([1e-4, 1e-3, 1e-2])
        sizes = np.full(3, batch_size)
        fall = smooth.expected_score(rates, sizes) - steep.expected_score(rates, sizes)
        assert fall == pytest.approx([0.0, 0.0, 1.5]), "1.5 per decade of lr above 1e-3, nothing below"
