"""Long-term weights: paper formula with raw reliabilities, weights sum to at most 1."""

from __future__ import annotations

import numpy as np
import pytest

from flow.errors import FlowError
from flow.longterm import long_term_weights


def test_paper_formula_raw_reliabilities():
    c1 = np.array([[1.0, 0.0, 0.5, 0.2]])
    c2 = np.array([[1.0, 1.0, 1.0, 0.3]])
    c4 = np.array([[1.0, 1.0, 1.0, 0.6]])
    weights = long_term_weights({4: c4, 1: c1, 2: c2})
    assert list(weights) == [1, 2, 4]
    np.testing.assert_allclose(weights[1], c1)
    np.testing.assert_allclose(weights[2], [[0.0, 1.0, 0.5, 0.1]])
    # Raw c's subtracted: c4 - c1 - c2 (the in-place variant would give 0.6-0.2-0.1=0.3).
    np.testing.assert_allclose(weights[4], [[0.0, 0.0, 0.0, 0.1]], atol=1e-7)


def test_weights_sum_at_most_one():
    rng = np.random.default_rng(1)
    maps = {offset: rng.random((24, 32)) for offset in (1, 2, 4, 8)}
    weights = long_term_weights(maps)
    total = sum(weights.values())
    assert np.all(total <= 1.0 + 1e-6)
    assert all(w.dtype == np.float32 and w.min() >= 0 for w in weights.values())


def test_bad_input():
    with pytest.raises(FlowError, match="at least one"):
        long_term_weights({})
    with pytest.raises(FlowError, match="positive"):
        long_term_weights({0: np.ones((2, 2))})
    with pytest.raises(FlowError, match="one size"):
        long_term_weights({1: np.ones((2, 2)), 2: np.ones((3, 2))})
